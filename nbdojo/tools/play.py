"""People play on the agents' terms: the same sandboxed kernel, limits and data view, graded the same way.

`play()` makes a play folder (a starter notebook and an empty workspace) and installs a
per-play kernel spec whose argv is the sandbox launcher command (`nbdojo.kernel.launcher`), so
JupyterLab, papermill or nbclient start the person's kernel exactly as an episode does.
`play()` also records the play in nbdojo's home (`nbdojo.records`). `score()` grades the
person's submission in the trusted process, in the workspace and for the competition that
record names (never the notebook's), and appends the same scorer cell and
`metadata.nbdojo` an agent's trajectory gets.

A sandboxed kernel has no network, so it cannot use Jupyter's default TCP sockets: the
`nbdojo-sandbox` kernel provisioner (registered as a `jupyter_client.kernel_provisioners`
entry point) gives every kernel IPC sockets in its own /tmp/nbk-* folder, which the
launcher binds into the sandbox.
"""

from __future__ import annotations

import ast
import contextlib
import getpass
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from jupyter_client.provisioning import LocalProvisioner
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbdojo.notebook import nbdojo_meta, set_nbdojo_meta
from nbdojo._package import __version__
from nbdojo.errors import ConfigError
from nbdojo.trajectory import PARAMETERS_TAG, SCORER_TAG, SETUP_SOURCE, Trajectory, parameters_source, utcnow

log = logging.getLogger(__name__)

PROVISIONER = "nbdojo-sandbox"
SUBMISSION_FILE = "submission.csv"
HUMAN = "human"
#: Cells nbdojo writes itself; they are neither a person's work nor an agent's step.
NBDOJO_TAGS = {PARAMETERS_TAG, "injected-parameters", SCORER_TAG}
NBDOJO_ACTIONS = {"setup", "score"}


# ----- the sandboxed kernel spec ------------------------------------------------------------

def _policy_index(argv: list[str]) -> int | None:
    """Where the launcher's policy JSON sits in a kernel command, if it is a launcher command."""
    if "nbdojo.kernel.launcher" in argv and "--policy" in argv:
        index = argv.index("--policy") + 1
        return index if index < len(argv) else None
    return None


class SandboxProvisioner(LocalProvisioner):  # type: ignore[misc]
    """Starts a launcher kernel spec with IPC sockets in a per-kernel folder shared with the sandbox.

    Each kernel also gets its own cgroup name; the folder and cgroup go when the kernel is
    shut down (they are kept across restarts, like the connection file).
    """

    _conn_dir: Path | None = None
    _cgroup_name: str | None = None
    _guard: Any = None
    _log: Any = None

    async def pre_launch(self, **kwargs: Any) -> dict[str, Any]:
        km = self.parent
        if self._conn_dir is None:  # a restart keeps the folder, the sockets' names and the key
            from nbdojo.kernel.leftovers import cgroup_name, connection_dir
            from nbdojo.kernel.caps import cgroups_wanted

            self._conn_dir = connection_dir()  # both named after this host (the Jupyter server)
            self._cgroup_name = cgroup_name(f"play-{uuid.uuid4().hex[:12]}") if cgroups_wanted() else None
        km.transport = "ipc"
        km.ip = str(self._conn_dir / "k")
        km.connection_file = str(self._conn_dir / "kernel.json")
        km.cache_ports = False
        if self._log is None:  # the kernel's own stdout/stderr (crash messages), as AgentKernel keeps them
            self._log = open(self._conn_dir / "kernel.log", "ab")  # noqa: SIM115 - closed in cleanup()
        kwargs.setdefault("stdout", self._log)
        kwargs.setdefault("stderr", self._log)
        kwargs = await super().pre_launch(**kwargs)
        cmd = list(kwargs["cmd"])
        index = _policy_index(cmd)
        if index is None:
            raise ConfigError(f"The {PROVISIONER!r} provisioner needs a kernel spec whose argv is nbdojo's "
                              "launcher command (python -m nbdojo.kernel.launcher --policy JSON -- ...).")
        policy = json.loads(cmd[index])
        policy["connection_dir"], policy["cgroup_name"] = str(self._conn_dir), self._cgroup_name
        cmd[index] = json.dumps(policy, sort_keys=True)
        kwargs["cmd"] = cmd
        return kwargs

    async def post_launch(self, **kwargs: Any) -> None:
        await super().post_launch(**kwargs)
        if self._guard is None:
            from nbdojo.kernel.caps import CapGuard

            index = _policy_index(list(self.parent.kernel_spec.argv))
            policy = json.loads(self.parent.kernel_spec.argv[index]) if index is not None else {}
            self._guard = CapGuard(self._cgroup_name, memory_bytes=policy.get("memory_bytes"),
                                   max_processes=policy.get("max_processes"))
        self._guard.arm(lambda: self.pid)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if restart:
            return
        if self._guard is not None:
            self._guard.close()
            self._guard = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._conn_dir is not None:
            shutil.rmtree(self._conn_dir, ignore_errors=True)
            self._conn_dir = None


