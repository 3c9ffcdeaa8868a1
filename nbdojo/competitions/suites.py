"""Suites: named sets of competitions a batch runs together (`nbdojo run --suite lite`), declared here, once.

`lite` is one small synthetic competition per kind (tabular, cv, nlp, timeseries, ranking, signal): a quick
look at an agent across every kind. `synthetic`, `real` and `all` follow the registry, so an added
competition joins `all` (and `real`) as soon as it is registered.
"""

from __future__ import annotations

import difflib

from nbdojo.errors import ConfigError

#: Suites with a fixed list of competitions.
DECLARED: dict[str, tuple[str, ...]] = {
    "lite": ("loan-default", "digits-noisy", "ticket-routing", "store-sales", "product-search", "sensor-activity"),
}
#: Suites read from the registry: every competition of that origin (None: every competition).
BY_ORIGIN: dict[str, str | None] = {"synthetic": "synthetic", "real": "real", "all": None}


def suite_names() -> list[str]:
    return sorted({*DECLARED, *BY_ORIGIN})


def suite_competitions(name: str) -> list[str]:
    """The competition ids of a suite, in a fixed order; an unknown suite is a one-line ConfigError."""
    from nbdojo.competitions.registry import list_competitions

    if name in DECLARED:
        return list(DECLARED[name])
    if name in BY_ORIGIN:
        origin = BY_ORIGIN[name]
        return [spec.id for spec in list_competitions() if origin is None or spec.origin == origin]
    close = difflib.get_close_matches(name, suite_names(), n=2)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ConfigError(f"Unknown suite {name!r}.{hint} (suites: {', '.join(suite_names())})")
