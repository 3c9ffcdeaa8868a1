"""Saving a trajectory costs the same at step 500 as at step 5, and the file is the notebook nbformat would write.

Fast tier: no kernel. The running cell is driven here with a fake clock and fake outputs;
tests/test_live_cell.py shows it with a real kernel and a killed host.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from nbdojo.trajectory.live import FIRST_WRITE_S, WRITE_INTERVAL_S, RunningCell, effective_status, settle_abandoned
from nbdojo.runstate import process_start
from nbdojo.trajectory import Trajectory, verification
from nbdojo.trajectory.file import NotebookFile, durable_path


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path / "home"))  # the signing key


def trajectory(path: Path) -> Trajectory:
    return Trajectory(path, {"competition": "loan-default", "agent": "test", "model": None, "seed": 0})


def add_step(traj: Trajectory, step: int, text: str = "1") -> None:
    traj.add_markdown(f"thinking about step {step}", step=step, action="thought")
    traj.add_code(f"print({step})", step=step, action="execute_code", status="ok", started="2026-01-01T00:00:00+00:00",
                  duration_s=0.01, execution_count=step, outputs=[
                      {"output_type": "stream", "name": "stdout", "text": f"{text}\nline two é\n"},
                      {"output_type": "execute_result", "execution_count": step, "metadata": {},
                       "data": {"text/plain": "1", "image/svg+xml": "<svg>\n</svg>", "application/json": {"a": [1]}}},
                  ])
    traj.record_step(step, "execute_code", observation=f"[step {step}] ok", budget={"steps_left": 10})


def test_the_file_is_byte_for_byte_what_nbformat_writes(tmp_path):
    traj = trajectory(tmp_path / "t.ipynb")
    traj.save()
    assert (tmp_path / "t.ipynb").read_text() == nbformat.writes(traj.nb) + "\n"
    for step in range(1, 8):
        add_step(traj, step)
        traj.nb.cells[-1].metadata["trusted"] = True  # nbformat drops it from the file, as the writer must
        traj.save()
    error = new_code_cell("1/0", outputs=[new_output("error", ename="ZeroDivisionError", evalue="x", traceback=["a"])])
    traj.nb.cells.append(error)  # a cell appended from outside (tests and tools do)
    traj.nb.metadata["orig_nbformat"] = 3
    traj.finish(None)
    traj.save()
    assert (tmp_path / "t.ipynb").read_text() == nbformat.writes(traj.nb) + "\n"
    assert verification(nbformat.read(str(tmp_path / "t.ipynb"), as_version=4)) == "verified"


def test_save_cost_does_not_grow_with_the_notebook(tmp_path, monkeypatch):
    """Count what each save hands the JSON encoder: the same at save 300 as at save 5 (nbformat.write
    re-encoded the whole notebook every time, so this grew with every step)."""
    encoded: list[int] = []
    original = json.JSONEncoder.encode

    def counting(self, obj):
        text = original(self, obj)
        encoded[-1] += len(text)
        return text

    monkeypatch.setattr(json.JSONEncoder, "encode", counting)
    traj = trajectory(tmp_path / "t.ipynb")
    per_save = []
    for step in range(1, 301):
        add_step(traj, step)
        encoded.append(0)
        traj.save()
        per_save.append(encoded[-1])
    assert per_save[4] > 0
    assert max(per_save[250:]) <= per_save[4] * 1.05, (per_save[4], max(per_save[250:]))
    assert traj.file.cells_serialized == 1 + 2 * 300  # the header once, then each step's two cells once
    encoded.append(0)
    traj.save()  # nothing new: only the small notebook metadata is looked at
    assert traj.file.cells_serialized == 1 + 2 * 300
    nbformat.validate(nbformat.read(str(tmp_path / "t.ipynb"), as_version=4))


def test_a_saved_cell_changed_through_the_trajectory_is_written_again(tmp_path):
    traj = trajectory(tmp_path / "t.ipynb")
    add_step(traj, 1)
    traj.save()
    before = traj.file.cells_serialized
    traj.record_step(1, "execute_code", observation="a later reading", budget={"steps_left": 9})
    traj.save()
    assert traj.file.cells_serialized == before + 1  # that cell only, not the ones before it
    on_disk = nbformat.read(str(tmp_path / "t.ipynb"), as_version=4)
    assert on_disk.cells[-1].metadata["nbdojo"]["observation"] == "a later reading"


def test_an_invalid_or_duplicate_cell_is_refused_and_the_last_good_file_stays(tmp_path):
    traj = trajectory(tmp_path / "t.ipynb")
    add_step(traj, 1)
    traj.save()
    good = (tmp_path / "t.ipynb").read_bytes()
    bad = new_markdown_cell("x")
    bad["outputs"] = []  # a markdown cell has no outputs
    traj.nb.cells.append(bad)
    with pytest.raises(nbformat.ValidationError):
        traj.save()
    traj.nb.cells[-1] = new_markdown_cell("y", id=traj.nb.cells[1].id)
    with pytest.raises(nbformat.ValidationError):
        traj.save()
    assert (tmp_path / "t.ipynb").read_bytes() == good
    assert not list(tmp_path.glob(".t.ipynb.*.tmp"))


def test_text_that_is_not_utf8_is_escaped_not_fatal(tmp_path):
    traj = trajectory(tmp_path / "t.ipynb")
    add_step(traj, 1, text="a lone surrogate \udcff from the kernel")
    traj.save()
    cell = json.loads((tmp_path / "t.ipynb").read_text(encoding="utf-8"))["cells"][-1]
    assert "\udcff" in "".join(cell["outputs"][0]["text"])


def test_a_nan_is_written_as_null_so_strict_json_parsers_read_the_file(tmp_path):
    """A non-finite number that reached the notebook (outputs are cleaned before, this is the last guard)."""
    nb = nbformat.v4.new_notebook(metadata={"score": float("inf")})
    nb.cells.append(new_code_cell("x", outputs=[new_output("display_data", data={"application/json": {"x": float("nan")}},
                                                           metadata={"m": [float("-inf"), 1.5]})]))
    NotebookFile(tmp_path / "t.ipynb").write(nb)

    def refuse(constant):
        raise ValueError(constant)

    saved = json.loads((tmp_path / "t.ipynb").read_text(encoding="utf-8"), parse_constant=refuse)
    out = saved["cells"][0]["outputs"][0]
    assert out["data"]["application/json"] == {"x": None} and out["metadata"] == {"m": [None, 1.5]}
    assert saved["metadata"]["score"] is None


def test_fsync_is_throttled_and_the_end_is_durable(tmp_path):
    file = NotebookFile(tmp_path / "t.ipynb", fsync_interval_s=3600)
    traj = trajectory(tmp_path / "t.ipynb")
    for step in range(1, 20):
        add_step(traj, step)
        file.write(traj.nb)
    assert file.fsyncs == 0 and file.saves == 19  # none within the hour, the first save's neither
    traj.finish(None)
    file.write(traj.nb, durable=True)
    assert file.fsyncs == 1
    assert durable_path(tmp_path / "t.ipynb").read_bytes() == (tmp_path / "t.ipynb").read_bytes()


# ----- the running cell ----------------------------------------------------------------------

class FakeOutputs:
    """What the kernel session hands the running cell: the outputs so far and a change count."""

    def __init__(self):
        self.lines: list[str] = []
        self.changes = 0

    def say(self, text: str) -> None:
        self.lines.append(text)
        self.changes += 1

    def finish(self) -> list[dict]:
        return [{"output_type": "stream", "name": "stdout", "text": "".join(self.lines)}] if self.lines else []


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def running(traj: Trajectory, clock: Clock, step: int = 2) -> RunningCell:
    live = traj.running_cell("for i in range(9): print(i)", step=step, action="execute_code")
    live.clock, live.t0 = clock, clock()
    return live


def on_disk(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(str(path), as_version=4)
    nbformat.validate(nb)
    return nb


def test_a_running_cell_is_written_throttled_then_becomes_the_final_cell(tmp_path):
    path = tmp_path / "t.ipynb"
    traj = trajectory(path)
    add_step(traj, 1)
    traj.save()
    clock, outputs = Clock(), FakeOutputs()
    with running(traj, clock) as live:
        assert live.progress(outputs) == pytest.approx(clock.now + FIRST_WRITE_S)  # not yet: quick cells never show
        assert on_disk(path).cells[-1].metadata["nbdojo"]["step"] == 1
        outputs.say("epoch 0\n")
        clock.now += FIRST_WRITE_S
        serialized = traj.file.cells_serialized
        live.progress(outputs)
        nb = on_disk(path)
        cell = nb.cells[-1]
        assert cell.source == "for i in range(9): print(i)"
        assert cell.metadata["nbdojo"]["status"] == "running" and cell.metadata["nbdojo"]["step"] == 2
        assert cell.outputs[0].text == "epoch 0\n"
        assert cell.outputs[-1].data["text/plain"].startswith("[nbdojo] running for")
        assert traj.file.cells_serialized == serialized + 1  # the running cell only
        outputs.say("epoch 1\n")
        clock.now += 1.0
        live.progress(outputs)  # throttled: within WRITE_INTERVAL_S of the last write
        assert on_disk(path).cells[-1].outputs[0].text == "epoch 0\n"
        clock.now += WRITE_INTERVAL_S
        live.progress(outputs)
        assert on_disk(path).cells[-1].outputs[0].text == "epoch 0\nepoch 1\n"
        writes = live.writes
        clock.now += WRITE_INTERVAL_S
        live.progress(outputs)  # nothing new: no write
        assert live.writes == writes
        running_id = on_disk(path).cells[-1].id
        traj.add_code("for i in range(9): print(i)", step=2, action="execute_code", status="ok",
                      started=live.started, duration_s=5.0, execution_count=2, outputs=outputs.finish())
    traj.save()
    nb = on_disk(path)
    code = [c for c in nb.cells if c.cell_type == "code" and c.metadata["nbdojo"].get("step") == 2]
    assert len(code) == 1 and code[0] is nb.cells[-1] and code[0].id == running_id
    assert code[0].metadata["nbdojo"]["status"] == "ok" and "updated" not in code[0].metadata["nbdojo"]
    assert [o.output_type for o in code[0].outputs] == ["stream"]  # the status line is gone


def test_a_cell_cut_short_keeps_its_output_marked_interrupted(tmp_path):
    path = tmp_path / "t.ipynb"
    traj = trajectory(path)
    traj.save()
    clock, outputs = Clock(), FakeOutputs()
    with pytest.raises(KeyboardInterrupt):
        with running(traj, clock) as live:
            live.progress(outputs)
            outputs.say("half way\n")
            raise KeyboardInterrupt
    cell = on_disk(path).cells[-1]
    assert cell.metadata["nbdojo"]["status"] == "interrupted"
    assert cell.outputs[0].text == "half way\n" and "interrupted" in cell.outputs[-1].data["text/plain"]


def dead_host() -> dict:
    proc = subprocess.Popen(["sleep", "60"])
    start = process_start(proc.pid)
    proc.kill()
    proc.wait()
    return {"pid": proc.pid, "start_time": start}


def test_a_running_cell_of_a_dead_host_reads_and_settles_as_interrupted(tmp_path):
    path = tmp_path / "t.ipynb"
    traj = trajectory(path)
    clock, outputs = Clock(), FakeOutputs()
    live = running(traj, clock, step=1)
    outputs.say("epoch 0\n")
    clock.now += FIRST_WRITE_S
    live.progress(outputs)  # the host "dies" here: the cell stays running in the file
    traj.meta["host"] = dead_host()
    traj.save()
    nb = on_disk(path)
    assert nb.cells[-1].metadata["nbdojo"]["status"] == "running"
    assert effective_status(nb.cells[-1], nb.metadata["nbdojo"]) == "interrupted"
    traj.meta["host"] = {"pid": 1, "start_time": None}  # alive (and not known to be another process)
    assert effective_status(nb.cells[-1], traj.meta) == "running"
    assert settle_abandoned(path) == 1
    nb = on_disk(path)
    assert nb.cells[-1].metadata["nbdojo"]["status"] == "interrupted"
    assert nb.cells[-1].outputs[0].text == "epoch 0\n"
    assert [o.data["text/plain"][:20] for o in nb.cells[-1].outputs[1:]] == ["[nbdojo] interrupted"]
    assert settle_abandoned(path) == 0
