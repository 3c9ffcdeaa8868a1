"""Grading competitions added in the MLE-bench or MLE-Dojo layout with their own graders and leaderboards.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbdojo.competitions.layouts import (
    _instantiate,
    load_grader_module,
)
from nbdojo.competitions.spec import USAGE_COLUMN, CompetitionData, CompetitionSpec
from nbdojo.errors import (
    ConfigError,
    NbdojoError,
    SubmissionError,
)

__all__ = ["grade_external", "score_external", "validate_external"]


logger = logging.getLogger(__name__)

__all__ = ["detect_layout", "grade_external", "leaderboard_scores", "load_grader", "score_external",
           "spec_from_folder", "validate_external"]

@functools.lru_cache(maxsize=32)
def _grader_target(folder: str, entry: str) -> Any:
    """The object named by "module:attr" in a competition folder, imported once per process."""
    module_name, _, attr = entry.partition(":")
    return getattr(load_grader_module(Path(folder), module_name), attr, None)

def load_grader(spec: CompetitionSpec) -> Callable[[pd.DataFrame, pd.DataFrame], float]:
    """`grader(submission_df, answers_df) -> float` for a spec with a "module:attr" grader.

    A function is called as MLE-bench calls `grade_fn`; a class is instantiated and its
    `validate_submission(submission, ground_truth)` (if any) then `evaluate(y_true, y_pred)`
    are called, as MLE-Dojo does.
    """
    if not spec.grader:
        raise ConfigError(f"Competition {spec.id!r} has no grader of its own.")
    target = _grader_target(str(spec.folder), spec.grader)
    if target is None:
        raise ConfigError(f"The grader module of {spec.id!r} has no {spec.grader.partition(':')[2]!r}.")
    if inspect.isclass(target):
        metric = _instantiate(target)

        def evaluate(submission: pd.DataFrame, answers: pd.DataFrame) -> float:
            check = getattr(metric, "validate_submission", None)
            if callable(check):
                check(submission.copy(), answers.copy())
            return metric.evaluate(answers.copy(), submission.copy())

        return evaluate
    if not callable(target):
        raise ConfigError(f"{spec.grader} of {spec.id!r} is neither a function nor a metric class.")
    return target

def _call(spec: CompetitionSpec, grader: Callable[..., Any], submission: pd.DataFrame, answers: pd.DataFrame) -> float:
    try:
        value = grader(submission.copy(), answers.copy())
    except Exception as exc:  # noqa: BLE001 - the competition's own code decides what is invalid
        message = str(exc).strip() or type(exc).__name__
        if "invalid" in type(exc).__name__.lower() or isinstance(exc, (ValueError, KeyError, AssertionError)):
            raise SubmissionError(f"The competition's grader rejected the submission: {message}") from None
        raise NbdojoError(f"The grader of {spec.id!r} failed: {type(exc).__name__}: {message}") from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise NbdojoError(f"The grader of {spec.id!r} returned {value!r}, not a number.") from None

def _read(path: Path, name: str) -> pd.DataFrame:
    if not path.is_file():
        raise SubmissionError(f"{name} was not found; write it with `submission.to_csv('{name}', index=False)`.")
    try:
        return pd.read_csv(path)
    except (UnicodeDecodeError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SubmissionError(f"{name} is not a readable CSV ({detail}); save it with `DataFrame.to_csv`.") from None

def validate_external(data: CompetitionData, path: str | Path) -> pd.DataFrame:
    """Columns and ids checked against the sample submission, then the competition's own checks."""
    path = Path(path)
    name = path.name or str(path)
    submission = _read(path, name)
    sample = pd.read_csv(data.sample_submission_path)
    want = list(sample.columns)
    if sorted(map(str, submission.columns)) != sorted(map(str, want)):
        raise SubmissionError(f"{name} has columns {', '.join(map(str, submission.columns))}; expected exactly "
                              f"{', '.join(map(str, want))} (see sample_submission.csv).")
    ids, expected = submission[want[0]].astype(str), sample[want[0]].astype(str)
    if ids.duplicated().any():
        raise SubmissionError(f"{name} repeats {int(ids.duplicated().sum()):,} {want[0]} value(s), e.g. "
                              f"{ids[ids.duplicated()].iloc[0]!r}; keep one row per id of the sample submission.")
    missing, extra = set(expected) - set(ids), set(ids) - set(expected)
    if missing or extra:
        raise SubmissionError(f"{name} does not have the ids of the sample submission ({len(missing):,} missing, "
                              f"{len(extra):,} not expected); predict every id exactly once.")
    submission = submission[want]
    score_external(data, submission, part="private")  # the grader's own checks, on every row; the score is not kept
    return submission

