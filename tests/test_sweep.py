"""What a dead host leaves behind: its /tmp/nbk-* folders and cgroups are swept, its runs read as abandoned.

A live host's leftovers (another process running episodes now) are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from test_signals import sleepy_replay, start_run, stop, wait_for_cells

from nbdojo.kernel import leftovers
from nbdojo.tools.compare import read_run
from nbdojo.kernel.caps import PREFIX, cgroup_parents
from nbdojo.runstate import host_record, process_start, run_state


def dead_host() -> tuple[int, int]:
    """The pid and start time of a process that has ended (and was reaped)."""
    proc = subprocess.Popen(["sleep", "60"])
    start = process_start(proc.pid)
    proc.kill()
    proc.wait()
    return proc.pid, start


def connection_folder(pid: int, start: int | None) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"nbk-{pid}-{start}-", dir="/tmp"))


# ----- the sweep ---------------------------------------------------------------------------------

def test_sweep_removes_a_dead_hosts_folders_and_keeps_a_live_ones():
    dead = connection_folder(*dead_host())
    (dead / "kernel.json").write_text('{"key": "a dead host\'s kernel key"}')
    reused = connection_folder(os.getpid(), process_start(os.getpid()) + 1)  # this pid, another process's start
    live = connection_folder(os.getpid(), process_start(os.getpid()))
    legacy = Path(tempfile.mkdtemp(prefix="nbk-", dir="/tmp"))  # no host in the name (older nbdojo)
    try:
        removed = leftovers.sweep()
        assert dead in removed and reused in removed
        assert not dead.exists() and not reused.exists()
        assert live.is_dir() and legacy.is_dir()
        assert live not in removed and legacy not in removed
    finally:
        for path in (dead, reused, live, legacy):
            shutil.rmtree(path, ignore_errors=True)


def _writable_cgroup_parent() -> Path:
    _version, parents = cgroup_parents()
    for parent in parents.values():
        probe = parent / f"{PREFIX}probe-{uuid.uuid4().hex[:8]}"
        try:
            probe.mkdir()
        except OSError:
            continue
        probe.rmdir()
        return parent
    pytest.skip("this machine lets nbdojo make no cgroup (the watchdog holds the caps), so none is left to sweep")


def test_sweep_removes_a_dead_hosts_empty_cgroups_and_keeps_a_live_ones():
    parent = _writable_cgroup_parent()
    pid, start = dead_host()
    dead = parent / f"{PREFIX}{pid}-{start}-test-{uuid.uuid4().hex[:8]}"
    live = parent / (PREFIX + leftovers.cgroup_name(f"test-{uuid.uuid4().hex[:8]}"))
    dead.mkdir()
    live.mkdir()
    try:
        removed = leftovers.sweep()
        assert dead in removed and not dead.exists()
        assert live.is_dir() and live not in removed
    finally:
        for path in (dead, live):
            if path.exists():
                path.rmdir()


def test_the_first_kernel_folder_of_a_process_sweeps_and_names_its_host(tmp_path):
    dead = connection_folder(*dead_host())
    code = ("from pathlib import Path; from nbdojo.kernel.agent import AgentKernel; from nbdojo.limits import Limits\n"
            "k = AgentKernel(workspace=Path('.'), readonly=[], caps=Limits(), sandbox=False)\n"
            "print(k._conn_dir.name); k.shutdown()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not dead.exists()
    assert proc.stdout.startswith("nbk-") and proc.stdout.split("-")[1].isdigit()  # nbk-<pid>-<start>-...


# ----- run states --------------------------------------------------------------------------------

def _meta(**overrides: object) -> dict:
    meta = {"competition": "loan-default", "agent": "baseline", "started": datetime.now(timezone.utc).isoformat(),
            "ended": None, "final": None, "limits": {"wall_clock_s": 3600.0}, "host": host_record()}
    meta.update(overrides)
    return meta


def test_run_state_of_a_dead_host_is_abandoned():
    pid, start = dead_host()
    assert run_state(_meta(host={"pid": pid, "start_time": start, "hostname": socket.gethostname()})) == "abandoned"
    assert run_state(_meta()) == "live"  # this process
    reused = {**host_record(), "start_time": host_record()["start_time"] + 1}
    assert run_state(_meta(host=reused)) == "abandoned"  # the pid now names another process
    elsewhere = {"pid": pid, "start_time": start, "hostname": "another-machine"}
    assert run_state(_meta(host=elsewhere)) == "live"  # cannot be told from here
    assert run_state(_meta(ended="2025-01-01T00:00:00+00:00", host={"pid": pid, "start_time": start})) == "finished"
    assert run_state(_meta(ended="2025-01-01T00:00:00+00:00", final={"error": "kernel setup failed"})) == "failed"


def test_run_state_of_a_notebook_from_before_hosts_were_recorded():
    meta = _meta()
    del meta["host"]
    assert run_state(meta) == "live"
    long_ago = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()
    assert run_state({**meta, "started": long_ago}) == "abandoned"  # far past its wall clock


def _notebook(path: Path, meta: dict) -> Path:
    path.write_text(json.dumps({"cells": [], "metadata": {"nbdojo": meta}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_compare_lists_a_dead_hosts_run_as_abandoned(tmp_path):
    pid, start = dead_host()
    abandoned = read_run(_notebook(tmp_path / "a.ipynb", _meta(host={"pid": pid, "start_time": start})))
    live = read_run(_notebook(tmp_path / "b.ipynb", _meta()))
    assert abandoned.status == "abandoned" and abandoned.human_rank is None
    assert live.status == "live"


# ----- a host killed mid-episode -----------------------------------------------------------------

@pytest.mark.kernel
@pytest.mark.timeout(600)
def test_a_killed_hosts_leftovers_are_swept_and_its_run_abandoned_while_a_live_hosts_stay(prepared_home, tmp_path):
    replay = sleepy_replay(tmp_path)
    killed = start_run(tmp_path / "killed", replay)
    (killed_run,) = wait_for_cells(killed, tmp_path / "killed", 1)
    alive = start_run(tmp_path / "alive", replay)
    try:
        (alive_run,) = wait_for_cells(alive, tmp_path / "alive", 1)
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=60)
        killed_dirs = list(Path("/tmp").glob(f"nbk-{killed.pid}-*"))
        alive_dirs = list(Path("/tmp").glob(f"nbk-{alive.pid}-*"))
        assert killed_dirs and alive_dirs  # a SIGKILL leaves the host's kernel folder (its key) behind

        nb = json.loads((killed_run / "trajectory.ipynb").read_text())
        assert nb["metadata"]["nbdojo"]["ended"] is None
        assert run_state(nb["metadata"]["nbdojo"]) == "abandoned"
        assert read_run(killed_run / "trajectory.ipynb").status == "abandoned"
        assert read_run(alive_run / "trajectory.ipynb").status == "live"

        # the next process to make a kernel folder sweeps: the dead host's goes, the live host's stays
        sweep = subprocess.run([sys.executable, "-c", "from nbdojo.kernel.leftovers import connection_dir as c; "
                                "import shutil; shutil.rmtree(c())"], capture_output=True, text=True, timeout=120)
        assert sweep.returncode == 0, sweep.stderr
        assert not any(p.exists() for p in killed_dirs)
        assert all(p.is_dir() for p in alive_dirs)
        alive_meta = json.loads((alive_run / "trajectory.ipynb").read_text())["metadata"]["nbdojo"]
        _version, parents = cgroup_parents()
        for parent in parents.values():
            assert not list(parent.glob(f"{PREFIX}{killed.pid}-*")), "the dead host's cgroup was left"
            if "cgroup" in alive_meta["caps"]:
                assert list(parent.glob(f"{PREFIX}{alive.pid}-*")), "the live host's cgroup was swept"
    finally:
        if alive.poll() is None:
            stop(alive)
        if killed.poll() is None:
            killed.kill()
    assert read_run(alive_run / "trajectory.ipynb").status == "no submission"  # closed by its SIGTERM


def test_nbdojo_runs_lists_each_run_with_its_state_and_runs_clean_sweeps(tmp_path):
    from typer.testing import CliRunner

    from nbdojo.cli import app

    pid, start = dead_host()
    for name, meta in (("dead", _meta(host={"pid": pid, "start_time": start})), ("here", _meta()),
                       ("done", _meta(ended="2025-01-01T00:00:00+00:00", final={"score": 0.8125}))):
        (tmp_path / "runs" / name).mkdir(parents=True)
        _notebook(tmp_path / "runs" / name / "trajectory.ipynb", meta)
    shown = CliRunner().invoke(app, ["runs", str(tmp_path / "runs")], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    lines = {line.split("│")[-2].strip().rsplit("/", 1)[-1]: line for line in shown.stdout.splitlines() if "│" in line}
    assert "abandoned" in lines["dead"] and "live" in lines["here"]
    assert "finished" in lines["done"] and "0.8125" in lines["done"]
    stale = Path(f"/tmp/nbk-{pid}-{start}-runs-test")
    stale.mkdir()
    cleaned = CliRunner().invoke(app, ["runs", "clean"])
    assert cleaned.exit_code == 0 and not stale.exists() and str(stale) in cleaned.stdout
    missing = CliRunner().invoke(app, ["runs", str(tmp_path / "nowhere")])
    assert missing.exit_code != 0
