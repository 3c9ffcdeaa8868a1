"""The sandbox policy, the launcher command and the no-sandbox path."""

from __future__ import annotations

import os

import nbformat
import pytest

from nbdojo import briefing
from nbdojo.env import DojoEnv
from nbdojo.errors import SandboxError
from nbdojo.kernel.launcher import command
from nbdojo.kernel.sandbox import SandboxPolicy, bwrap_args, launcher_argv, sandbox_env


def policy(tmp_path, **kw) -> SandboxPolicy:
    (tmp_path / "ws").mkdir(exist_ok=True)
    (tmp_path / "public").mkdir(exist_ok=True)
    return SandboxPolicy(workspace=str(tmp_path / "ws"), readonly=(str(tmp_path / "public"),), **kw)


def pairs(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args) if a == flag]


def test_only_the_chosen_folders_are_mounted(tmp_path):
    args = bwrap_args(policy(tmp_path), drop_to_uid=True)
    assert str(tmp_path / "public") in pairs(args, "--ro-bind")
    assert str(tmp_path / "ws") in pairs(args, "--bind")
    assert str(tmp_path) not in pairs(args, "--bind") + pairs(args, "--ro-bind")
    assert "/root" not in pairs(args, "--bind") + pairs(args, "--ro-bind")
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--new-session", "--clearenv"):
        assert flag in args
    # Every parent of a mount is made 0755 so the unprivileged uid can reach it.
    dirs = pairs(args, "--dir")
    assert str(tmp_path) in dirs


def test_network_can_be_allowed_explicitly(tmp_path):
    assert "--unshare-net" not in bwrap_args(policy(tmp_path, network=True), drop_to_uid=True)


def test_environment_is_an_allow_list(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("HF_TOKEN", "hf-secret")
    monkeypatch.setenv("LANG", "C.UTF-8")
    env = sandbox_env(policy(tmp_path, gpus=(1, 3), env={"EXTRA": "1"}))
    assert "OPENAI_API_KEY" not in env and "HF_TOKEN" not in env
    # Only the two given GPUs exist inside the sandbox, so CUDA counts them from 0.
    assert env["CUDA_VISIBLE_DEVICES"] == "0,1" and env["EXTRA"] == "1" and env["LANG"] == "C.UTF-8"
    assert "sk-secret" not in " ".join(bwrap_args(policy(tmp_path), drop_to_uid=True))


def test_policy_round_trips_through_the_launcher_argument(tmp_path):
    p = policy(tmp_path, gpus=(0,), memory_bytes=123, cgroup_name="x")
    argv = launcher_argv(p, ["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    assert argv[1:3] == ["-m", "nbdojo.kernel.launcher"] and argv[5] == "--"
    assert SandboxPolicy.from_json(argv[4]) == p


def test_as_root_the_kernel_drops_to_an_unprivileged_uid(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only meaningful as root")
    cmd = command(policy(tmp_path), ["python", "-c", "pass"])
    sep = cmd.index("--")
    assert "setpriv" in cmd[sep + 1] and "--reuid=65534" in cmd


def test_missing_bubblewrap_is_a_clear_error(loan_default_data, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap anywhere
    with pytest.raises(SandboxError, match="apt-get install bubblewrap.*--no-sandbox"):
        DojoEnv("loan-default", out_dir=tmp_path)
    assert not list(tmp_path.iterdir())


def test_hardware_reports_the_memory_cap():
    text = briefing.hardware(memory_cap=1024**3, gpu_indices=[], sandboxed=True)
    assert "1.0 GB (the kernel's cap)" in text and "GPUs: none" in text and "Network: none" in text


@pytest.mark.kernel
def test_no_sandbox_runs_and_is_recorded(loan_default_data, tmp_path, caplog):
    with DojoEnv("loan-default", out_dir=tmp_path, sandbox=False) as env:
        env.reset()
        obs, *_ = env.step({"action": "execute_code", "code": "import os; print(os.getuid() == os.geteuid())"})
        assert "True" in obs
        nb = nbformat.read(str(env.notebook_path), as_version=4)
        assert nb.metadata["nbdojo"]["sandbox"] is False
    assert "WITHOUT a sandbox" in caplog.text


@pytest.mark.kernel
def test_sandboxed_kernel_reports_hardware_and_runs_as_nobody(loan_default_data, tmp_path):
    with DojoEnv("loan-default", out_dir=tmp_path, memory_bytes=2 * 1024**3) as env:
        env.reset()
        obs, *_ = env.step({"action": "request_info", "topic": "hardware"})
        assert "2.0 GB (the kernel's cap)" in obs
        obs, *_ = env.step({"action": "execute_code", "code": "import os; print(os.getuid(), os.environ['NBDOJO_SANDBOX'])"})
        assert ("65534 1" if os.geteuid() == 0 else " 1") in obs
        nb = nbformat.read(str(env.notebook_path), as_version=4)
        assert nb.metadata["nbdojo"]["sandbox"] is True
        # joblib counts the cores the sandbox really has: no "physical cores" warning in any cell
        obs, _, _, _, info = env.step({"action": "execute_code", "code": (
            "import warnings; warnings.simplefilter('always')\n"
            "from joblib.externals.loky import cpu_count\n"
            "from sklearn.model_selection import cross_val_score\n"
            "from sklearn.linear_model import LogisticRegression\n"
            "from sklearn.datasets import make_classification\n"
            "X, y = make_classification(200, random_state=0)\n"
            "print(len(cross_val_score(LogisticRegression(), X, y, cv=3, n_jobs=2)), cpu_count(only_physical_cores=True))")})
        assert info["status"] == "ok" and "physical cores" not in obs and "Warning" not in obs, obs
