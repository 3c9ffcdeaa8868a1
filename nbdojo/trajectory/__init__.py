"""The trajectory notebook: one valid `.ipynb` per episode, saved atomically after every step.

Layout: a markdown header, a `parameters` cell (papermill can inject other
paths), a setup cell, then one cell per step (markdown for thoughts and
non-code actions), and last the scorer cell tagged `nbdojo-scorer`. A save
re-serializes only new and changed cells (nbdojo.trajectory.file); a cell
still running is in the notebook too (nbdojo.trajectory.live).
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from nbformat.v4 import new_notebook

from nbdojo.trajectory.live import RunningCell
from nbdojo.notebook import nbdojo_meta, set_nbdojo_meta
from nbdojo._package import __version__
from nbdojo.grading import signing
from nbdojo.trajectory.file import NotebookFile, new_cell

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
    """An episode's notebook, kept in memory and written to `path` after every change.

    A cell already saved is changed through these methods only (or the change is announced with
    `changed(cell)`): a save writes again the cells that are new or announced, not the others.
    """

    def __init__(self, path: str | Path, meta: dict[str, Any], *, title: str | None = None):
        self.path = Path(path)
        self.nb = new_notebook()
        self.nb.metadata["kernelspec"] = dict(KERNELSPEC)
        self.nb.metadata["language_info"] = {"name": "python"}
        set_nbdojo_meta(self.nb, {
            "version": __version__,
            "run_id": uuid.uuid4().hex,
            "started": utcnow(),
            "ended": None,
            "final": None,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0},
            **copy.deepcopy(meta),
        })
        self.nb.cells.append(new_cell("markdown", header_markdown(self.meta, title), metadata={"nbdojo": {"role": "header"}}))

    @property
    def file(self) -> NotebookFile:
        """The notebook's file and what it has serialized (made on first use: `as_trajectory` skips __init__)."""
        file = self.__dict__.get("_file")
        if file is None or file.path != self.path:
            file = self.__dict__["_file"] = NotebookFile(self.path)
        return file

    def changed(self, cell: Any) -> None:
        """`cell`, already saved, was edited in place: the next save writes it again."""
        self.file.forget(cell)

    def running_cell(self, source: str, *, step: int | None, action: str) -> RunningCell:
        """The cell of an execute step about to run: it enters the notebook while it runs (nbdojo.trajectory.live),
        and `add_code` for the same step replaces it with the final cell."""
        live = RunningCell(self, source, step=step, action=action)
        self.__dict__["_running"] = live
        return live

    @property
    def meta(self) -> dict[str, Any]:
        return nbdojo_meta(self.nb)

    @property
    def cells(self) -> list[Any]:
        return self.nb.cells

    def record_step(self, step: int, action: str, *, observation: str, args: dict[str, Any] | None = None,
                    budget: dict[str, Any] | None = None, reward: float | None = None) -> None:
        """Keep what the agent got back after a step (observation, budget left, reward) and the action's
        arguments on that step's own cell: the step's last cell of that action (not its thought, scorer or notices)."""
        for cell in reversed(self.nb.cells):
            meta = nbdojo_meta(cell)
            if meta.get("step") == step and meta.get("action") == action:
                meta["observation"] = observation
                if args:
                    meta["args"] = args
                if budget:
                    meta["budget"] = budget
                if reward is not None:
                    meta["reward"] = reward
                self.changed(cell)
                return

    def add_markdown(self, text: str, *, step: int | None, action: str, **extra: Any) -> None:
        meta = {"step": step, "action": action, **extra}
        self.nb.cells.append(new_cell("markdown", text, metadata={"nbdojo": meta}))

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
        cell = new_cell("code", source, metadata=metadata, execution_count=execution_count, outputs=list(outputs))
        running: RunningCell | None = self.__dict__.pop("_running", None)
        place = running.close() if running is not None and (running.step, running.action) == (step, action) else None
        if running is not None and running.open:
            running.interrupt("another cell was recorded before it ended")
        if place is None:
            self.nb.cells.append(cell)
        else:  # the running cell becomes the final cell, in its place and under its id (a viewer updates it)
            cell["id"] = self.nb.cells[place].get("id", cell["id"])
            self.nb.cells[place] = cell

    def add_scorer(self, competition_id: str, report: str, *, step: int | None, grade: dict[str, Any] | None) -> None:
        """Append the scorer cell with the trusted grader's printed report as its output. Its grade becomes
        the notebook's result (`metadata.nbdojo.final`), signed: every caller (an episode, `nbdojo score`,
        a replay) writes a signed grade through here."""
        signature = self.sign(grade)
        output = nbformat.v4.new_output("stream", name="stdout", text=report if report.endswith("\n") else report + "\n")
        self.add_code(
            scorer_source(competition_id), step=step, action="score", status="ok", started=utcnow(), duration_s=0.0,
            outputs=[output], execution_count=None, tags=(SCORER_TAG,), grader="trusted", grade=grade,
            signature=signature,
        )
        self.meta["final"] = copy.deepcopy(grade)
        self.meta["signature"] = signature

    def finish(self, final: dict[str, Any] | None) -> None:
        """End the episode with its result (None: closed without one), signed as `add_scorer` signs."""
        self.meta["ended"] = utcnow()
        self.meta["final"] = copy.deepcopy(final)
        self.meta["signature"] = self.sign(self.meta["final"])

    def sign(self, grade: Mapping[str, Any] | None) -> dict[str, Any]:
        """The signature of a grade written into this notebook (see `notebook_identity`)."""
        self.meta.setdefault("run_id", uuid.uuid4().hex)  # a notebook nbdojo did not create (a play) gets one
        key = signing.load_key()
        return {"alg": signing.ALGORITHM, "key": signing.key_id(key),
                "value": signing.sign(grade, notebook_identity(self.nb))}

    def set_usage(self, usage: dict[str, Any]) -> None:
        self.meta["usage"] = dict(usage)

    def save(self, *, durable: bool | None = None) -> Path:
        """Validate what is new, then write atomically: a reader never sees a half-written notebook.
        `durable`: fsync now (default: once the episode has ended; else at most every few seconds)."""
        return self.file.write(self.nb, durable=bool(self.meta.get("ended")) if durable is None else durable)


