"""The trajectory notebook: one valid `.ipynb` per episode, saved atomically after every step.

Layout: a markdown header, a `parameters` cell (papermill can inject other
paths), a setup cell, then one cell per step (markdown for thoughts and
non-code actions), and last the scorer cell tagged `nbdojo-scorer`.
"""

from __future__ import annotations

import copy
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbdojo import __version__

SCORER_TAG = "nbdojo-scorer"
PARAMETERS_TAG = "parameters"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def parameters_source(*, data_dir: str, workspace: str, submission_path: str, seed: int | None) -> str:
    return "\n".join(
        [
            "# Parameters (papermill can inject others: -p DATA_DIR ... -p WORKSPACE ...)",
            f"DATA_DIR = {data_dir!r}  # public competition data (read-only)",
            f"WORKSPACE = {workspace!r}  # the agent's working folder",
            f"SUBMISSION_PATH = {submission_path!r}  # relative to WORKSPACE",
            f"SEED = {seed!r}",
        ]
    )


SETUP_SOURCE = "\n".join(
    [
        "# Setup: work inside the workspace, so relative paths land there.",
        "import os",
        "os.makedirs(WORKSPACE, exist_ok=True)",
        "os.chdir(WORKSPACE)",
    ]
)


def scorer_source(competition_id: str) -> str:
    """Code of the scorer cell: a person can read it and re-run it."""
    return "\n".join(
        [
            "# nbdojo scorer: grade the submission on the competition's private answers.",
            "# During the episode this cell ran in nbdojo's trusted grader, not in the agent's kernel.",
            "import os",
            "from nbdojo.grading import grade",
            "",
            f"result = grade({competition_id!r}, os.path.join(WORKSPACE, SUBMISSION_PATH))",
            "print(result.report())",
        ]
    )


def header_markdown(meta: dict[str, Any], title: str | None = None) -> str:
    model = meta.get("model") or "—"
    lines = [
        f"# nbdojo · {title or meta['competition']}",
        "",
        f"**Competition:** `{meta['competition']}` · **Agent:** {meta.get('agent', '?')} · "
        f"**Model:** {model} · **Seed:** {meta.get('seed')} · **Started:** {meta.get('started')}",
        "",
        "Each step of the episode is a cell below; the last cell is the scorer. "
        "Metadata (`nbdojo`) on every cell records step, action, status and timing.",
    ]
    return "\n".join(lines)


class Trajectory:
    """An episode's notebook, kept in memory and written to `path` after every change."""

    def __init__(self, path: str | Path, meta: dict[str, Any], *, title: str | None = None):
        self.path = Path(path)
        self.nb = new_notebook()
        self.nb.metadata["kernelspec"] = dict(KERNELSPEC)
        self.nb.metadata["language_info"] = {"name": "python"}
        self.nb.metadata["nbdojo"] = {
            "version": __version__,
            "started": utcnow(),
            "ended": None,
            "final": None,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0},
            **copy.deepcopy(meta),
        }
        self.nb.cells.append(new_markdown_cell(header_markdown(self.meta, title), metadata={"nbdojo": {"role": "header"}}))

    @property
    def meta(self) -> dict[str, Any]:
        return self.nb.metadata["nbdojo"]

    @property
    def cells(self) -> list[Any]:
        return self.nb.cells

    def record_step(self, step: int, action: str, *, observation: str, args: dict[str, Any] | None = None,
                    budget: dict[str, Any] | None = None) -> None:
        """Keep what the agent got back after a step (observation, budget left) and the action's arguments
        on that step's own cell: the step's last cell of that action (not its thought, scorer or notices)."""
        for cell in reversed(self.nb.cells):
            meta = cell.metadata.get("nbdojo", {})
            if meta.get("step") == step and meta.get("action") == action:
                meta["observation"] = observation
                if args:
                    meta["args"] = args
                if budget:
                    meta["budget"] = budget
                return

    def add_markdown(self, text: str, *, step: int | None, action: str, **extra: Any) -> None:
        meta = {"step": step, "action": action, **extra}
        self.nb.cells.append(new_markdown_cell(text, metadata={"nbdojo": meta}))

    def add_code(
        self, source: str, *, step: int | None, action: str, status: str, started: str, duration_s: float,
        outputs: list[dict[str, Any]], execution_count: int | None, tags: tuple[str, ...] = (), **extra: Any,
    ) -> None:
        meta = {
            "step": step, "action": action, "status": status, "started": started,
            "duration_s": round(duration_s, 3), **extra,
        }
        cell_tags = list(tags)
        if status == "error":
            cell_tags.append("raises-exception")  # papermill / nbclient keep going past it on replay
        metadata: dict[str, Any] = {"nbdojo": meta}
        if cell_tags:
            metadata["tags"] = cell_tags
        cell = new_code_cell(source, metadata=metadata, execution_count=execution_count)
        cell.outputs = [nbformat.from_dict(o) for o in outputs]
        self.nb.cells.append(cell)

    def add_scorer(self, competition_id: str, report: str, *, step: int | None, grade: dict[str, Any] | None) -> None:
        """Append the scorer cell with the trusted grader's printed report as its output."""
        output = nbformat.v4.new_output("stream", name="stdout", text=report if report.endswith("\n") else report + "\n")
        self.add_code(
            scorer_source(competition_id), step=step, action="score", status="ok", started=utcnow(), duration_s=0.0,
            outputs=[output], execution_count=None, tags=(SCORER_TAG,), grader="trusted", grade=grade,
        )

    def finish(self, final: dict[str, Any] | None) -> None:
        self.meta["ended"] = utcnow()
        self.meta["final"] = final

    def set_usage(self, usage: dict[str, Any]) -> None:
        self.meta["usage"] = dict(usage)

    def save(self) -> Path:
        """Validate, then write atomically: a reader never sees a half-written notebook."""
        nbformat.validate(self.nb)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                nbformat.write(self.nb, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return self.path


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    return nbformat.read(str(path), as_version=4)


def find_notebooks(path: Path) -> list[Path]:
    """A notebook, or the notebooks under a folder, but those in workspaces or hidden folders
    (an agent's or a person's workspace may hold notebooks of its own: they are not runs)."""
    if path.is_file():
        return [path]
    found = []
    for nb in sorted(path.rglob("*.ipynb")):
        if any(p.startswith(".") or p == "workspace" for p in nb.relative_to(path).parts[:-1]):
            continue
        found.append(nb)
    return found
