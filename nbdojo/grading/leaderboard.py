"""Placing a score on a leaderboard: position, HumanRank, MLE-bench's medal rule, and the Grade record.

A leaf: it imports nothing of nbdojo, so every grader (nbdojo's own and the added layouts') shares it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Grade", "MEDALS", "PRECISION", "human_rank", "medal", "medal_thresholds", "position"]


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

@dataclass(frozen=True)
class Grade:
    """A graded submission and where it lands on the competition's leaderboard."""

    competition: str
    metric: str
    higher_is_better: bool
    score: float
    part: str
    position: int
    leaderboard_size: int
    human_rank: float
    medal: str

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
        ])

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