def _part_rows(spec: CompetitionSpec, answers: pd.DataFrame, part: str) -> np.ndarray:
    """Boolean mask of the answer rows in `part`: all rows for private, a seeded share (or Usage) for public."""
    if part == "private":
        return np.ones(len(answers), dtype=bool)
    if part != "public":
        raise ConfigError(f"part must be public or private, not {part!r}.")
    if USAGE_COLUMN in answers.columns:
        return answers[USAGE_COLUMN].astype(str).str.lower().eq("public").to_numpy()
    order = np.argsort(answers.iloc[:, 0].astype(str).to_numpy(), kind="stable")
    mask = np.zeros(len(answers), dtype=bool)
    chosen = np.random.default_rng(spec.split_seed).permutation(len(answers))[: max(1, round(spec.public_fraction
                                                                                            * len(answers)))]
    mask[order[chosen]] = True
    return mask

def score_external(data: CompetitionData, submission: pd.DataFrame, *, part: str = "private") -> float:
    """The competition's own grader on the `part` answer rows (and the matching submission rows)."""
    spec = data.spec
    answers = pd.read_csv(data.answers_path)
    rows = _part_rows(spec, answers, part)
    answers = answers[rows].reset_index(drop=True)
    id_column = submission.columns[0]
    key = answers.columns[0] if id_column not in answers.columns else id_column
    keep = submission[id_column].astype(str).isin(set(answers[key].astype(str)))
    return _call(spec, load_grader(spec), submission[keep].reset_index(drop=True), answers)

def leaderboard_scores(spec: CompetitionSpec, part: str = "private") -> np.ndarray:
    """The finite scores of the competition's (public or private) leaderboard."""
    path = spec.public_leaderboard_path if part == "public" else spec.leaderboard_path
    if not path.is_file():
        logger.warning("competition %s has no leaderboard at %s", spec.id, path)
        return np.array([])
    board = pd.read_csv(path)
    if "score" not in board.columns:
        raise ConfigError(f"{path} has no 'score' column.")
    scores = pd.to_numeric(board["score"], errors="coerce").to_numpy(dtype=float)
    return scores[np.isfinite(scores)]

def grade_external(competition: CompetitionData, submission_path: str | Path, *,
                   part: str = "private"):  # -> nbdojo.grading.Grade
    """Validate, score with the competition's own grader, and place the score on its leaderboard.

    Its own grader is a black box that may need each id once, so the score carries no bootstrap error;
    the normalized score runs from its sample submission to its best reference entry.
    """
    from nbdojo.grading import Grade, human_rank, medal, position
    from nbdojo.grading.ceiling import scale
    from nbdojo.grading.leaderboard import normalized

    data = competition  # the grader resolves ids and data
    spec = data.spec
    submission = validate_external(data, submission_path)
    score = score_external(data, submission, part=part)
    scores = leaderboard_scores(spec, part)
    def score_file(path: Path, parts: Sequence[str]) -> dict[str, float]:
        submission = validate_external(data, path)
        return {p: score_external(data, submission, part=p) for p in parts}

    dummy, ceiling_score, ceiling_from = scale(data, part, scores, score_file)
    return Grade(
        competition=spec.id, metric=spec.metric, higher_is_better=spec.higher_is_better, score=score, part=part,
        position=position(score, scores, spec.higher_is_better), leaderboard_size=int(scores.size),
        human_rank=human_rank(score, scores, spec.higher_is_better),
        medal=medal(score, scores, spec.higher_is_better),
        normalized_score=normalized(score, dummy, ceiling_score), dummy_score=dummy, ceiling_score=ceiling_score,
        ceiling=ceiling_from,
    )
