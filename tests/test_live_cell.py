"""The running cell streams into the notebook on disk while it runs; a killed host leaves it valid and interrupted.

Real sandboxed kernels; the notebook is read from disk, as JupyterLab and `nbdojo watch` read it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from typer.testing import CliRunner

from nbdojo.cli import app
from nbdojo.env import DojoEnv
from nbdojo.trajectory.live import effective_status
from nbdojo.runstate import run_state
from nbdojo.trajectory import verification

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(600)]

SLOW = "import time\nfor i in range(30):\n    print('epoch', i, flush=True)\n    time.sleep(0.2)"


def read_valid(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb


def code_cells(nb, step: int) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbdojo", {}).get("step") == step]


def test_a_running_cell_is_on_disk_with_its_output_so_far(loan_default_data, tmp_path):
    with DojoEnv("loan-default", out_dir=tmp_path / "runs", agent="test", cell_timeout_s=60) as env:
        env.reset(seed=0)
        env.step({"action": "execute_code", "code": "print('first')"})
        done: list = []
        runner = threading.Thread(target=lambda: done.append(env.step({"action": "execute_code", "code": SLOW})))
        runner.start()
        seen = []
        while runner.is_alive():
            nb = read_valid(env.notebook_path)  # every version a reader can catch is a valid notebook
            cells = code_cells(nb, 2)
            if cells and cells[0].metadata["nbdojo"]["status"] == "running":
                seen.append(cells[0])
            time.sleep(0.1)
        runner.join()
        assert done and done[0][4]["status"] == "ok"
        assert seen, "the running cell never reached the file while it ran"
        partial = [c for c in seen if "epoch 0" in c.outputs[0].get("text", "") and "epoch 29" not in
                   c.outputs[0].get("text", "")]
        assert partial, [c.outputs for c in seen]
        cell = partial[-1]
        assert cell.source == SLOW and cell is not None
        assert cell.outputs[-1].data["text/plain"].startswith("[nbdojo] running for")
        assert 3 <= len({c.metadata["nbdojo"]["updated"] for c in seen}) <= 6  # a write every ~2 s over ~6 s

        final = read_valid(env.notebook_path)
        (cell,) = code_cells(final, 2)
        assert cell.metadata["nbdojo"]["status"] == "ok" and "updated" not in cell.metadata["nbdojo"]
        assert [o.output_type for o in cell.outputs] == ["stream"]
        assert cell.outputs[0].text.splitlines() == [f"epoch {i}" for i in range(30)]
        assert cell.metadata["nbdojo"]["observation"].startswith("[step 2]")
    closed = read_valid(env.notebook_path)
    assert verification(closed) == "verified"  # the streamed cell leaves the signed notebook as it was


def test_a_killed_host_leaves_the_notebook_valid_complete_and_the_running_cell_interrupted(prepared_home, tmp_path):
    replay = tmp_path / "replay.ipynb"
    long_cell = "import time\nfor i in range(100000):\n    print('epoch', i, flush=True)\n    time.sleep(0.2)"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('first step done')"),
                                                   nbformat.v4.new_code_cell(long_cell)]), str(replay))
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--agent", f"replay:{replay}",
                             "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, notebook, cell = time.monotonic() + 300, None, None
        while time.monotonic() < deadline and proc.poll() is None:
            found = sorted(out.glob("*/trajectory.ipynb"))
            if found:
                notebook = found[0]
                cells = code_cells(read_valid(notebook), 2)
                if cells and "epoch 3" in cells[0].outputs[0].get("text", ""):
                    cell = cells[0]
                    break
            time.sleep(0.2)
        assert cell is not None, f"no running cell with output on disk: {proc.poll()} {proc.stderr.read()[-2000:]}"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    nb = read_valid(notebook)
    (first,) = code_cells(nb, 1)
    assert first.metadata["nbdojo"]["status"] == "ok" and first.outputs[0].text == "first step done\n"
    assert "observation" in first.metadata["nbdojo"]  # complete up to the last finished step
    (cut,) = code_cells(nb, 2)
    assert cut is nb.cells[-1] and cut.source == long_cell
    assert cut.metadata["nbdojo"]["status"] == "running"  # as the killed host left it
    assert run_state(nb.metadata["nbdojo"]) == "abandoned"
    assert effective_status(cut, nb.metadata["nbdojo"]) == "interrupted"  # how every reader takes it
    kept = cut.outputs[0].text

    cleaned = CliRunner().invoke(app, ["runs", "clean", str(out)])  # writes it so in the file
    assert cleaned.exit_code == 0, cleaned.output
    assert "marked 1 running cell interrupted" in cleaned.output
    nb = read_valid(notebook)
    (cut,) = code_cells(nb, 2)
    assert cut.metadata["nbdojo"]["status"] == "interrupted"
    assert cut.outputs[0].text == kept and cut.outputs[-1].data["text/plain"].startswith("[nbdojo] interrupted")
    assert run_state(nb.metadata["nbdojo"]) == "abandoned"
    assert "marked" not in CliRunner().invoke(app, ["runs", "clean", str(out)]).output  # once is enough
