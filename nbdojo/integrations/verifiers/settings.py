"""What nbdojo's verifiers environment is made from: its plugin id and its checked settings (no verifiers import)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from nbdojo.errors import ConfigError

__all__ = ["TASKSET_ID", "check_settings"]

#: The taskset (and harness) id verifiers resolves to the module `nbdojo_verifiers`.
TASKSET_ID = "nbdojo-verifiers"


def check_settings(competitions: Sequence[str], seeds: Sequence[int], reward: str,
                   limits: dict[str, Any]) -> dict[str, Any]:
    """The episode limits as a dict of `Limits` fields, after checking every setting (one-line errors)."""
    from nbdojo.competitions import get_competition
    from nbdojo.limits import Limits
    from nbdojo.grading.rewards import check_mode

    if isinstance(competitions, str) or not competitions:
        raise ConfigError("competitions must be a non-empty list of competition ids, e.g. ['loan-default'].")
    for competition in competitions:
        get_competition(competition)  # an unknown id: "Did you mean ...?"
    if isinstance(seeds, (str, int)) or not seeds or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ConfigError(f"seeds must be a non-empty list of integers 0 or more, not {seeds!r}.")
    check_mode(reward)
    try:
        return asdict(Limits(**limits))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"Bad episode limits: {exc}") from None
