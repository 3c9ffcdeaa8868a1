"""Replay a trajectory (or a person's notebook) with papermill in a fresh sandboxed kernel, and say how faithful it was.

The notebook runs on this machine's copy of the competition: papermill injects DATA_DIR,
a fresh WORKSPACE, SUBMISSION_PATH and SEED. The competition and the limits come from
nbdojo's own record of the play or run (`nbdojo.records`, matched by the notebook's real
path), never from what the notebook says; a notebook nbdojo has no record of is replayed on
the registry's defaults (its competition must be a registered id). Either way every cap
(memory, processes, disk, output, cell timeout, wall clock, steps) is at most nbdojo's
default (`Limits()`): a notebook can tighten a cap, never loosen or lift it. The old scorer
cell is dropped and the submission is graded by the trusted grader here, which appends a
fresh scorer cell. Cells whose recorded run timed out, died or ran out of memory (or that
were never run), and work cells past the step budget, are skipped with a note. The report
compares the score (within a tolerance), each cell's status with the recorded one, and
finds the first cell whose text outputs differ once obvious noise (timings, memory
addresses, paths, temp file names) is normalised away.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import nbformat

from nbdojo.notebook import nbdojo_meta, set_nbdojo_meta
from nbdojo.errors import ConfigError, SubmissionError
from nbdojo.tools.play import (
    SUBMISSION_FILE,
    as_trajectory,
    cell_source,
    cell_status,
    is_work_cell,
    notebook_parameters,
    read_notebook,
    sandbox_kernelspec,
)
from nbdojo.trajectory import SCORER_TAG, utcnow

log = logging.getLogger(__name__)

#: Recorded statuses whose cell is not run again: it had no lasting effect, or it killed the kernel.
SKIPPED_STATUSES = {"timeout", "died", "oom", "not run"}
SKIP_TAG = "skip-execution"  # nbclient leaves cells with this tag alone
#: The Limits fields that bound a replay, each at most its default (None, "no cap", is never taken).
CAP_FIELDS = ("memory_bytes", "max_processes", "disk_bytes", "output_bytes", "cell_timeout_s", "wall_clock_s",
              "max_steps")
ENGINE = "nbdojo-replay"  # papermill engine: nbclient with the output cap
DEFAULT_TOLERANCE = 1e-4
MARKER = ".nbdojo-replay"  # marks a replay folder: only such a folder is wiped before the next replay
_SUBMIT_PATH = re.compile(r"\*\*submit\*\* `([^`]+)`")  # the env's submit cell (as agents/replay.py reads it)

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_NOISE = [
    (re.compile(r"/tmp/ipykernel_\d+/\d+\.py"), "<cell>"),
    (re.compile(r"<ipython-input-\d+-[0-9a-f]+>"), "<cell>"),
    (re.compile(r"\b0x[0-9a-fA-F]{4,}\b"), "0x?"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?"), "<timestamp>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:it/s|s/it)\b"), "<rate>"),
    (re.compile(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\s?(?:ns|µs|us|ms|s|sec|secs|seconds|min|mins|minutes)\b"), "<time>"),
    (re.compile(r"\bpid[ =:]*\d+", re.IGNORECASE), "pid ?"),
]


def normalize(text: str, replacements: dict[str, str] | None = None) -> str:
    """Text output with run-to-run noise removed: ANSI codes, carriage-return progress, addresses,
    timings, timestamps, kernel temp files, and the run's own paths (`replacements`)."""
    text = _ANSI.sub("", text)
    for old, new in sorted((replacements or {}).items(), key=lambda kv: -len(kv[0])):
        if old:
            text = text.replace(old, new)
    lines = []
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.rsplit("\r", 1)[-1]  # a progress bar keeps only what was last drawn
        for pattern, repl in _NOISE:
            line = pattern.sub(repl, line)
        lines.append(line.rstrip())
    return "\n".join(lines).strip("\n")


