"""Competitions: what each one is (spec), where to find it (registry), its data (built offline and verified),
the MLE-bench / MLE-Dojo layouts, the prepare kit for `prepare.py` files, and the reference ladders.

The built-in competitions live in `builtin/<id>/` (competition.yaml, description.md, prepare.py,
leaderboard.csv) and ship inside the wheel.
"""

from __future__ import annotations

from nbdojo.competitions.added import add_competition, remove_competition
from nbdojo.competitions.data import data_dir, is_prepared, load, prepare, verify
from nbdojo.competitions.registry import (
    external_records,
    get_competition,
    list_competitions,
    register_competition,
    unregister_competition,
)
from nbdojo.competitions.spec import (
    USAGE_COLUMN,
    CompetitionData,
    CompetitionSpec,
    check_competition_id,
    load_module,
)

__all__ = [
    "USAGE_COLUMN", "CompetitionData", "CompetitionSpec", "add_competition", "check_competition_id", "data_dir",
    "external_records", "get_competition", "is_prepared", "list_competitions", "load", "load_module", "prepare",
    "register_competition", "remove_competition", "unregister_competition", "verify",
]
