"""The registry: every built-in competition, the ones added from disk (MLE-bench / MLE-Dojo layouts, kept in
`nbdojo_home()/external.json`) and the ones registered in this process. Ids are checked before any lookup.
"""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Mapping

from nbdojo.competitions.layouts import spec_from_folder
from nbdojo.competitions.spec import (
    CompetitionSpec,
    _id_problem,
    check_competition_id,
)
from nbdojo.config import competitions_dir, nbdojo_home
from nbdojo.errors import (
    ConfigError,
    NbdojoError,
    UnknownCompetitionError,
)

__all__ = ["external_records", "get_competition", "list_competitions", "register_competition", "unregister_competition"]


logger = logging.getLogger(__name__)

EXTERNAL_FILE = "external.json"

def external_records() -> dict[str, dict[str, str]]:
    """`nbdojo_home()/external.json`: id -> {"path", "layout"} of every competition added from disk."""
    path = nbdojo_home() / EXTERNAL_FILE
    if not path.is_file():
        return {}
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is unreadable ({exc}); fix it, or delete it and add the competitions again.") \
            from None
    return records if isinstance(records, dict) else {}

_REGISTERED: dict[str, CompetitionSpec] = {}

def _builtin_specs() -> dict[str, CompetitionSpec]:
    root = competitions_dir()
    paths = sorted(root.glob("*/competition.yaml")) if root.is_dir() else []
    return {spec.id: spec for spec in map(CompetitionSpec.from_yaml, paths)}

def _external_spec(competition_id: str, record: Mapping[str, str]) -> CompetitionSpec:

    return spec_from_folder(record["path"], layout=record.get("layout"), competition_id=competition_id)

def _external_specs() -> dict[str, CompetitionSpec]:
    specs = {}
    for competition_id, record in external_records().items():
        try:
            specs[competition_id] = _external_spec(competition_id, record)
        except NbdojoError as exc:  # a folder moved or broken since it was added: list the others
            logger.warning("skipping added competition %s: %s", competition_id, exc)
    return specs

def list_competitions() -> list[CompetitionSpec]:
    """Every built-in, added (`add_competition`) and registered competition, sorted by id."""
    specs = {**_external_specs(), **_builtin_specs(), **_REGISTERED}
    return [specs[key] for key in sorted(specs)]

def get_competition(competition_id: str) -> CompetitionSpec:
    """The registered spec for `competition_id`; an unknown id suggests close matches.

    Only the registry is looked up: `register_competition`, the built-in folders and the
    competitions added from disk. An id that is not well formed (a path, '/', '..', NUL...)
    is an UnknownCompetitionError in one line before anything is read or imported.
    """
    problem = _id_problem(competition_id)
    if problem:
        error = UnknownCompetitionError(str(competition_id)[:80])
        error.args = (problem,)
        raise error
    if competition_id in _REGISTERED:
        return _REGISTERED[competition_id]
    path = competitions_dir() / competition_id / "competition.yaml"
    if path.is_file():
        return CompetitionSpec.from_yaml(path)
    record = external_records().get(competition_id)
    if record is not None:
        return _external_spec(competition_id, record)
    known = [spec.id for spec in list_competitions()]
    raise UnknownCompetitionError(competition_id, difflib.get_close_matches(competition_id, known, n=3))

def register_competition(spec: CompetitionSpec, *, replace: bool = False) -> None:
    """Add a competition for this process only (`add_competition` keeps one across processes)."""
    builtin = (competitions_dir() / check_competition_id(spec.id) / "competition.yaml").is_file()
    if not replace and (spec.id in _REGISTERED or builtin):
        raise ConfigError(f"A competition with id {spec.id!r} is already registered; pass replace=True to override it.")
    _REGISTERED[spec.id] = spec
    logger.debug("registered competition %s from %s", spec.id, spec.folder)

def unregister_competition(competition_id: str) -> None:
    """Forget a competition added with `register_competition` (built-ins stay)."""
    _REGISTERED.pop(competition_id, None)

def _resolve(competition: str | CompetitionSpec) -> CompetitionSpec:
    return competition if isinstance(competition, CompetitionSpec) else get_competition(competition)