def sandbox_kernelspec(*, workspace: Path, data_dir: Path, display_name: str, limits: Any = None,
                       gpus: list[int] | None = None, metadata: dict[str, Any] | None = None,
                       kernel_env: str | Path | None = None) -> dict[str, Any]:
    """A kernel.json whose argv is the sandbox launcher command: the agent's view, caps, toolbox and no network."""
    from nbdojo.limits import Limits
    from nbdojo.kernel.gpus import checked_gpus, sandbox_grant
    from nbdojo.kernel.sandbox import SandboxPolicy, launcher_argv
    from nbdojo.kernel.toolbox import find_toolbox

    limits = limits or Limits()
    given = checked_gpus(gpus)
    toolbox = find_toolbox(kernel_env)
    policy = SandboxPolicy(
        workspace=str(Path(workspace).resolve()), readonly=(str(Path(data_dir).resolve()),),
        memory_bytes=limits.memory_bytes, max_processes=limits.max_processes, max_file_bytes=limits.disk_bytes,
        **toolbox.sandbox_fields(), **sandbox_grant(given),
    )
    # parent_handle=1: the launcher clears JPY_PARENT_PID, so ipykernel would print its "standalone kernel"
    # banner; bubblewrap's --die-with-parent already ties the kernel to whoever started it.
    kernel = [toolbox.python, "-m", "ipykernel_launcher", "-f", "{connection_file}", "--IPKernelApp.parent_handle=1"]
    return {
        "argv": launcher_argv(policy, kernel),
        "display_name": display_name,
        "language": "python",
        "interrupt_mode": "message",  # the kernel runs in its own session, out of reach of a signal
        "metadata": {"debugger": False, "kernel_provisioner": {"provisioner_name": PROVISIONER},
                     "nbdojo": dict(metadata or {})},
    }


def play_jupyter_path() -> Path:
    """`nbdojo_home()/jupyter`: a Jupyter data folder holding only the plays' kernel specs (in `kernels/`).

    Nothing is installed in the user's or the environment's Jupyter folders; a Jupyter client finds a play's
    kernel when this folder is on its `JUPYTER_PATH` (nbdojo's own JupyterLab puts it there)."""
    from nbdojo.config import nbdojo_home

    return nbdojo_home() / "jupyter"


def play_kernels_dir() -> Path:
    """Where the plays' kernel specs live: `play_jupyter_path()/kernels/<name>/kernel.json`."""
    return play_jupyter_path() / "kernels"


def jupyter_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with `play_jupyter_path()` first on JUPYTER_PATH, so JupyterLab,
    papermill or nbclient started with it find the plays' kernel specs."""
    env = dict(os.environ if env is None else env)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(play_jupyter_path()), env.get("JUPYTER_PATH")) if p)
    return env


