"""`nbdojo doctor`: host checks and a probe from inside a real sandboxed kernel (and, on a GPU machine, CUDA)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nbdojo.tools.doctor import kernel_checks, probe_kernel, secret_paths
from nbdojo.kernel.gpus import gpu_indices

pytestmark = pytest.mark.kernel

SECRET = "sk-doctor-canary-7f3a"


def doctor(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbdojo.cli", "doctor", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **env}, timeout=300)


def by_name(checks) -> dict:
    return {c["name"]: c for c in checks}


def test_doctor_probes_a_sandboxed_kernel(prepared_home):
    proc = doctor("--json", OPENAI_API_KEY=SECRET)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads(proc.stdout)
    checks = by_name(report["checks"])
    for name in ("sandbox", "kernel network", "kernel environment", "kernel view", "kernel caps"):
        assert checks[name]["ok"] is True, checks[name]
    found = report["kernel"]
    assert found["network"] != "reachable" and found["interfaces"] in ([], ["lo"])
    assert "OPENAI_API_KEY" not in found["host_env_seen"]
    assert found["host_paths_seen"] == []
    assert found["uid"] == (65534 if os.geteuid() == 0 else os.getuid())
    assert SECRET not in proc.stdout  # the probe gets hashes of values, never the values


def test_the_answers_are_among_the_paths_probed(prepared_home, tmp_path):
    paths = secret_paths(tmp_path)
    assert str(prepared_home / "data" / "loan-default" / "private") in paths


def test_an_unsandboxed_probe_is_reported_as_leaky(prepared_home):
    """The same checks fail when the kernel is not sandboxed: they can tell."""
    os.environ["NBDOJO_DOCTOR_CANARY"] = SECRET
    try:
        found = probe_kernel(sandbox=False)
    finally:
        os.environ.pop("NBDOJO_DOCTOR_CANARY")
    assert "NBDOJO_DOCTOR_CANARY" in found["host_env_seen"]
    assert str(prepared_home / "data" / "loan-default" / "private") in found["host_paths_seen"]
    checks = {c.name: c for c in kernel_checks(found, sandbox=True)}
    assert checks["kernel environment"].ok is False and "NBDOJO_DOCTOR_CANARY" in checks["kernel environment"].detail
    assert checks["kernel view"].ok is False
    assert checks["kernel network"].ok is False


def test_doctor_table_and_exit_code(prepared_home):
    proc = doctor("--no-kernel")
    assert proc.returncode == 0, proc.stderr
    assert "sandbox" in proc.stdout and "caps" in proc.stdout and "kernel network" not in proc.stdout


def test_a_gpu_the_machine_lacks_is_a_one_line_error():
    missing = str(max(gpu_indices(), default=-1) + 1)
    proc = doctor("--gpus", missing)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [f"error: GPU {missing} is not on this machine "
                                                f"(its GPUs: {', '.join(map(str, gpu_indices())) or 'none'})."]


def test_without_a_gpu_torch_runs_on_the_cpu_inside():
    if gpu_indices():
        pytest.skip("this machine has GPUs: see the CUDA test")
    found = probe_kernel()
    assert found["gpus_given"] == [] and found["cuda_available"] is False and found["cuda_visible_devices"] == ""
    assert found["torch"]


@pytest.mark.skipif(not gpu_indices(), reason="no NVIDIA GPU on this machine")
def test_cuda_inside_the_sandboxed_kernel():
    """Each GPU given is usable from the sandbox (a matmul on it); a kernel given none sees none."""
    found = probe_kernel()
    assert found["cuda_available"], found
    assert [g["index"] for g in found["gpus"]] == list(range(len(gpu_indices())))
    assert all(g["matmul_ok"] for g in found["gpus"]), found["gpus"]
    assert found["network"] != "reachable"
    hidden = probe_kernel(gpus=[])
    assert hidden["cuda_available"] is False