#: What a signature binds a grade to, besides the notebook's code: who ran what, when, as which run.
SIGNED_META = ("run_id", "competition", "agent", "model", "participant", "seed", "started", "sandbox", "replay_of")
VERIFIED = "verified"
UNSIGNED = "unsigned"
OTHER_KEY = "signed with another nbdojo home's key"
ALTERED = "altered, or copied from another notebook"


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def notebook_identity(nb: Mapping[str, Any]) -> dict[str, Any]:
    """What makes a notebook this run: its `SIGNED_META` fields and a digest of its code cells' sources
    (the scorer cell aside), so a grade copied into another notebook, or kept under other code, fails."""
    meta = _mapping(_mapping(nb.get("metadata")).get("nbdojo"))
    code = hashlib.sha256()
    for cell in nb.get("cells") or []:
        cell = _mapping(cell)
        if cell.get("cell_type") != "code" or SCORER_TAG in (_mapping(cell.get("metadata")).get("tags") or []):
            continue
        source = cell.get("source", "")
        code.update(json.dumps("".join(map(str, source)) if isinstance(source, list) else str(source)).encode() + b"\n")
    return {**{key: meta.get(key) for key in SIGNED_META}, "code_sha256": code.hexdigest()}


def verification(nb: Mapping[str, Any]) -> str:
    """`VERIFIED` if this home's key signed the notebook's result (`metadata.nbdojo.final`) for this
    notebook; else why not: `UNSIGNED`, `OTHER_KEY` (a hint: the key id is the notebook's say) or `ALTERED`."""
    meta = _mapping(_mapping(nb.get("metadata")).get("nbdojo"))
    signature = _mapping(meta.get("signature"))
    if not signature.get("value"):
        return UNSIGNED
    if signing.verify(meta.get("final"), notebook_identity(nb), signature.get("value")):
        return VERIFIED
    try:
        mine = signing.key_id()
    except (OSError, ValueError):
        mine = None
    return OTHER_KEY if signature.get("key") and signature.get("key") != mine else ALTERED


def is_verified(nb: Mapping[str, Any]) -> bool:
    return verification(nb) == VERIFIED


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    """A notebook from disk; a file that is not one (not JSON, or JSON nested too deep to decode) is a ValueError."""
    try:
        return nbformat.read(str(path), as_version=4)
    except RecursionError:
        raise ValueError(f"{path} is nested too deeply to be a notebook") from None


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
