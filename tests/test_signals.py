"""A stop signal ends `nbdojo run` as Ctrl-C does: the notebook is closed and marked, a batch writes its summary.

Each test starts the real CLI on a replay whose first cell sleeps, waits until that cell runs in
the sandboxed kernel, sends the signal, and reads what the process left behind.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest

from nbdojo.runstate import run_state

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(600)]

SLEEPER = "import pathlib, time\npathlib.Path('started').write_text('yes')\ntime.sleep(600)"


def sleepy_replay(folder: Path) -> Path:
    """A notebook whose only cell says it started (a file in the workspace), then sleeps for ten minutes."""
    path = folder / "sleepy.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(SLEEPER)]), str(path))
    return path


def start_run(out: Path, replay: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--agent", f"replay:{replay}",
                             "--out", str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "300"})


def wait_for_cells(proc: subprocess.Popen, out: Path, count: int, timeout: float = 300) -> list[Path]:
    """The run folders once `count` episodes are inside their sleeping cell."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        started = sorted(out.glob("*/workspace/started"))
        if len(started) >= count:
            return [p.parent.parent for p in started]
        if proc.poll() is not None:
            pytest.fail(f"nbdojo run ended early ({proc.returncode}):\n{proc.stdout.read()}\n{proc.stderr.read()}")
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no {count} episodes reached their first cell in {timeout} s")


def stop(proc: subprocess.Popen, signum: int = signal.SIGTERM) -> tuple[int, str, str]:
    proc.send_signal(signum)
    try:
        stdout, stderr = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        pytest.fail(f"nbdojo run did not stop within 120 s of the signal:\n{stdout}\n{stderr}")
    return proc.returncode, stdout, stderr


def assert_closed_as_interrupted(notebook: Path, signal_name: str) -> dict:
    nb = nbformat.read(str(notebook), as_version=4)
    nbformat.validate(nb)
    meta = nb.metadata["nbdojo"]
    assert meta["ended"], "the notebook was not closed"
    assert run_state(meta) == "finished"
    markers = [c for c in nb.cells if c.cell_type == "markdown" and c.source.startswith("**Episode interrupted**")]
    assert len(markers) == 1, [c.source for c in nb.cells]
    assert markers[0].source.startswith(f"**Episode interrupted** ({signal_name}) during step 1 (execute_code)")
    cut = [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbdojo", {}).get("step") == 1]
    assert [c.source for c in cut] == [SLEEPER]  # the cell cut short is kept, marked
    assert cut[0].metadata["nbdojo"]["status"] == "interrupted"
    assert markers[0].metadata["nbdojo"]["action"] == "interrupted"
    assert markers[0].metadata["nbdojo"]["signal"] == signal_name
    return meta


def kernels_of(folder: Path) -> list[psutil.Process]:
    """Processes still working in a run folder (its kernel, under bubblewrap)."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(str(folder) in part for part in proc.info["cmdline"] or []):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_sigterm_closes_the_episodes_notebook_as_interrupted(prepared_home, tmp_path):
    out = tmp_path / "runs"
    proc = start_run(out, sleepy_replay(tmp_path))
    (run_dir,) = wait_for_cells(proc, out, 1)
    host = psutil.Process(proc.pid)
    code, stdout, stderr = stop(proc)
    assert code == 128 + signal.SIGTERM, stdout + stderr
    assert "Traceback" not in stdout + stderr
    assert stderr.strip().splitlines() == ["interrupted (SIGTERM): the episode's notebook was closed"]
    meta = assert_closed_as_interrupted(run_dir / "trajectory.ipynb", "SIGTERM")
    assert meta["host"]["pid"] == host.pid and meta["final"] is None
    assert not kernels_of(run_dir / "workspace"), "the kernel outlived its episode"
    assert not list(Path("/tmp").glob(f"nbk-{host.pid}-*")), "the kernel's connection folder was left behind"


def test_sigterm_to_a_batch_closes_every_running_episode_and_writes_the_summary(prepared_home, tmp_path):
    out = tmp_path / "runs"
    proc = start_run(out, sleepy_replay(tmp_path), "--episodes", "3", "--workers", "2", "--seed", "4")
    run_dirs = wait_for_cells(proc, out, 2)
    code, stdout, stderr = stop(proc)
    assert code == 128 + signal.SIGTERM, stdout + stderr
    assert "Traceback" not in stdout + stderr, stdout + stderr
    assert "batch interrupted (SIGTERM)" in stdout and "2 of 3 episodes came back" in stdout, stdout
    summary = Path(re.search(r"summary (\S+\.jsonl)", stdout).group(1))
    rows = [json.loads(line) for line in summary.read_text().splitlines()]
    assert [r["seed"] for r in rows] == [4, 5]  # the third never started
    assert all(r["error"] == "interrupted (SIGTERM)" for r in rows), rows
    assert sorted(Path(r["notebook"]).parent for r in rows) == sorted(run_dirs)
    for row in rows:
        assert_closed_as_interrupted(Path(row["notebook"]), "SIGTERM")
    assert len(list(out.glob("*/trajectory.ipynb"))) == 2
    for run_dir in run_dirs:
        assert not kernels_of(run_dir / "workspace"), "a kernel outlived its episode"