def install_kernelspec(name: str, spec: dict[str, Any]) -> Path:
    """Write a play's kernel spec to `play_kernels_dir()/<name>` (atomically) and return its folder."""
    if _slug(name) != name or name.startswith("."):
        raise ConfigError(f"{name!r} is not a kernel spec name.")
    root = play_kernels_dir()
    root.mkdir(parents=True, exist_ok=True)
    dest = root / name
    staged = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    (staged / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(staged, dest)
    return dest


def remove_kernelspec(name: str) -> bool:
    """Remove a play's kernel spec from `play_kernels_dir()`; False if there was none."""
    dest = play_kernels_dir() / name
    if _slug(name) != name or name.startswith(".") or not (dest / "kernel.json").is_file():
        return False
    shutil.rmtree(dest)
    return True


# ----- notebooks ----------------------------------------------------------------------------

def cell_source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def notebook_parameters(nb: nbformat.NotebookNode) -> dict[str, Any]:
    """DATA_DIR, WORKSPACE, SUBMISSION_PATH, SEED... as the notebook last set them: its `parameters`
    cell, overridden by a papermill `injected-parameters` cell (literal assignments only)."""
    found: dict[str, Any] = {}
    for tag in (PARAMETERS_TAG, "injected-parameters"):
        for cell in nb.cells:
            if cell.cell_type != "code" or tag not in (cell.metadata.get("tags") or []):
                continue
            try:
                tree = ast.parse(cell_source(cell))
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    with contextlib.suppress(ValueError, TypeError, SyntaxError):  # not a literal: not a parameter
                        found[node.targets[0].id] = ast.literal_eval(node.value)
    return found


def is_work_cell(cell: Any) -> bool:
    """A code cell that is the participant's work, not one nbdojo wrote (parameters, setup, scorer)."""
    if cell.cell_type != "code":
        return False
    meta = nbdojo_meta(cell)
    return not (set(cell.metadata.get("tags") or []) & NBDOJO_TAGS or meta.get("action") in NBDOJO_ACTIONS)


def as_trajectory(nb: nbformat.NotebookNode, path: Path) -> Trajectory:
    """Wrap an existing notebook so Trajectory's cell builders (add_scorer) and atomic save apply to it."""
    trajectory = object.__new__(Trajectory)
    trajectory.path, trajectory.nb = Path(path), nb
    return trajectory


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    try:
        return nbformat.read(str(path), as_version=4)
    except FileNotFoundError:
        raise ConfigError(f"No notebook at {path}.") from None
    except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
        raise ConfigError(f"Cannot read {path} as a notebook: {exc}") from None


# ----- play ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Play:
    """A person's play folder: the starter notebook, its workspace and the kernel spec it names."""

    notebook: Path
    workspace: Path
    kernel_name: str
    kernelspec_dir: Path


def participant_name(name: str | None = None) -> str:
    if name:
        return name
    try:
        return os.environ.get("USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - no passwd entry in some containers
        return "person"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "x"


def starter_notebook(
    *, spec: Any, data_dir: Path, workspace: Path, kernel_name: str, display_name: str, participant: str,
    seed: int | None, limits: Any, path: Path | None = None,
) -> nbformat.NotebookNode:
    """Header, parameters and setup cells (as in a trajectory), the description and how to submit."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": display_name, "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    set_nbdojo_meta(nb, {
        "version": __version__, "competition": spec.id, "agent": HUMAN, "participant": participant, "model": None,
        "seed": seed, "limits": asdict(limits), "kernel": kernel_name, "data_dir": str(data_dir),
        "workspace": str(workspace), "sandbox": True, "started": utcnow(), "ended": None, "final": None,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0},
    })
    gib = (limits.memory_bytes or 0) / 1024**3
    header = "\n".join([
        f"# nbdojo · {spec.title}",
        "",
        f"**Competition:** `{spec.id}` · **Participant:** {participant} (human) · **Seed:** {seed}",
        "",
        "You play on the agents' terms: this notebook's kernel runs in nbdojo's sandbox, with the public data "
        "read-only in `DATA_DIR`, your `WORKSPACE` as the working folder, no network, "
        f"{gib:.0f} GiB of memory and {limits.max_processes} processes. "
        f"Agents get {limits.max_steps} cells and {limits.wall_clock_s / 3600:.1f} h of wall clock; "
        "your cells and time are recorded the same way.",
    ])
    submit = "\n".join([
        "## How to submit",
        "",
        f"Write your predictions to `SUBMISSION_PATH` ({SUBMISSION_FILE!r}) in the workspace, in the format of "
        "`sample_submission.csv`. Save the notebook, then grade it from a terminal:",
        "",
        "```",
        f"nbdojo score {path or '<this notebook>'}",
        "```",
        "",
        "The grader runs outside your kernel (it reads the private answers), appends the scorer cell with your "
        "score, leaderboard position, HumanRank and medal, and records the same metadata as an agent run.",
    ])
    params = new_code_cell(parameters_source(data_dir=str(data_dir), workspace=str(workspace),
                                             submission_path=SUBMISSION_FILE, seed=seed),
                           metadata={"tags": [PARAMETERS_TAG], "nbdojo": {"step": 0, "action": "setup"}})
    setup = new_code_cell(SETUP_SOURCE, metadata={"nbdojo": {"step": 0, "action": "setup"}})
    nb.cells = [
        new_markdown_cell(header, metadata={"nbdojo": {"role": "header"}}),
        params,
        setup,
        new_markdown_cell(spec.description, metadata={"nbdojo": {"role": "description"}}),
        new_markdown_cell(submit, metadata={"nbdojo": {"role": "how-to-submit"}}),
        new_code_cell("# Your work starts here.\n"),
    ]
    return nb


def play(competition: str, *, out: str | Path = "plays", name: str | None = None, seed: int | None = 0,
         limits: Any = None, gpus: list[int] | None = None) -> Play:
    """Prepare a play folder `<out>/<competition>-<name>-<stamp>/` and install its sandboxed kernel spec
    in `play_kernels_dir()` (under nbdojo's home; `remove_play` removes it)."""
    from nbdojo.competitions import get_competition, is_prepared, load, prepare
    from nbdojo.limits import Limits
    from nbdojo.kernel.gpus import checked_gpus
    from nbdojo.records import new_run_folder, write_play_record

    spec = get_competition(competition)
    checked_gpus(gpus)  # a GPU this machine lacks fails before any folder is made
    data = load(spec) if is_prepared(spec) else prepare(spec)
    limits = limits or Limits()
    participant = participant_name(name)
    folder = new_run_folder(out, spec.id, participant).resolve()  # the one run-folder maker
    workspace = folder / "workspace"
    workspace.mkdir()
    digest = hashlib.sha1(str(folder).encode()).hexdigest()[:8]
    kernel_name = f"nbdojo-play-{_slug(spec.id)}-{digest}".lower()
    display = f"nbdojo · {spec.id} (sandboxed)"
    kspec = sandbox_kernelspec(workspace=workspace, data_dir=data.public_dir, display_name=display, limits=limits,
                               gpus=gpus, metadata={"competition": spec.id, "play_dir": str(folder)})
    spec_dir = install_kernelspec(kernel_name, kspec)
    notebook = folder / f"{spec.id}.ipynb"
    nb = starter_notebook(spec=spec, data_dir=data.public_dir, workspace=workspace, kernel_name=kernel_name,
                          display_name=display, participant=participant, seed=seed, limits=limits, path=notebook)
    as_trajectory(nb, notebook).save()
    write_play_record(notebook=notebook, competition=spec.id, workspace=workspace, limits=limits,
                      participant=participant, kernel=kernel_name)  # what `score` and `replay` trust
    return Play(notebook=notebook, workspace=workspace, kernel_name=kernel_name, kernelspec_dir=spec_dir)



def _play_notebooks(target: Path) -> list[Path]:
    if target.is_dir():
        return sorted(target.glob("*.ipynb"))
    return [target]


def remove_play(target: str | Path) -> list[Path]:
    """Remove a play's kernel spec and nbdojo's record of it (so it is no longer scored); its folder (the
    person's notebook and workspace) stays. `target`: the play's notebook, its folder, or its kernel spec's
    name. Returns what was removed; a target that is no play is a ConfigError."""
    from nbdojo.records import find_record, record_id, records_dir

    removed: list[Path] = []
    name = str(target)
    if _slug(name) == name and (play_kernels_dir() / name / "kernel.json").is_file() and not Path(name).exists():
        remove_kernelspec(name)
        return [play_kernels_dir() / name]
    for notebook in _play_notebooks(Path(target)):
        record = find_record(notebook) if notebook.is_file() else None
        if record is None or record.kind != "play":
            continue
        kernel = record.extra.get("kernel")
        if kernel and remove_kernelspec(str(kernel)):
            removed.append(play_kernels_dir() / str(kernel))
        path = records_dir() / f"{record_id(notebook)}.json"
        path.unlink(missing_ok=True)
        removed.append(path)
    if not removed:
        raise ConfigError(f"{target} is not a play nbdojo knows (a play's notebook, its folder, or a kernel spec "
                          f"in {play_kernels_dir()}).")
    return removed

# ----- score --------------------------------------------------------------------------------

def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)


def cell_timing(cell: Any) -> tuple[datetime | None, datetime | None]:
    """When a cell started and finished: JupyterLab's / nbclient's `metadata.execution`, papermill's
    `metadata.papermill`, or nbdojo's own `metadata.nbdojo` (started + duration_s)."""
    execution = cell.metadata.get("execution") or {}
    start = _parse_time(execution.get("iopub.status.busy") or execution.get("iopub.execute_input"))
    end = _parse_time(execution.get("shell.execute_reply") or execution.get("iopub.status.idle"))
    if start and end:
        return start, end
    pm = cell.metadata.get("papermill") or {}
    start, end = _parse_time(pm.get("start_time")), _parse_time(pm.get("end_time"))
    if start and end:
        return start, end
    meta = nbdojo_meta(cell)
    start = _parse_time(meta.get("started"))
    if start and isinstance(meta.get("duration_s"), (int, float)):
        from datetime import timedelta

        return start, start + timedelta(seconds=float(meta["duration_s"]))
    return None, None


def cell_status(cell: Any) -> str:
    """ok | error | not run, from a cell's outputs (for cells nbdojo did not record)."""
    if any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
        return "error"
    return "ok" if cell.get("execution_count") is not None or cell.get("outputs") else "not run"


@dataclass
class ScoreResult:
    """A person's graded notebook: the grade, and what `metadata.nbdojo` now records."""

    notebook: Path
    participant: str
    final: dict[str, Any]
    report: str
    cells_run: int
    errors: int
    wall_time_s: float | None
    timing: str  # "cells" | "files" | "none"
    sandboxed: bool
    meta: dict[str, Any] = field(default_factory=dict)


def score(notebook: str | Path, *, name: str | None = None, competition: str | None = None) -> ScoreResult:
    """Grade a person's play: the submission in the play's own workspace; append the scorer cell and the
    same `metadata.nbdojo` an agent run has. The notebook is rewritten atomically; an unreadable or invalid
    submission raises `SubmissionError` and leaves it untouched.

    The workspace, the competition and the limits come from nbdojo's record of the play (written by
    `play()`, kept in `nbdojo_home()/records`, see `nbdojo.records`), found by the notebook's real path,
    never from its parameters or metadata, which the person can edit: a WORKSPACE parameter naming
    another play's workspace grades nothing there. Only SUBMISSION_PATH is read from the notebook,
    and it must stay inside the play's workspace.

    Refused in one line (ConfigError), the notebook untouched:
    - a notebook nbdojo has no record of (copied, renamed, made elsewhere or by an older nbdojo): no
      workspace is known to be its own, so none is read; `nbdojo replay` re-runs it in a fresh
      workspace and grades what it writes there;
    - an agent's trajectory (a run record): it was graded when its episode ended and stays labelled
      with its agent, never `human`; `nbdojo replay` regrades it;
    - a `competition` other than the one the play was made for.
    """
    from nbdojo import grading
    from nbdojo.competitions import check_competition_id, get_competition, load
    from nbdojo.records import find_record, records_dir

    path = Path(notebook)
    trusted = find_record(path)
    if trusted is None:
        raise ConfigError(f"nbdojo has no record of a play at {path.resolve()} (in {records_dir()}): score grades "
                          "only a notebook that `nbdojo play` made here, in its own workspace; "
                          f"`nbdojo replay {path}` re-runs this one in a fresh workspace and grades that.")
    if trusted.kind != "play":
        raise ConfigError(f"{path} is the trajectory of an agent's run ({trusted.extra.get('agent') or 'agent'}), "
                          f"not a person's play: it was graded when its episode ended; `nbdojo replay {path}` "
                          "regrades it.")
    if competition is not None and check_competition_id(competition) != trusted.competition:
        raise ConfigError(f"{path} is a play of {trusted.competition!r}, not of {competition!r}.")
    nb = read_notebook(path)
    meta = dict(nbdojo_meta(nb))
    spec = get_competition(trusted.competition)
    params = notebook_parameters(nb)
    workspace = trusted.workspace
    # the one trusted reader: no links, no FIFOs, a size cap, one private copy (nbdojo.grading.submission)
    grade = grading.grade_workspace_file(load(spec), workspace, str(params.get("SUBMISSION_PATH") or SUBMISSION_FILE),
                                         part="private")

    nb.cells = [c for c in nb.cells if SCORER_TAG not in (c.metadata.get("tags") or [])]  # a re-score replaces it
    work = [c for c in nb.cells if is_work_cell(c) and cell_source(c).strip()]
    ran = [c for c in work if cell_status(c) != "not run"]
    starts, ends = [], []
    for step, cell in enumerate(ran, start=1):
        start, end = cell_timing(cell)
        status = cell_status(cell)
        old = dict(nbdojo_meta(cell))
        record = {**old, "step": step, "action": "execute_code", "status": old.get("status", status)}
        if start and end:
            starts.append(start)
            ends.append(end)
            record["started"] = start.isoformat(timespec="milliseconds")
            record["duration_s"] = round((end - start).total_seconds(), 3)
        if status == "error" and "raises-exception" not in (cell.metadata.get("tags") or []):
            cell.metadata["tags"] = [*(cell.metadata.get("tags") or []), "raises-exception"]
        set_nbdojo_meta(cell, record)
    errors = sum(1 for c in ran if cell_status(c) == "error")
    if starts:
        started, ended, timing = min(starts), max(ends), "cells"
    else:  # no execution timestamps: from the play's start to the last file written
        files = [path, *(p for p in Path(workspace).rglob("*") if p.is_file())] if Path(workspace).is_dir() else [path]
        ended = datetime.fromtimestamp(max(p.stat().st_mtime for p in files), timezone.utc)
        started = _parse_time(meta.get("started")) or datetime.fromtimestamp(
            min(p.stat().st_mtime for p in files), timezone.utc)
        timing = "files"
    wall = max(0.0, (ended - started).total_seconds())
    participant = participant_name(name or meta.get("participant") or trusted.extra.get("participant"))
    play_kernel = trusted.extra.get("kernel")
    used_kernel = (nb.metadata.get("kernelspec") or {}).get("name")
    sandboxed = bool(play_kernel) and used_kernel == play_kernel and bool(meta.get("sandbox", True))
    final = {"how": "scored", **grade.to_dict()}
    meta.update({
        "version": meta.get("version", __version__), "competition": spec.id, "agent": HUMAN, "model": None,
        "participant": participant, "started": started.isoformat(timespec="seconds"),
        "ended": ended.isoformat(timespec="seconds"), "wall_time_s": round(wall, 3), "timing": timing,
        "cells_run": len(ran), "errors": errors, "final": final, "sandbox": sandboxed, "scored": utcnow(),
        "usage": meta.get("usage") or {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0},
        "workspace": str(workspace), "limits": trusted.limits, "kernel": play_kernel,  # as recorded, not as edited
    })
    set_nbdojo_meta(nb, meta)
    trajectory = as_trajectory(nb, path)
    report = grade.report()
    trajectory.add_scorer(spec.id, report, step=len(ran) + 1, grade=final)
    trajectory.save()
    return ScoreResult(notebook=path, participant=participant, final=final, report=report, cells_run=len(ran),
                       errors=errors, wall_time_s=wall, timing=timing, sandboxed=sandboxed, meta=meta)
