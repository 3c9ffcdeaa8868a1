"""Placing a score on a leaderboard: position, HumanRank, MLE-bench's medal rule, the normalized score, and the
Grade record.

A leaf: it imports nothing of nbdojo, so every grader (nbdojo's own and the added layouts') shares it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MEDALS", "PRECISION", "Grade", "human_rank", "medal", "medal_thresholds", "normalized", "position"]


MEDALS = ("gold", "silver", "bronze", "above_median", "none")

#: Scores are placed on a leaderboard at this many decimals, both sides (as MLE-bench does), so a
#: submission equal to an entry ties it whatever the CSV's rounding.
PRECISION = 5

def _finite(scores: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """The finite scores, at the leaderboard's precision."""
    arr = np.asarray(scores, dtype=float)
    return np.round(arr[np.isfinite(arr)], PRECISION)

def _placed(score: float) -> float:
    """A submission's score at the leaderboard's precision (what it is compared with)."""
    return round(float(score), PRECISION) if math.isfinite(score) else float(score)

def human_rank(score: float, leaderboard_scores: Sequence[float], higher_is_better: bool) -> float:
    """Share of leaderboard entries the score beats, ties counted for the submission (MLE-Dojo)."""
    arr, score = _finite(leaderboard_scores), _placed(score)
    if arr.size == 0:
        return math.nan
    beaten = np.sum(arr <= score) if higher_is_better else np.sum(arr >= score)
    return float(beaten / arr.size)

def position(score: float, leaderboard_scores: Sequence[float], higher_is_better: bool) -> int:
    """1-based place among the entries plus the submission: 1 + entries strictly better."""
    arr, score = _finite(leaderboard_scores), _placed(score)
    better = np.sum(arr > score) if higher_is_better else np.sum(arr < score)
    return int(better) + 1

def medal_thresholds(leaderboard_scores: Sequence[float], higher_is_better: bool) -> tuple[float, float, float]:
    """Gold, silver and bronze cut-off scores by leaderboard size, exactly as MLE-bench computes them."""
    arr = np.sort(_finite(leaderboard_scores))
    if higher_is_better:
        arr = arr[::-1]
    n = arr.size
    if n == 0:
        raise ValueError("medal thresholds need a non-empty leaderboard")

    def at(place: int) -> float:
        return float(arr[min(max(place, 1), n) - 1])

    if n < 100:
        return at(int(n * 0.1)), at(int(n * 0.2)), at(int(n * 0.4))
    if n < 250:
        return at(10), at(int(n * 0.2)), at(int(n * 0.4))
    if n < 1000:
        return at(10 + int(n * 0.002)), at(50), at(100)
    return at(10 + int(n * 0.002)), at(int(n * 0.05)), at(int(n * 0.1))

def medal(score: float, leaderboard_scores: Sequence[float], higher_is_better: bool) -> str:
    """'gold', 'silver', 'bronze', 'above_median' (strictly better than the median) or 'none'."""
    arr, score = _finite(leaderboard_scores), _placed(score)
    if arr.size == 0 or not math.isfinite(score):
        return "none"

    def at_least(threshold: float) -> bool:
        return score >= threshold if higher_is_better else score <= threshold

    for name, threshold in zip(("gold", "silver", "bronze"), medal_thresholds(arr, higher_is_better), strict=True):
        if at_least(threshold):
            return name
    median = float(np.median(arr))
    return "above_median" if (score > median if higher_is_better else score < median) else "none"

def normalized(score: float, dummy: float, ceiling: float) -> float:
    """The score on a scale where the dummy scores 0 and the ceiling 1 (either direction); NaN without a scale."""
    values = (float(score), float(dummy), float(ceiling))
    if not all(math.isfinite(v) for v in values) or dummy == ceiling:
        return math.nan
    return (values[0] - values[1]) / (values[2] - values[1]) + 0.0  # + 0.0: the dummy reads 0, never -0

def _number(value: float, decimals: int = 5) -> str:
    return f"{value:.{decimals}f}" if math.isfinite(value) else "n/a"

@dataclass(frozen=True)
class Grade:
    """A graded submission and where it lands on the competition's leaderboard.

    `normalized_score` is 0 at the dummy (the sample submission's score on the same part) and 1 at the
    ceiling (`ceiling`: "oracle", the generator's truth of a synthetic competition, or "best reference
    entry" of the ladder); `standard_error` is the score's bootstrap standard error over the part's rows.
    Both are NaN where they cannot be had; grades written before they existed read them as NaN too.
    """

    competition: str
    metric: str
    higher_is_better: bool
    score: float
    part: str
    position: int
    leaderboard_size: int
    human_rank: float
    medal: str
    normalized_score: float = math.nan
    standard_error: float = math.nan
    dummy_score: float = math.nan
    ceiling_score: float = math.nan
    ceiling: str = ""

    def report(self) -> str:
        direction = "higher" if self.higher_is_better else "lower"
        beaten = round(self.human_rank * self.leaderboard_size) if self.leaderboard_size else 0
        rank = "n/a (no leaderboard)" if math.isnan(self.human_rank) else (
            f"{self.human_rank:.1%} (beats or ties {beaten} of {self.leaderboard_size} entries)"
        )
        return "\n".join([
            f"{self.competition}: {self.part} score {self.score:.5f} ({self.metric}, {direction} is better)",
            f"Position: {self.position} / {self.leaderboard_size + 1} "
            f"({self.leaderboard_size} reference entries + this submission)",
            f"HumanRank: {rank}",
            f"Medal: {self.medal.replace('_', ' ')}",
            *self._scale_lines(),
        ])

    def _scale_lines(self) -> list[str]:
        se = "n/a (the score cannot be resampled)" if not math.isfinite(self.standard_error) else (
            f"{self.standard_error:.5f} (bootstrap over the {self.part} rows; a gap under about twice this is noise)")
        if math.isfinite(self.normalized_score):
            scale = (f"{self.normalized_score:.3f} (0 = the sample submission at {_number(self.dummy_score)}, "
                     f"1 = the {self.ceiling or 'ceiling'} at {_number(self.ceiling_score)})")
        else:
            scale = "n/a (no dummy or ceiling score for this competition)"
        return [f"Standard error: {se}", f"Normalized score: {scale}"]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> Grade:
        """A grade from `to_dict()`'s record, old or new: fields it lacks take their defaults, others are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in record.items() if k in names})
