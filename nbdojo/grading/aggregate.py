"""Aggregates of a batch: per agent × competition over seeds, and per agent over competitions.

Input rows are episode records as a batch writes them (`EpisodeResult.to_dict()` / `EpisodeFailure.to_dict()`).
Per agent × competition: mean ± standard error (sample stdev / sqrt(n)) of the score, the normalized score
and HumanRank over the episodes that were graded; the share of finished episodes with any medal (gold,
silver or bronze, as MLE-bench counts); and pass@k with k the number of finished seeds (1 when any seed got
a medal). An episode that failed (an error, an interruption) counts in `failed`, in no mean. The overall row
of an agent is the macro mean over its competitions (each competition weighs the same; its SE combines theirs);
raw scores are in different units there, so it has none.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from typing import Any, Iterable

MEDALS = ("gold", "silver", "bronze")  # "above_median" is not a medal
OVERALL = "(overall)"


@dataclass(frozen=True)
class Aggregate:
    agent: str
    competition: str  # OVERALL for an agent's row over every competition
    episodes: int  # that came back, failed ones included
    finished: int
    failed: int
    graded: int  # finished with a valid submission
    score_mean: float | None
    score_se: float | None
    normalized_mean: float | None
    normalized_se: float | None
    human_rank_mean: float | None
    human_rank_se: float | None
    any_medal: float | None  # share of finished episodes
    pass_at_k: float | None  # k = finished seeds (the mean over competitions on the overall row)
    k: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def agent_label(row: dict[str, Any]) -> str:
    """The agent as the batch was given it (`replay:PATH`, not just `replay`), with its model where it has one
    (two models of the llm agent are two agents)."""
    plan = row.get("plan") if isinstance(row.get("plan"), dict) else {}
    agent = plan.get("agent") or row.get("agent")
    return f"{agent}/{row['model']}" if row.get("model") else str(agent)


def mean_se(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and standard error of the mean (None without values; SE None for a single value)."""
    if not values:
        return None, None
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return statistics.fmean(values), se


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def _cell(agent: str, competition: str, rows: list[dict[str, Any]]) -> Aggregate:
    finished = [r for r in rows if "error" not in r]
    graded = [r for r in finished if _number(r.get("score")) is not None]
    normalized = [v for r in graded if (v := _number((r.get("final") or {}).get("normalized_score"))) is not None]
    medals = sum(r.get("medal") in MEDALS for r in finished)
    return Aggregate(agent, competition, len(rows), len(finished), len(rows) - len(finished), len(graded),
                     *mean_se([float(r["score"]) for r in graded]), *mean_se(normalized),
                     *mean_se([float(r.get("human_rank") or 0.0) for r in graded]),
                     medals / len(finished) if finished else None,
                     (1.0 if medals else 0.0) if finished else None, len(finished))


def _macro(values: list[tuple[float | None, float | None]]) -> tuple[float | None, float | None]:
    """Mean of per-competition means; SE = sqrt(sum of SE²) / count (None when any competition has none)."""
    present = [(m, s) for m, s in values if m is not None]
    if not present:
        return None, None
    errors = [s for _, s in present]
    se = math.sqrt(sum(s * s for s in errors)) / len(present) if all(s is not None for s in errors) else None
    return statistics.fmean(m for m, _ in present), se


def _overall(agent: str, cells: list[Aggregate]) -> Aggregate:
    rates = [c.any_medal for c in cells if c.any_medal is not None]
    passes = [c.pass_at_k for c in cells if c.pass_at_k is not None]
    return Aggregate(agent, OVERALL, sum(c.episodes for c in cells), sum(c.finished for c in cells),
                     sum(c.failed for c in cells), sum(c.graded for c in cells), None, None,
                     *_macro([(c.normalized_mean, c.normalized_se) for c in cells]),
                     *_macro([(c.human_rank_mean, c.human_rank_se) for c in cells]),
                     statistics.fmean(rates) if rates else None, statistics.fmean(passes) if passes else None,
                     min((c.k for c in cells), default=0))


def aggregate(rows: Iterable[dict[str, Any]]) -> list[Aggregate]:
    """One Aggregate per agent × competition (sorted), then, for an agent with several competitions, its overall row."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((agent_label(row), str(row.get("competition"))), []).append(row)
    out: list[Aggregate] = []
    for agent in sorted({a for a, _ in groups}):
        cells = [_cell(agent, comp, groups[(a, comp)]) for a, comp in sorted(groups) if a == agent]
        out.extend(cells)
        if len(cells) > 1:
            out.append(_overall(agent, cells))
    return out
