"""The running cell: an execute step's cell is in the notebook while it runs, its output streaming in.

While a cell runs, the kernel session calls `RunningCell.progress` with the outputs so far
(capped head and tail as in the final cell, by `nbdojo.kernel.outputs.CellOutputs`). The cell
is written into the notebook once it has run `FIRST_WRITE_S`, then again at most every
`WRITE_INTERVAL_S` when its output changed (every `REFRESH_S` when it did not, so its clock
moves), and never more often than ten times what the last write took (a cell at its output cap
writes megabytes). Each write re-serializes that cell only (`nbdojo.trajectory.file`). A cell that ends
sooner is never written running: it lands as the final cell, as a trivial step costs no more.

A running cell in the file (see the README, "The running cell"):
- `metadata.nbdojo.status` is "running", with `started`, `updated` (ISO-8601 UTC) and
  `duration_s` so far;
- its outputs are the outputs so far, then one `display_data` tagged
  `metadata.nbdojo.status_line` that says it is running and since when.
When the step ends the cell is replaced by the final cell, exactly as a step without streaming
writes it. When the step is cut short (Ctrl-C, SIGTERM, an error in nbdojo) it is kept with its
outputs so far and status "interrupted". When the host is killed it stays "running" in the file:
readers take it as interrupted (`effective_status`), and `settle_abandoned` (run by
`nbdojo runs clean DIR`) writes it so.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import nbformat
from nbformat.notebooknode import NotebookNode

from nbdojo.notebook import Status, nbdojo_meta
from nbdojo.runstate import run_state
from nbdojo.trajectory.file import new_cell

__all__ = ["FIRST_WRITE_S", "REFRESH_S", "WRITE_INTERVAL_S", "RunningCell", "effective_status", "settle_abandoned"]

log = logging.getLogger(__name__)

FIRST_WRITE_S = 0.25
WRITE_INTERVAL_S = 2.0
REFRESH_S = 30.0
RUNNING, INTERRUPTED = Status.RUNNING.value, Status.INTERRUPTED.value


class Outputs(Protocol):
    """What the kernel session hands over while a cell runs (nbdojo.kernel.outputs.CellOutputs)."""

    changes: int

    def finish(self) -> list[dict]: ...


class Notebook(Protocol):
    """The trajectory the running cell lives in (nbdojo.trajectory.Trajectory)."""

    cells: list[Any]

    def changed(self, cell: Any) -> None: ...

    def save(self) -> Path: ...


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def status_line(text: str) -> dict:
    """The visible line that says what became of a running cell (the last output while it runs)."""
    return NotebookNode(output_type="display_data", data=NotebookNode({"text/plain": f"[nbdojo] {text}"}),
                        metadata=NotebookNode(nbdojo=NotebookNode(status_line=True)))


def is_status_line(output: Any) -> bool:
    meta = output.get("metadata") if isinstance(output, Mapping) else None
    return isinstance(meta, Mapping) and isinstance(meta.get("nbdojo"), Mapping) and bool(meta["nbdojo"].get("status_line"))


class RunningCell:
    """One execute step's cell while it runs; `progress` is the kernel session's callback.

    Use it as a context manager around the kernel call and the recording of the final cell:
    `Trajectory.add_code` for the same step replaces it (`close`), and leaving the block any
    other way (an exception, KeyboardInterrupt) keeps it, marked interrupted.
    """

    def __init__(self, notebook: Notebook, source: str, *, step: int | None, action: str,
                 clock: Callable[[], float] = time.monotonic):
        self.notebook, self.clock = notebook, clock
        self.t0 = clock()
        self.step, self.action = step, action
        self.source = source
        self.started = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        self._cell: Any = None  # made at the first write: a step that ends sooner costs nothing here
        self.shown = False  # in the notebook's cells (written at least once)
        self.open = True
        self.writes = 0
        self._outputs: Outputs | None = None
        self._seen = -1  # outputs.changes at the last write
        self._last_write = -float("inf")
        self._interval = WRITE_INTERVAL_S

    @property
    def cell(self) -> Any:
        if self._cell is None:
            self._cell = new_cell("code", self.source, metadata={"nbdojo": {
                "step": self.step, "action": self.action, "status": RUNNING, "started": self.started,
                "duration_s": 0.0, "updated": self.started}})
        return self._cell

    # ----- the session's callback --------------------------------------------------------

    def progress(self, outputs: Outputs) -> float:
        """Write the cell if a write is due and worth it; the monotonic time to be called again."""
        self._outputs = outputs
        if not self.open:
            return float("inf")
        now = self.clock()
        due = self.t0 + FIRST_WRITE_S if not self.shown else self._last_write + self._interval
        if now < due:
            return due
        if self.shown and outputs.changes == self._seen and now - self._last_write < REFRESH_S:
            return now + self._interval
        try:
            self._write(outputs, now, RUNNING, f"running for {now - self.t0:.0f} s (output so far above; "
                                              f"updated {_now()})")
        except Exception:  # noqa: BLE001 - a notebook that cannot be written must not stop the agent's cell
            log.exception("could not write the running cell into the notebook; it lands when the step ends")
            self.open = False
            return float("inf")
        return now + self._interval

    def _write(self, outputs: Outputs | None, now: float, status: str, line: str) -> None:
        meta = self.cell.metadata["nbdojo"]
        meta.update(status=status, duration_s=round(now - self.t0, 3), updated=_now())
        kept = outputs.finish() if outputs is not None else []
        self.cell.outputs = [nbformat.from_dict(o) for o in kept] + [status_line(line)]
        if self.shown:
            self.notebook.changed(self.cell)
        else:
            self.notebook.cells.append(self.cell)
            self.shown = True
        self.notebook.save()
        self._seen = outputs.changes if outputs is not None else -1
        self._interval = max(WRITE_INTERVAL_S, 10 * (self.clock() - now))
        self._last_write, self.writes = now, self.writes + 1

    # ----- the end of the step -----------------------------------------------------------

    def close(self) -> int | None:
        """The step's final cell is coming: the index where it goes (the running cell's place), or None
        to append it (the cell was never written)."""
        if not self.open:
            return None
        self.open = False
        if not self.shown:
            return None
        for index in range(len(self.notebook.cells) - 1, -1, -1):
            if self.notebook.cells[index] is self.cell:
                return index
        return None

    def interrupt(self, why: str) -> None:
        """The step was cut short: keep the cell, its outputs so far, marked interrupted, and save."""
        if not self.open:
            return
        now = self.clock()
        self.open = False
        self._write(self._outputs, now, INTERRUPTED, f"interrupted after {now - self.t0:.0f} s: {why}")

    def __enter__(self) -> RunningCell:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if self.open:
            why = "the step ended without a result" if kind is None else \
                f"{'Ctrl-C or a stop signal' if issubclass(kind, KeyboardInterrupt) else kind.__name__} stopped the step"
            self.interrupt(why)


# ----- readers -------------------------------------------------------------------------------

def effective_status(cell: Any, run_meta: Mapping[str, Any]) -> str | None:
    """A cell's status as a reader should take it: a running cell of a run that is no longer live (its
    host process is gone: `nbdojo.runstate.run_state`) was cut short, so it is "interrupted"."""
    status = nbdojo_meta(cell).get("status")
    if status == RUNNING and run_state(dict(run_meta)) != "live":
        return INTERRUPTED
    return status


def settle_abandoned(path: str | Path) -> int:
    """Mark the running cells of an abandoned run's notebook interrupted, in the file (atomically);
    how many were. A live run's notebook, or one without running cells, is left as it is."""
    from nbdojo.trajectory.file import NotebookFile

    nb = nbformat.read(str(path), as_version=4)
    run_meta = nbdojo_meta(nb)
    settled = 0
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and nbdojo_meta(cell).get("status") == RUNNING \
                and effective_status(cell, run_meta) == INTERRUPTED:
            meta = nbdojo_meta(cell)
            meta["status"] = INTERRUPTED
            outputs = [o for o in cell.get("outputs", []) if not is_status_line(o)]
            cell.outputs = outputs + [status_line(f"interrupted: the process that ran this step stopped "
                                                  f"(the cell had run at least {meta.get('duration_s', 0):.0f} s)")]
            settled += 1
    if settled:
        NotebookFile(path).write(nb, durable=True)
    return settled