def output_text(cell: Any, replacements: dict[str, str] | None = None) -> str:
    """A cell's text outputs as one comparable string: stdout, stderr, results (text/plain), images counted,
    errors as `ename: evalue` (tracebacks hold paths and line numbers that are not the point)."""
    streams: dict[str, list[str]] = {"stdout": [], "stderr": []}
    rest: list[str] = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            streams.setdefault(out.get("name", "stdout"), []).append("".join(text) if isinstance(text, list) else text)
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            plain = data.get("text/plain", "")
            rest.append("[result] " + ("".join(plain) if isinstance(plain, list) else plain))
            images = sorted(k for k in data if k.startswith("image/"))
            if images:
                rest.append(f"[image] {', '.join(images)}")
        elif kind == "error":
            rest.append(f"[error] {out.get('ename')}: {out.get('evalue')}")
    parts = [f"[{name}] {''.join(texts)}" for name, texts in streams.items() if texts] + rest
    return normalize("\n".join(parts), replacements)


@dataclass
class CellFidelity:
    """One code cell: its recorded status and output against the replay's."""

    index: int  # position in the original notebook
    step: int | None
    recorded: str
    replayed: str  # ok | error | skipped | not run
    outputs_match: bool | None  # None: not compared (skipped, or nothing recorded)
    summary: str
    note: str = ""

    @property
    def status_match(self) -> bool:
        return self.replayed == "skipped" or self.recorded == self.replayed


