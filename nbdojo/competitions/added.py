"""Adding competitions prepared elsewhere (`nbdojo competitions add PATH`) and removing them again.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

from nbdojo.competitions.data import _record_checksums
from nbdojo.competitions.registry import _REGISTERED, EXTERNAL_FILE, external_records
from nbdojo.competitions.spec import CompetitionSpec, check_competition_id
from nbdojo.config import competitions_dir, nbdojo_home
from nbdojo.errors import (
    ConfigError,
    UnknownCompetitionError,
)

__all__ = ["add_competition", "remove_competition"]


logger = logging.getLogger(__name__)

def _write_records(records: Mapping[str, Mapping[str, str]]) -> None:
    path = nbdojo_home() / EXTERNAL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(dict(sorted(records.items())), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)

def add_competition(path: str | Path, *, competition_id: str | None = None, replace: bool = False) -> "CompetitionSpec":
    """Register a competition prepared on disk in the MLE-bench or MLE-Dojo layout, for good.

    The layout is detected (see `nbdojo.competitions.layouts`); the answers and public CSV files are
    hashed now and verified whenever the competition is loaded; the registration is kept
    in `nbdojo_home()/external.json`, so other processes (and the CLI) see it.
    """
    from nbdojo.competitions.layouts import spec_from_folder

    if competition_id is not None:
        check_competition_id(competition_id)  # before the folder's code is imported
    folder = Path(path).expanduser().resolve()
    spec = spec_from_folder(folder, competition_id=competition_id)
    builtin = (competitions_dir() / check_competition_id(spec.id) / "competition.yaml").is_file()
    if builtin or spec.id in _REGISTERED:
        raise ConfigError(f"Competition id {spec.id!r} is taken by a built-in or registered competition; "
                          "choose another with --id.")
    records = external_records()
    if spec.id in records and not replace and Path(records[spec.id]["path"]) != folder:
        raise ConfigError(f"Competition {spec.id!r} was already added from {records[spec.id]['path']}; "
                          "pass --replace to point it at this folder, or choose another id with --id.")
    _record_checksums(spec)
    records[spec.id] = {"path": str(folder), "layout": spec.layout}
    _write_records(records)
    logger.info("added %s competition %s from %s", spec.layout, spec.id, folder)
    return spec

def remove_competition(competition_id: str) -> None:
    """Forget a competition added with `add_competition` (its files on disk are left alone)."""

    check_competition_id(competition_id)  # it names a folder under nbdojo_home() that is removed
    records = external_records()
    if competition_id not in records:
        known = list(records)
        raise UnknownCompetitionError(competition_id, difflib.get_close_matches(competition_id, known, n=3))
    del records[competition_id]
    _write_records(records)
    shutil.rmtree(nbdojo_home() / "external" / competition_id, ignore_errors=True)
