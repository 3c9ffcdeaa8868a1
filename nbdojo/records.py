"""nbdojo's own record of every play and run: what `score` and `replay` trust, never the notebook.

A notebook says whatever its player (a person, or an agent's code through the kernel) made
it say: its parameters cell and `metadata.nbdojo` can name any folder as the workspace,
any string as the competition and `null` as a memory cap. So when `nbdojo play` makes a
play, and when `DojoEnv.reset` starts a run, nbdojo writes a record of it in its own home,
`nbdojo_home()/records/<record-id>.json`: the kind ("play" or "run"), the competition, the
workspace, the limits, the notebook's real path and when it was made. No kernel sees that
folder (the sandbox binds only the public data and the workspace), and it is private to
the host user (0700).

A notebook is matched to its record by the notebook's real path (symlinks resolved), never
by anything written inside it: an id in a notebook could be copied from another player's.
A notebook nbdojo did not make on this machine (copied, renamed, from elsewhere) has no
record; `score` refuses it and `replay` runs it on the registry's defaults (see there).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import uuid
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbdojo.config import nbdojo_home
from nbdojo.errors import ConfigError

__all__ = ["KINDS", "Record", "find_record", "record_id", "records_dir", "write_play_record", "write_run_record"]

RECORDS = "records"
KINDS = ("play", "run")


@dataclass(frozen=True)
class Record:
    """What nbdojo made: a person's play or an agent's run, as it was made (not as its notebook says now)."""

    id: str
    kind: str  # "play" | "run"
    competition: str
    workspace: Path
    notebook: Path
    limits: dict[str, Any]
    created: str
    #: Who: {"participant", "kernel"} for a play, {"agent", "model", "sandbox"} for a run.
    extra: dict[str, Any] = field(default_factory=dict)


def new_run_folder(out_dir: str | Path, *parts: str) -> Path:
    """A new folder `<out_dir>/<parts...>-<stamp>[-n]` for one run or play, made here and nowhere else
    (never an existing one: two runs started in the same second get -2, -3, ...)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = "-".join([*(re.sub(r"[^A-Za-z0-9_.-]+", "-", str(p)).strip("-") or "x" for p in parts), stamp])
    for n in range(1, 10_000):
        path = Path(out_dir) / (base if n == 1 else f"{base}-{n}")
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise ConfigError(f"could not create a run folder under {out_dir}")


def records_dir() -> Path:
    """`nbdojo_home()/records`: one JSON file per play or run."""
    return nbdojo_home() / RECORDS


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(Path(path).expanduser()))


def record_id(notebook: str | Path) -> str:
    """The id of the record of the notebook at this path: a hash of its real path (nothing inside it)."""
    return hashlib.sha256(str(_real(notebook)).encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _limits_dict(limits: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(limits) and not isinstance(limits, type):
        return dataclasses.asdict(limits)
    if isinstance(limits, dict):
        return dict(limits)
    if limits is None:
        from nbdojo.limits import Limits

        return dataclasses.asdict(Limits())
    raise ConfigError(f"limits must be a Limits or a dict, not {type(limits).__name__}.")


def _write(kind: str, *, notebook: str | Path, competition: str, workspace: str | Path, limits: Any,
           **extra: Any) -> Record:
    from nbdojo.competitions import check_competition_id
    from nbdojo.trajectory import utcnow

    check_competition_id(competition)
    record = Record(id=record_id(notebook), kind=kind, competition=competition, workspace=_real(workspace),
                    notebook=_real(notebook), limits=_limits_dict(limits), created=utcnow(), extra=dict(extra))
    folder = records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)  # the host user's alone: no other user forges or reads a record
    data = {"id": record.id, "kind": kind, "competition": competition, "workspace": str(record.workspace),
            "notebook": str(record.notebook), "limits": record.limits, "created": record.created, **record.extra}
    tmp = folder / f".{record.id}.{uuid.uuid4().hex[:8]}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, folder / f"{record.id}.json")  # a notebook made again at the same path gets the new record
    return record


def write_play_record(*, notebook: str | Path, competition: str, workspace: str | Path, limits: Any,
                      participant: str | None = None, kernel: str | None = None) -> Record:
    """Record a person's play (called by `nbdojo.tools.play.play` once its notebook is written)."""
    return _write("play", notebook=notebook, competition=competition, workspace=workspace, limits=limits,
                  participant=participant, kernel=kernel)


def write_run_record(*, notebook: str | Path, competition: str, workspace: str | Path, limits: Any,
                     agent: str | None = None, model: str | None = None, sandbox: bool = True) -> Record:
    """Record an agent's run (called by `DojoEnv.reset` once the trajectory notebook exists).

    `notebook` is the trajectory's path, `workspace` the run's workspace folder, `limits` the
    episode's `Limits` (or a dict of its fields).
    """
    return _write("run", notebook=notebook, competition=competition, workspace=workspace, limits=limits,
                  agent=agent, model=model, sandbox=bool(sandbox))


def find_record(notebook: str | Path) -> Record | None:
    """The record of the notebook at this path (matched by its real path), or None if nbdojo made none.

    A record file that is unreadable, or that is not the record of this very path, is a ConfigError.
    """
    from nbdojo.competitions import check_competition_id

    real = _real(notebook)
    path = records_dir() / f"{record_id(real)}.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        kind, competition = data["kind"], data["competition"]
        workspace, recorded = Path(data["workspace"]), Path(data["notebook"])
        limits = data.get("limits") or {}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"nbdojo's record {path} is unreadable ({type(exc).__name__}); delete it to treat "
                          f"{real} as a notebook nbdojo did not make.") from None
    if recorded != real or kind not in KINDS or not workspace.is_absolute() or not isinstance(limits, dict):
        raise ConfigError(f"nbdojo's record {path} does not describe {real}; delete it to treat the notebook as "
                          "one nbdojo did not make.")
    check_competition_id(competition)
    known = {"id", "kind", "competition", "workspace", "notebook", "limits", "created"}
    return Record(id=path.stem, kind=kind, competition=competition, workspace=workspace, notebook=recorded,
                  limits=dict(limits), created=str(data.get("created") or ""),
                  extra={k: v for k, v in data.items() if k not in known})
