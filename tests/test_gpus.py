"""GPUs named by nvidia-smi index, given to a kernel by device node and UUID (a fake nvidia-smi stands in here)."""

from __future__ import annotations

import os
import stat

import pytest

from nbdojo import briefing
from nbdojo.errors import ConfigError
from nbdojo.kernel.gpus import checked_gpus, chosen, cuda_env, device_nodes, gpu_indices, machine_gpus, sandbox_grant
from nbdojo.kernel.sandbox import SandboxPolicy, bwrap_args, sandbox_env

H100 = "NVIDIA H100 80GB HBM3, 81559 MiB"


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """Put an `nvidia-smi` on PATH that prints the given CSV rows (index, minor, uuid, name, memory)."""
    def install(rows: list[str]) -> None:
        script = tmp_path / "bin" / "nvidia-smi"
        script.parent.mkdir(exist_ok=True)
        body = "\n".join(f"echo '{row}'" for row in rows)
        script.write_text(f"#!/bin/sh\ncase \"$*\" in *--query-gpu=index,minor_number*) ;; *) exit 9;; esac\n{body}\n")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", f"{script.parent}:{os.environ['PATH']}")
        machine_gpus.cache_clear()

    yield install
    machine_gpus.cache_clear()


def test_indices_are_nvidia_smis_and_minors_may_differ(fake_smi):
    fake_smi([f"0, 1, GPU-aaaa, {H100}", f"1, 0, GPU-bbbb, {H100}"])
    assert gpu_indices() == [0, 1]
    assert [g.minor for g in chosen([1, 0])] == [0, 1]
    assert chosen([0])[0].label == H100


def test_a_sandboxed_kernel_names_its_gpus_by_uuid(fake_smi):
    fake_smi([f"0, 0, GPU-aaaa, {H100}", f"1, 1, GPU-bbbb, {H100}", f"2, 2, GPU-cccc, {H100}"])
    assert cuda_env([2, 0], sandboxed=True) == {"CUDA_VISIBLE_DEVICES": "GPU-cccc,GPU-aaaa",
                                                "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    assert cuda_env([], sandboxed=True) == {"CUDA_VISIBLE_DEVICES": ""}


def test_the_grant_travels_in_the_launcher_policy(fake_smi, tmp_path):
    fake_smi([f"0, 0, GPU-aaaa, {H100}", f"1, 1, GPU-bbbb, {H100}"])
    policy = SandboxPolicy(workspace=str(tmp_path), **sandbox_grant([1]))
    again = SandboxPolicy.from_json(policy.to_args()[1])
    assert again == policy and again.gpus == (1,)
    assert sandbox_env(again)["CUDA_VISIBLE_DEVICES"] == "GPU-bbbb"


def test_without_uuids_inside_counts_from_zero_and_outside_keeps_host_indices(fake_smi):
    fake_smi([f"0, [N/A], [N/A], {H100}", f"1, [N/A], [N/A], {H100}", f"2, [N/A], [N/A], {H100}"])
    assert cuda_env([1, 2], sandboxed=True)["CUDA_VISIBLE_DEVICES"] == "0,1"
    assert cuda_env([1, 2], sandboxed=False)["CUDA_VISIBLE_DEVICES"] == "1,2"
    assert [g.minor for g in chosen([2])] == [2]


def test_a_missing_gpu_is_a_config_error(fake_smi):
    fake_smi([f"0, 0, GPU-aaaa, {H100}"])
    assert checked_gpus(None) == [0] and checked_gpus([0]) == [0] and checked_gpus([]) == []
    with pytest.raises(ConfigError, match=r"^GPU 3 is not on this machine \(its GPUs: 0\)\.$"):
        checked_gpus([3])


def test_hardware_briefing_names_the_given_gpus(fake_smi):
    fake_smi([f"0, 0, GPU-aaaa, {H100}", "1, 1, GPU-bbbb, NVIDIA A10, 24564 MiB"])
    text = briefing.hardware(gpu_indices=[1])
    assert "GPUs: NVIDIA A10, 24564 MiB" in text and "H100" not in text
    assert "GPUs: none" in briefing.hardware(gpu_indices=[])


def test_no_nvidia_smi_and_no_nodes_means_no_gpu(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    machine_gpus.cache_clear()
    try:
        if not any(p.startswith("nvidia") and p[6:].isdigit() for p in os.listdir("/dev")):
            assert gpu_indices() == [] and device_nodes([]) == []
    finally:
        machine_gpus.cache_clear()


def test_library_path_keeps_visible_folders_and_the_driver_for_a_gpu_kernel(tmp_path, monkeypatch):
    driver = tmp_path / "nvidia" / "lib64"
    driver.mkdir(parents=True)
    (driver / "libcuda.so.1").write_bytes(b"")
    secret = tmp_path / "secret-libs"
    secret.mkdir()
    monkeypatch.setenv("LD_LIBRARY_PATH", f"/usr/lib:{secret}:{driver}")
    (tmp_path / "ws").mkdir()
    cpu = SandboxPolicy(workspace=str(tmp_path / "ws"))
    gpu = SandboxPolicy(workspace=str(tmp_path / "ws"), gpus=(0,))
    assert sandbox_env(cpu)["LD_LIBRARY_PATH"] == "/usr/lib"
    assert sandbox_env(gpu)["LD_LIBRARY_PATH"] == f"/usr/lib:{driver}"
    bound = bwrap_args(gpu, drop_to_uid=True)
    assert str(driver) in bound and str(secret) not in bound
    assert str(driver) not in bwrap_args(cpu, drop_to_uid=True)
