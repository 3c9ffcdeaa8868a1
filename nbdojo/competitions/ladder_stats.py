"""What a built ladder says about itself: its dummy floor, its medal lines, and the noise at those lines.

`ladder.json` sits beside `leaderboard.csv` and records, at build time:

- `dummy`: the entry every other entry must beat or tie (the ladder keeps nothing worse);
- `medal_lines`: the gold, silver and bronze scores by MLE-bench's rule for the ladder's size;
- `noise`: for the entries nearest each medal line, the bootstrap standard error of their private
  score (`nbdojo.grading.noise.bootstrap_se`) on the private rows, and the largest of them, `se`;
- `gaps`: gold - silver and silver - bronze; the private part is big enough when `se` is below half
  of each (a seed change then rarely moves an entry across a line).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbdojo.competitions import USAGE_COLUMN, CompetitionData, CompetitionSpec
from nbdojo.grading.leaderboard import PRECISION, medal_thresholds

__all__ = ["STATS_NAME", "drop_below_dummy", "ladder_stats", "private_se", "read_stats", "write_stats"]

STATS_NAME = "ladder.json"
LINES = ("gold", "silver", "bronze")


def drop_below_dummy(board: pd.DataFrame, dummy: str, spec: CompetitionSpec) -> pd.DataFrame:
    """The board without the entries that score worse than the dummy entry (ties stay)."""
    floor = round(float(board.set_index("entry").loc[dummy, "score"]), PRECISION)
    scores = board["score"].round(PRECISION)
    keep = (scores >= floor) if spec.higher_is_better else (scores <= floor)
    return board[keep.to_numpy() | (board["entry"] == dummy).to_numpy()].reset_index(drop=True)


def private_se(data: CompetitionData, submission: pd.DataFrame) -> float:
    """Bootstrap standard error of a submission's private score, its rows resampled (seeded)."""
    from nbdojo.grading.grader import part_arrays, validate_submission
    from nbdojo.grading.noise import bootstrap_se

    with tempfile.TemporaryDirectory(prefix="nbdojo-se-") as tmp:
        path = Path(tmp) / "submission.csv"
        submission.to_csv(path, index=False, lineterminator="\n")
        parsed = validate_submission(data, path)
    return bootstrap_se(data.spec.metric, *part_arrays(data, parsed, "private"))  # the rows a grade's error uses


def ladder_stats(data: CompetitionData, board: pd.DataFrame, dummy: str,
                 submission_of: Callable[[str], pd.DataFrame | None], *, per_line: int = 2) -> dict[str, Any]:
    """Medal lines, their gaps and the bootstrap SE of the `per_line` entries nearest each line.

    `submission_of(entry)` gives an entry's submission frame, or None when its predictions are not kept
    (such entries are passed over for the next nearest).
    """
    spec = data.spec
    scores = board["score"].to_numpy(dtype=float)
    lines = dict(zip(LINES, medal_thresholds(scores, spec.higher_is_better), strict=True))
    noise: list[dict[str, Any]] = []
    measured: set[str] = set()
    for line, value in lines.items():
        order = np.argsort(np.abs(scores - value), kind="stable")
        taken = 0
        for index in order:
            entry = str(board["entry"].iloc[index])
            if taken == per_line:
                break
            if entry in measured:
                taken += 1
                continue
            submission = submission_of(entry)
            if submission is None:
                continue
            noise.append({"line": line, "entry": entry, "score": float(scores[index]),
                          "se": round(private_se(data, submission), 6)})
            measured.add(entry)
            taken += 1
    se = max((n["se"] for n in noise if math.isfinite(n["se"])), default=math.nan)
    gaps = {"gold_silver": abs(lines["gold"] - lines["silver"]), "silver_bronze": abs(lines["silver"] - lines["bronze"])}
    private_rows = int(_private_count(data))
    return {
        "competition": spec.id,
        "entries": int(len(board)),
        "distinct_scores": int(board["score"].round(6).nunique()),
        "dummy": dummy,
        "dummy_score": float(board.set_index("entry").loc[dummy, "score"]),
        "private_rows": private_rows,
        "medal_lines": {k: round(v, 6) for k, v in lines.items()},
        "gaps": {k: round(v, 6) for k, v in gaps.items()},
        "se": round(se, 6),
        "se_below_half_gaps": bool(math.isfinite(se) and se < 0.5 * min(gaps.values())),
        "noise": noise,
    }


def _private_count(data: CompetitionData) -> int:
    usage = pd.read_csv(data.answers_path, usecols=[USAGE_COLUMN], dtype=str)[USAGE_COLUMN]
    return int((usage.str.strip().str.lower() == "private").sum())


def write_stats(stats: dict[str, Any], spec: CompetitionSpec) -> Path:
    path = spec.folder / STATS_NAME
    path.write_text(json.dumps(stats, indent=1) + "\n")
    return path


def read_stats(spec: CompetitionSpec) -> dict[str, Any] | None:
    """The competition's recorded ladder statistics, or None when its ladder has none."""
    path = spec.folder / STATS_NAME
    return json.loads(path.read_text()) if path.is_file() else None