@dataclass
class ReplayReport:
    """How faithfully a notebook replayed."""

    source: Path
    output: Path
    workspace: Path
    competition: str
    recorded_score: float | None
    replayed_score: float | None
    tolerance: float
    score_reproduced: bool
    cells: list[CellFidelity] = field(default_factory=list)
    first_divergence: int | None = None  # cell index in the original notebook
    divergence: str = ""
    error: str | None = None  # why the replay stopped early, if it did
    grade: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    limits: dict[str, Any] = field(default_factory=dict)  # the caps the replay ran under

    @property
    def status_mismatches(self) -> list[CellFidelity]:
        return [c for c in self.cells if not c.status_match]

    def summary(self) -> str:
        def fmt(score: float | None) -> str:
            return "none" if score is None else f"{score:.6g}"

        verdict = "reproduced" if self.score_reproduced else "NOT reproduced"
        lines = [f"{self.competition}: score {verdict}: recorded {fmt(self.recorded_score)}, "
                 f"replayed {fmt(self.replayed_score)} (tolerance {self.tolerance:g})"]
        same = sum(1 for c in self.cells if c.status_match)
        lines.append(f"cell statuses: {same}/{len(self.cells)} as recorded")
        if self.first_divergence is None:
            lines.append("outputs: every compared cell matches the recording")
        else:
            lines.append(f"outputs: first divergence at cell {self.first_divergence}: {self.divergence}")
        if self.error:
            lines.append(f"the replay stopped early: {self.error}")
        lines += [f"note: {n}" for n in self.notes]
        lines.append(f"replayed notebook: {self.output}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("source", "output", "workspace"):
            data[key] = str(data[key])
        return data


def _recorded_score(nb: nbformat.NotebookNode) -> float | None:
    final = (nbdojo_meta(nb)).get("final") or {}
    if final.get("score") is not None:
        return float(final["score"])
    for cell in reversed(nb.cells):
        grade = ((nbdojo_meta(cell)).get("grade") or {}) if SCORER_TAG in (
            cell.metadata.get("tags") or []) else {}
        if grade.get("score") is not None:
            return float(grade["score"])
    return None


def _submission_path(nb: nbformat.NotebookNode, params: dict[str, Any]) -> str:
    """What the recorded run submitted: the trajectory's submit step, else the SUBMISSION_PATH parameter."""
    if "nbdojo" in nb.metadata:
        for cell in reversed(nb.cells):
            if cell.cell_type == "markdown" and (nbdojo_meta(cell)).get("action") == "submit":
                match = _SUBMIT_PATH.search(cell_source(cell))
                if match:
                    return match.group(1)
    return str(params.get("SUBMISSION_PATH") or SUBMISSION_FILE)


def replay_limits(saved: Any) -> Any:
    """The `Limits` a replay runs under: each cap field (CAP_FIELDS) is the smaller of nbdojo's default and
    the saved value; a saved value that is missing, None (no cap), not a positive finite number, or looser
    than the default gives the default. Whatever a notebook records, a replay is never less capped than an
    episode on the defaults. Other fields are the defaults."""
    from nbdojo.limits import Limits

    default = Limits()
    saved = saved if isinstance(saved, dict) else {}
    caps: dict[str, Any] = {}
    for name in CAP_FIELDS:
        cap, value = getattr(default, name), saved.get(name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            continue
        value = type(cap)(value)  # an int cap stays an int
        if value > 0:
            caps[name] = min(cap, value)
    return replace(default, **caps)


def _kernel_manager_class(spec_root: Path) -> type:
    """An nbclient kernel manager that finds kernel specs in `spec_root` (a temporary one)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class ReplayKernelManager(AsyncKernelManager):  # type: ignore[misc]
        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self) -> KernelSpecManager:
            return KernelSpecManager(kernel_dirs=[str(spec_root)])

    return ReplayKernelManager


def _message_bytes(msg: dict[str, Any]) -> int:
    """About how much an output message adds to a cell (characters of its text or data)."""
    content = msg.get("content") or {}
    if msg.get("msg_type") == "stream":
        return len(content.get("text") or "")
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v, default=str))
               for v in (content.get("data") or {}).values())


_ENGINE_REGISTERED = False


def _register_engine() -> str:
    """papermill's nbclient engine, with each cell's outputs kept up to the client's `output_bytes`.

    Past the cap a cell's further outputs are dropped as they arrive (one note says so), so a notebook
    that prints without end cannot fill the host's memory; error outputs are always kept, a cleared
    output starts the count again.
    """
    global _ENGINE_REGISTERED
    if _ENGINE_REGISTERED:
        return ENGINE
    from papermill.clientwrap import PapermillNotebookClient
    from papermill.engines import NBClientEngine, papermill_engines
    from traitlets import Integer

    class CappedClient(PapermillNotebookClient):  # type: ignore[misc]
        output_bytes = Integer(0, help="Most output characters kept per cell (0: no cap).").tag(config=True)

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._kept: dict[int, int] = {}

        def clear_output(self, outs: list, msg: dict[str, Any], cell_index: int) -> None:
            if not (msg.get("content") or {}).get("wait"):
                self._kept.pop(cell_index, None)
            super().clear_output(outs, msg, cell_index)

        def output(self, outs: list, msg: dict[str, Any], display_id: str | None, cell_index: int) -> Any:
            if self.output_bytes and msg.get("msg_type") != "error":
                if self.clear_before_next_output:  # a clear_output(wait=True) empties the cell first
                    self._kept.pop(cell_index, None)
                kept, size = self._kept.get(cell_index, 0), _message_bytes(msg)
                if kept + size > self.output_bytes:
                    if kept > self.output_bytes:
                        return None  # dropped already, and said so
                    self._kept[cell_index] = self.output_bytes + 1
                    room = self.output_bytes - kept
                    if msg.get("msg_type") == "stream" and room > 0:  # keep the head of the text that fits
                        head = {**msg, "content": {**msg["content"], "text": msg["content"]["text"][:room]}}
                        super().output(outs, head, display_id, cell_index)
                    outs.append(nbformat.v4.new_output("stream", name="stderr", text=(
                        f"\n[nbdojo replay] output past {self.output_bytes:,} characters was dropped.\n")))
                    return None
                self._kept[cell_index] = kept + size
            return super().output(outs, msg, display_id, cell_index)

    class CappedEngine(NBClientEngine):  # type: ignore[misc]
        @classmethod
        def execute_managed_notebook(cls, nb_man: Any, kernel_name: str, log_output: bool = False,
                                     stdout_file: Any = None, stderr_file: Any = None, start_timeout: int = 60,
                                     execution_timeout: float | None = None, **kwargs: Any) -> Any:
            for key in ("input_path", "timeout", "startup_timeout"):
                kwargs.pop(key, None)
            return CappedClient(nb_man, timeout=execution_timeout, startup_timeout=start_timeout,
                                kernel_name=kernel_name, log=logging.getLogger("papermill"), log_output=log_output,
                                stdout_file=stdout_file, stderr_file=stderr_file, **kwargs).execute()

    papermill_engines.register(ENGINE, CappedEngine)
    _ENGINE_REGISTERED = True
    return ENGINE


def _prepare(nb: nbformat.NotebookNode, max_steps: int | None = None
             ) -> tuple[nbformat.NotebookNode, list[int], dict[int, str], list[str]]:
    """The notebook to execute: old scorer cells dropped, cells not to run tagged to skip (those whose
    recorded run timed out, died or ran out of memory, and work cells past `max_steps`).
    Returns it, the original index of each kept cell, the skipped cells' reasons, and notes."""
    run = copy.deepcopy(nb)
    any_recorded = any(c.cell_type == "code" and cell_status(c) != "not run" for c in nb.cells)
    kept, cells, skipped, notes = [], [], {}, []
    steps, over = 0, []
    for index, cell in enumerate(run.cells):
        tags = list(cell.metadata.get("tags") or [])
        meta = nbdojo_meta(cell)
        if SCORER_TAG in tags:
            continue
        if cell.cell_type == "markdown" and meta.get("action") == "restart_kernel":
            notes.append(f"the recorded run restarted its kernel before cell {index + 1}; the replay keeps its state")
        if cell.cell_type == "code":
            recorded = meta.get("status") or cell_status(cell)
            if recorded == "not run" and not any_recorded:
                recorded = "ok"  # a notebook saved without outputs: run it all, compare the score only
            if recorded in SKIPPED_STATUSES:
                skipped[index] = recorded
                tags.append(SKIP_TAG)
            elif max_steps is not None and is_work_cell(cell) and cell_source(cell).strip() and \
                    (steps := steps + 1) > max_steps:
                skipped[index] = "over budget"
                over.append(index)
                tags.append(SKIP_TAG)
            elif recorded == "error" and "raises-exception" not in tags:
                tags.append("raises-exception")  # the recorded run went on past it
            if tags:
                cell.metadata["tags"] = tags
        kept.append(index)
        cells.append(cell)
    run.cells = cells
    if over:
        notes.append(f"{len(over)} cell(s) past the step budget ({max_steps} cells) were not run")
    return run, kept, skipped, notes


def replay_notebook(
    notebook: str | Path, *, competition: str | None = None, output: str | Path | None = None,
    tolerance: float = DEFAULT_TOLERANCE, cell_timeout: float | None = None, sandbox: bool = True,
    start_timeout: float = 120.0, progress: bool = False,
) -> ReplayReport:
    """Re-execute `notebook` with papermill in a fresh sandboxed kernel, regrade it, and compare.

    Writes `<stem>.replay.ipynb` next to the original (unless `output` says otherwise), and beside it the
    folder `<stem>.replay/` holding the replay's fresh `workspace/`.

    What the replay trusts: nbdojo's record of the play or run (`nbdojo.records.find_record`, by the
    notebook's real path) gives the competition and the limits; `competition` must then agree with it.
    A notebook without a record gives its competition (`competition`, else `metadata.nbdojo.competition`),
    which must be a registered id, and its saved limits. Either way the limits go through
    `replay_limits`: memory, processes, disk, output bytes, cell timeout, wall clock and steps are each at
    most nbdojo's default. `cell_timeout` may tighten the cell timeout, never loosen it. The workspace is
    always a fresh one; the notebook's WORKSPACE and DATA_DIR are never used."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from nbdojo import grading
    from nbdojo.competitions import check_competition_id, get_competition, is_prepared, load, prepare
    from nbdojo.records import find_record

    source = Path(notebook).resolve()
    trusted = find_record(source)
    nb = read_notebook(source)
    meta = dict(nbdojo_meta(nb))
    if competition is not None:
        check_competition_id(competition)
    if trusted is not None:
        if competition is not None and competition != trusted.competition:
            raise ConfigError(f"{source} is a {trusted.kind} of {trusted.competition!r} (nbdojo's record), "
                              f"not of {competition!r}.")
        competition, saved_limits = trusted.competition, trusted.limits
    else:
        competition, saved_limits = competition or meta.get("competition"), meta.get("limits")
    if not competition:
        raise ConfigError(f"{source} does not say which competition it plays (metadata.nbdojo.competition): "
                          "pass --competition.")
    spec = get_competition(competition)  # registered ids only: never a folder the notebook names
    data = load(spec) if is_prepared(spec) else prepare(spec)
    out = Path(output).resolve() if output else source.with_name(f"{source.stem}.replay.ipynb")
    folder = out.with_name(out.stem if out.stem.endswith(".replay") else f"{out.stem}.replay")
    if folder.exists():
        if not (folder / MARKER).exists():
            raise ConfigError(f"{folder} exists and is not nbdojo's replay folder: move it, or pass --output.")
        shutil.rmtree(folder)
    workspace = folder / "workspace"
    workspace.mkdir(parents=True)
    (folder / MARKER).write_text(f"nbdojo replay of {source}\n")

    old = notebook_parameters(nb)
    submit_path = _submission_path(nb, old)
    params = {"DATA_DIR": str(data.public_dir), "WORKSPACE": str(workspace),
              "SUBMISSION_PATH": str(old.get("SUBMISSION_PATH") or SUBMISSION_FILE),
              "SEED": old.get("SEED", meta.get("seed"))}
    limits = replay_limits(saved_limits)
    run, kept, skipped, notes = _prepare(nb, limits.max_steps)
    timeout = min(float(cell_timeout), limits.cell_timeout_s) if cell_timeout else limits.cell_timeout_s
    if trusted is None:
        notes.append("nbdojo has no record of this notebook: replayed on the registry's defaults")

    with tempfile.TemporaryDirectory(prefix="nbdojo-replay-") as tmp:
        started = time.monotonic()

        def cell_timeout_now(cell: Any) -> float:  # the cell timeout, or what is left of the wall clock if less
            return max(1.0, min(timeout, limits.wall_clock_s - (time.monotonic() - started)))

        engine: dict[str, Any] = {"engine_name": _register_engine(), "output_bytes": limits.output_bytes,
                                  "timeout_func": cell_timeout_now}
        kernel_name = "python3"
        if sandbox:
            kernel_name = "nbdojo-replay"
            kspec = sandbox_kernelspec(workspace=workspace, data_dir=data.public_dir, limits=limits,
                                       display_name=f"nbdojo replay · {spec.id} (sandboxed)")
            (Path(tmp) / "kernels" / kernel_name).mkdir(parents=True)
            (Path(tmp) / "kernels" / kernel_name / "kernel.json").write_text(json.dumps(kspec))
            engine["kernel_manager_class"] = _kernel_manager_class(Path(tmp) / "kernels")
        else:
            log.warning("nbdojo replay: the notebook runs WITHOUT a sandbox (it can read the private answers).")
        executed_path = Path(tmp) / "executed.ipynb"
        error = None
        try:
            papermill.execute_notebook(
                run, str(executed_path), parameters=params, kernel_name=kernel_name, progress_bar=progress,
                cwd=str(workspace), execution_timeout=timeout, start_timeout=int(start_timeout), **engine,
            )
        except PapermillExecutionError as exc:
            error = f"cell raised {exc.ename}: {exc.evalue}"
        except Exception as exc:  # noqa: BLE001 - a timeout or a dead kernel: report it, keep what ran
            error = f"{type(exc).__name__}: {exc}"
        if error and time.monotonic() - started >= limits.wall_clock_s:
            error = f"the replay ran out of its wall clock ({limits.wall_clock_s:g} s): {error}"
        if not executed_path.exists():
            raise ConfigError(f"The replay did not start: {error}")
        executed = nbformat.read(str(executed_path), as_version=4)

    from papermill.execute import ERROR_MARKER_TAG

    executed.cells = [c for c in executed.cells if ERROR_MARKER_TAG not in (c.metadata.get("tags") or [])]
    replacements = {str(workspace): "<WORKSPACE>", str(data.public_dir): "<DATA_DIR>"}
    for key, placeholder in (("WORKSPACE", "<WORKSPACE>"), ("DATA_DIR", "<DATA_DIR>")):
        if isinstance(old.get(key), str):
            replacements[old[key]] = placeholder
    body = [c for c in executed.cells if "injected-parameters" not in (c.metadata.get("tags") or [])]
    cells: list[CellFidelity] = []
    first, detail = None, ""
    for index, cell in zip(kept, body, strict=True):
        original = nb.cells[index]
        tags = [t for t in (cell.metadata.get("tags") or []) if t != SKIP_TAG]
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        if cell.cell_type != "code" or not cell_source(cell).strip():
            continue
        meta_cell = nbdojo_meta(original)
        recorded = meta_cell.get("status") or cell_status(original)
        summary = next((ln for ln in cell_source(cell).splitlines() if ln.strip()), "")[:80]
        if index in skipped:
            why = (f"it is past the step budget ({limits.max_steps} cells)" if skipped[index] == "over budget"
                   else f"the recorded cell's status was {skipped[index]}")
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"[nbdojo replay] not run: {why}.\n")]
            shown = recorded if skipped[index] == "over budget" else skipped[index]
            row = CellFidelity(index, meta_cell.get("step"), shown, "skipped", None, summary,
                               note=f"not run: {why}")
        else:
            replayed = cell_status(cell)
            if replayed == "ok" and (cell.metadata.get("papermill") or {}).get("status") == "pending":
                replayed = "not run"
            compared = cell_status(original) != "not run" and replayed != "not run"
            a, b = output_text(original, replacements), output_text(cell, replacements)
            match = (a == b) if compared else None
            row = CellFidelity(index, meta_cell.get("step"), recorded, replayed, match, summary)
            if first is None and (match is False or (compared and not row.status_match)):
                first, detail = index, _first_difference(a, b, summary)
        cell.metadata["nbdojo_replay"] = {"source_cell": index, "status": row.replayed,
                                          "outputs_match": row.outputs_match}
        cells.append(row)

    grade, replayed_score = None, None
    try:
        result = grading.grade_workspace_file(data, workspace, submit_path, part="private")  # the trusted reader
        grade, replayed_score = {"how": "replayed", **result.to_dict()}, result.score
        report_text = result.report()
    except SubmissionError as exc:
        notes.append(f"no gradable submission: {exc}")
        report_text = f"No valid submission was made: nothing to grade. ({exc})"
    recorded_score = _recorded_score(nb)
    reproduced = (recorded_score is None and replayed_score is None) or (
        recorded_score is not None and replayed_score is not None and abs(recorded_score - replayed_score) <= tolerance)

    report = ReplayReport(
        source=source, output=out, workspace=workspace, competition=spec.id, recorded_score=recorded_score,
        replayed_score=replayed_score, tolerance=tolerance, score_reproduced=reproduced, cells=cells,
        first_divergence=first, divergence=detail, error=error, grade=grade, notes=notes, limits=asdict(limits),
    )
    final_nb = nbformat.v4.new_notebook(metadata=copy.deepcopy(nb.metadata))
    final_nb.cells = executed.cells  # papermill's injected-parameters cell stays after the parameters cell
    new_meta = dict(nbdojo_meta(final_nb))
    new_meta.update({
        "competition": spec.id, "final": grade, "workspace": str(workspace), "data_dir": str(data.public_dir),
        "replay_of": str(source), "limits": asdict(limits),  # the caps the replay ran under
        "replay": {"replayed": utcnow(), "sandbox": sandbox, "tolerance": tolerance, "recorded_score": recorded_score,
                   "record": trusted.kind if trusted else None, "cell_timeout_s": timeout,
                   "replayed_score": replayed_score, "score_reproduced": reproduced, "first_divergence": first,
                   "status_mismatches": [c.index for c in report.status_mismatches], "error": error},
    })
    set_nbdojo_meta(final_nb, new_meta)
    final_nb.metadata.pop("papermill", None)
    trajectory = as_trajectory(final_nb, out)
    trajectory.add_scorer(spec.id, report_text, step=None, grade=grade)
    trajectory.save()
    return report


def _first_difference(recorded: str, replayed: str, summary: str) -> str:
    a, b = recorded.splitlines(), replayed.splitlines()
    for i in range(max(len(a), len(b))):
        x = a[i] if i < len(a) else "<nothing>"
        y = b[i] if i < len(b) else "<nothing>"
        if x != y:
            return f"`{summary}`: recorded {x[:120]!r}, replayed {y[:120]!r}"
    return f"`{summary}`: the statuses differ"
