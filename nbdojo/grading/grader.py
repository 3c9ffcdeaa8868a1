"""Scoring a submission: format validation, leaderboard position, HumanRank, medals, normalized score, noise.

Grading runs in the trusted process (it reads the private answers), never in the agent's
kernel. Validation turns every way a submission file can be wrong into one
`SubmissionError` sentence that says what is wrong and how to fix it.
"""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nbdojo.competitions import USAGE_COLUMN, CompetitionData, CompetitionSpec, load
from nbdojo.errors import ConfigError, NbdojoError, SubmissionError
from nbdojo.grading.ceiling import scale
from nbdojo.grading.external import grade_external, score_external, validate_external
from nbdojo.grading.leaderboard import (  # noqa: F401  (re-exported)
    MEDALS,
    PRECISION,
    Grade,
    _finite,
    human_rank,
    medal,
    medal_thresholds,
    normalized,
    position,
)
from nbdojo.grading.noise import bootstrap_se
from nbdojo.grading.submission import default_cap, private_copy, quote

logger = logging.getLogger(__name__)

__all__ = [
    "METRICS",
    "Grade",
    "Metric",
    "average_precision_at_k",
    "grade",
    "grade_workspace_file",
    "human_rank",
    "load_leaderboard",
    "medal",
    "medal_thresholds",
    "part_arrays",
    "position",
    "ranked_items",
    "score_submission",
    "validate_submission",
]

PARTS = ("public", "private")
#: How far a row of class probabilities may be from summing to 1 (rounding in the CSV).
ROW_SUM_TOLERANCE = 0.01
#: A header line longer than this is refused before any parsing (the real ones are a few dozen bytes).
MAX_HEADER_BYTES = 64 * 1024
#: Longest message a submission check returns.
MAX_MESSAGE_CHARS = 800
_NA_STRINGS = frozenset({"", "nan", "NaN", "NAN", "NA", "N/A", "null", "NULL", "None", "none", "<NA>"})


from nbdojo.grading.metrics import METRICS, Metric, average_precision_at_k, ranked_items  # noqa: E402,F401  (re-exported)

# --------------------------------------------------------------------------- validation


def _fail(name: str, problem: str) -> SubmissionError:
    message = f"{name} {problem}"
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[: MAX_MESSAGE_CHARS - 40] + f"… [{len(message):,} characters]"
    return SubmissionError(message)


def _examples(values: Sequence[Any], k: int = 1) -> str:
    return ", ".join(quote(str(v)) for v in list(values)[:k])


def _names(columns: Sequence[str], k: int = 5) -> str:
    """At most `k` quoted column names, and how many more there are."""
    shown = ", ".join(quote(c, 40) for c in list(columns)[:k])
    return shown + (f" and {len(columns) - k:,} more" if len(columns) > k else "")


def _header(path: Path, name: str) -> list[str]:
    """The header's column names, read from at most MAX_HEADER_BYTES of the file."""
    with open(path, "rb") as handle:
        line = handle.readline(MAX_HEADER_BYTES + 1)
    if len(line) > MAX_HEADER_BYTES:
        raise _fail(name, f"has a header line over {MAX_HEADER_BYTES:,} bytes; the header is the column names "
                          "of sample_submission.csv and nothing more.")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _fail(name, "is not a text CSV file (it is not UTF-8); save it with `DataFrame.to_csv`.") from None
    row = next(csv.reader(io.StringIO(text), skipinitialspace=True), [])
    return [c.strip() for c in row]


def _read_csv(path: Path, name: str, spec: CompetitionSpec) -> pd.DataFrame:
    if not path.exists():
        raise _fail(name, "was not found; write your predictions with "
                          "`submission.to_csv('submission.csv', index=False)` before validating.")
    if not path.is_file():
        raise _fail(name, "is a folder, not a file; write a CSV file with one row per test id.")
    if path.stat().st_size == 0:
        raise _fail(name, "is empty; write a header line and one row per id of test.csv.")
    _check_columns(_header(path, name), spec, name)  # before pandas: a 10^6-column header costs nothing
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
    except UnicodeDecodeError:
        raise _fail(name, "is not a text CSV file (it is not UTF-8); save it with `DataFrame.to_csv`.") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        fix = "save it with `DataFrame.to_csv(..., index=False)`"
        raise _fail(name, f"is not a readable CSV ({detail}); {fix}.") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_columns(present: list[str], spec: CompetitionSpec, name: str) -> None:
    """Linear in the number of columns: counts and sets, never a scan per column."""
    expected = list(spec.submission_columns)
    want = ", ".join(expected)
    if len(present) == 1 and any(sep in present[0] for sep in (";", "\t", "|")):
        raise _fail(name, f"does not use commas between columns (header {quote(present[0])}); "
                          f"write it with `to_csv(..., index=False)` and columns {want}.")
    counts = Counter(present)
    duplicated = sorted(c for c, n in counts.items() if n > 1)
    if duplicated:
        raise _fail(name, f"repeats column(s) {_names(duplicated)}; expected columns: {want}.")
    missing = [c for c in expected if c not in counts]
    wanted = set(expected)
    extra = [c for c in present if c not in wanted]
    if missing:
        hint = ""
        lowered = {c.lower() for c in present}
        if any(c.lower() in lowered for c in missing):
            hint = " (column names are case-sensitive)"
        raise _fail(name, f"is missing column(s) {_names(missing)}{hint}; "
                          f"expected columns: {want} (see sample_submission.csv).")
    if extra:
        if any(c.startswith("Unnamed:") or c == "" for c in extra):
            raise _fail(name, "has an unnamed extra column (the DataFrame index); "
                              f"write it with `to_csv(..., index=False)` so the columns are {want}.")
        raise _fail(name, f"has unexpected column(s) {_names(extra)}; expected exactly: {want}.")


def _isin(values: pd.Series, pool: pd.Series) -> np.ndarray:
    """`values.isin(pool)` as booleans, hashed by Arrow where it is installed: pandas' own isin of Arrow strings
    makes a Python scalar of every value of `pool` (20 s on doctor-visits' 2.9 million ids; Arrow: 1 s)."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:
        return values.isin(pool).to_numpy(dtype=bool)
    found = pc.is_in(pa.array(values, type=pa.string(), from_pandas=True),
                     value_set=pa.array(pool, type=pa.string(), from_pandas=True))
    return found.to_numpy(zero_copy_only=False).astype(bool)


def _check_ids(ids: pd.Series, expected: pd.Series, id_column: str, name: str) -> None:
    dup = ids[ids.duplicated()]
    if len(dup):
        raise _fail(name, f"has {len(dup):,} duplicated {id_column} value(s), e.g. {_examples(dup.unique())}; "
                          "keep exactly one row per id of test.csv.")
    missing = expected[~_isin(expected, ids)]  # in their files' order
    extra = ids[~_isin(ids, expected)]
    if len(ids) != len(expected) or len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"{len(missing):,} id(s) of test.csv are missing, e.g. {_examples(missing.iloc[:1])}")
        if len(extra):
            parts.append(f"{len(extra):,} id(s) are not in test.csv, e.g. {_examples(extra.iloc[:1])}")
        problem = (f"has {len(ids):,} rows but test.csv has {len(expected):,}" if len(ids) != len(expected)
                   else "does not have the ids of test.csv")
        raise _fail(name, f"{problem} ({'; '.join(parts)}); "
                          f"predict every row of test.csv exactly once, keyed by {id_column!r}.")


def _numeric(raw: pd.Series, ids: pd.Series, column: str, name: str) -> pd.Series:
    text = raw.str.strip()
    is_na = text.isin(_NA_STRINGS)
    if is_na.any():
        raise _fail(name, f"has {int(is_na.sum()):,} missing (empty or NaN) value(s) in {column!r}, "
                          f"e.g. for id {_examples(ids[is_na])}; every row needs a prediction.")
    values = pd.to_numeric(text, errors="coerce").astype(float)
    bad = values.isna()
    if bad.any():
        raise _fail(name, f"has {int(bad.sum()):,} non-numeric value(s) in {column!r}, e.g. "
                          f"{_examples(text[bad])} for id {_examples(ids[bad])}; predictions must be numbers.")
    infinite = ~np.isfinite(values.to_numpy())
    if infinite.any():
        raise _fail(name, f"has {int(infinite.sum()):,} infinite value(s) in {column!r}, "
                          f"e.g. for id {_examples(ids[infinite])}; predictions must be finite numbers.")
    return values


def _train_labels(data: CompetitionData, column: str) -> pd.Series:
    return pd.read_csv(data.train_path, usecols=[column])[column].dropna()


def _check_labels(values: pd.Series, known: pd.Series, ids: pd.Series, column: str, name: str) -> None:
    unknown = ~values.isin(set(known.astype(values.dtype).unique()))
    if unknown.any():
        classes = ", ".join(map(str, sorted(known.unique())[:10]))
        raise _fail(name, f"has {int(unknown.sum()):,} label(s) in {column!r} that never occur in train.csv, e.g. "
                          f"{_examples(values[unknown])} for id {_examples(ids[unknown])}; use one of: {classes}.")


def _check_min_value(values: pd.Series, ids: pd.Series, column: str, metric: Metric, name: str) -> None:
    if metric.min_value is None:
        return
    low = values < metric.min_value
    if low.any():
        raise _fail(name, f"has {int(low.sum()):,} value(s) in {column!r} below {metric.min_value:g}, e.g. "
                          f"{values[low].iloc[0]:g} for id {_examples(ids[low])}; {metric.name} is undefined there, "
                          f"so clip predictions (e.g. `np.clip(pred, {metric.min_value:g}, None)`).")


def _check_row_sums(out: pd.DataFrame, ids: pd.Series, targets: list[str], name: str) -> None:
    sums = out[targets].sum(axis=1)
    off = ((sums - 1.0).abs() > ROW_SUM_TOLERANCE).to_numpy()
    if off.any():
        raise _fail(name, f"has {int(off.sum()):,} row(s) whose probabilities over {', '.join(targets)} do not sum "
                          f"to 1, e.g. {sums[off].iloc[0]:.4g} for id {_examples(ids[off])}; give one probability "
                          "per class and divide each row by its sum (`P / P.sum(axis=1, keepdims=True)`).")


def _item_universe(data: CompetitionData) -> tuple[frozenset[str], str]:
    """The item ids a ranked list may hold, and the file they come from."""
    spec = data.spec
    items = spec.extra.get("items")
    if isinstance(items, Mapping):
        file, column = str(items["file"]), str(items["column"])
        values = pd.read_csv(data.public_dir / file, usecols=[column], dtype=str, keep_default_na=False)[column]
        return frozenset(values.str.strip()), file
    train = pd.read_csv(data.train_path, usecols=list(spec.target_columns), dtype=str, keep_default_na=False)
    known = {item for column in spec.target_columns for cell in train[column] for item in cell.split()}
    return frozenset(known), "train.csv"


def _ranked_lists(raw: pd.Series, ids: pd.Series, column: str, universe: tuple[frozenset[str], str],
                  name: str) -> pd.Series:
    text = raw.str.strip()
    lists = text.str.split()
    empty = (lists.str.len() == 0).to_numpy() | text.isin(_NA_STRINGS - {""}).to_numpy()
    if empty.any():
        raise _fail(name, f"has {int(empty.sum()):,} empty ranked list(s) in {column!r}, e.g. for id "
                          f"{_examples(ids[empty])}; each row needs item ids, best first, separated by spaces.")
    repeated = (lists.map(lambda items: len(set(items)) != len(items))).to_numpy()
    if repeated.any():
        first = lists[repeated].iloc[0]
        item = next(i for i in first if first.count(i) > 1)
        raise _fail(name, f"has {int(repeated.sum()):,} ranked list(s) in {column!r} that repeat an item, e.g. "
                          f"{quote(item)} for id {_examples(ids[repeated])}; list each item at most once per row.")
    known, source = universe
    unknown = lists.map(lambda items: [i for i in items if i not in known])
    bad = (unknown.str.len() > 0).to_numpy()
    if bad.any():
        example = unknown[bad].iloc[0][0]
        hint = "; separate item ids with spaces, not commas" if any(s in example for s in ",;|") else ""
        raise _fail(name, f"has {int(bad.sum()):,} ranked list(s) in {column!r} with item ids that are not in "
                          f"{source}, e.g. {quote(example)} for id {_examples(ids[bad])}{hint}; rank only ids of {source}.")
    return lists.str.join(" ")


def validate_submission(data: CompetitionData, path: str | Path) -> pd.DataFrame:
    """The submission parsed and in the order of sample_submission.csv, or a SubmissionError."""
    if data.spec.grader:  # an added MLE-bench / MLE-Dojo competition: its own checks (nbdojo.competitions.layouts)
        return validate_external(data, path)
    spec = data.spec
    metric = METRICS[spec.metric]
    path = Path(path)
    name = path.name or str(path)
    frame = _read_csv(path, name, spec)
    _check_columns(list(frame.columns), spec, name)
    if frame.empty:
        raise _fail(name, "has a header but no rows; write one row per id of test.csv.")
    ids = frame[spec.id_column].str.strip()
    expected = _sample_ids(_stamp(data.sample_submission_path), spec.id_column)
    _check_ids(ids, expected, spec.id_column, name)

    out = pd.DataFrame({spec.id_column: ids})
    targets = list(spec.target_columns)
    universe = _item_universe(data) if spec.prediction == "ranking" else None
    for column in targets:
        raw = frame[column]
        if universe is not None:
            out[column] = _ranked_lists(raw, ids, column, universe, name)
            continue
        known = _train_labels(data, column) if spec.prediction == "label" else None
        if known is not None and not pd.api.types.is_numeric_dtype(known):
            text = raw.str.strip()
            empty = text.isin(_NA_STRINGS)
            if empty.any():
                raise _fail(name, f"has {int(empty.sum()):,} missing label(s) in {column!r}, "
                                  f"e.g. for id {_examples(ids[empty])}; every row needs a label.")
            _check_labels(text, known.astype(str).str.strip(), ids, column, name)
            out[column] = text
            continue
        values = _numeric(raw, ids, column, name)
        if known is not None:
            _check_labels(values, known.astype(float), ids, column, name)
            if pd.api.types.is_integer_dtype(known):
                values = values.astype("int64")
        if spec.prediction == "probability":
            outside = (values < 0) | (values > 1)
            if outside.any():
                raise _fail(name, f"has {int(outside.sum()):,} value(s) in {column!r} outside [0, 1], e.g. "
                                  f"{values[outside].iloc[0]:g} for id {_examples(ids[outside])}; submit "
                                  "probabilities (e.g. `model.predict_proba(X)[:, 1]`), not labels or raw scores.")
        _check_min_value(values, ids, column, metric, name)
        out[column] = values.to_numpy()
    if spec.prediction == "probability" and spec.task == "multiclass" and len(targets) > 1:
        _check_row_sums(out, ids, targets, name)
    order = pd.Index(out[spec.id_column]).get_indexer(expected)
    return out.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- scoring


def _stamp(path: Path) -> tuple[str, int, int, int]:
    """What names a file's current contents for the caches below: a rewritten file is read again."""
    st = path.stat()
    return str(path), st.st_ino, st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=2)
def _answers_by_part(stamp: tuple[str, int, int, int], prediction: str, id_column: str,
                     targets: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    """{part: its rows of answers.csv}, read once per file version (a ladder build scores 100+ entries)."""
    path = stamp[0]
    if prediction == "ranking":
        answers = pd.read_csv(path, dtype={c: str for c in (id_column, *targets)}, keep_default_na=False)
    else:
        answers = pd.read_csv(path, dtype={id_column: str})
        if prediction == "label":
            for column in targets:
                if not pd.api.types.is_numeric_dtype(answers[column]):
                    answers[column] = answers[column].astype(str).str.strip()
    usage = answers[USAGE_COLUMN].str.strip().str.lower()
    return {part: answers[usage == part].reset_index(drop=True) for part in PARTS}


def _answers(data: CompetitionData, part: str) -> pd.DataFrame:
    """The `part` rows of the answers, a copy: an edit by the caller never reaches the cache (and a later grade)."""
    spec = data.spec
    return _answers_by_part(_stamp(data.answers_path), spec.prediction, spec.id_column,
                            tuple(spec.target_columns))[part].copy()


@functools.lru_cache(maxsize=2)
def _sample_ids(stamp: tuple[str, int, int, int], id_column: str) -> pd.Series:
    return pd.read_csv(stamp[0], usecols=[id_column], dtype=str)[id_column]


def part_arrays(data: CompetitionData, submission: pd.DataFrame, part: str = "private",
                ) -> tuple[np.ndarray, np.ndarray]:
    """(answers, predictions) of the `part` rows, as the metric takes them, for an already validated submission."""
    if part not in PARTS:
        raise ConfigError(f"part must be one of {', '.join(PARTS)}, not {part!r}.")
    spec = data.spec
    answers = _answers(data, part)
    merged = answers.merge(submission, on=spec.id_column, how="left", suffixes=("_true", "_pred"))
    targets = list(spec.target_columns)
    y_true = merged[[f"{c}_true" for c in targets]].to_numpy()
    y_pred = merged[[f"{c}_pred" for c in targets]].to_numpy()
    if len(targets) == 1:
        y_true, y_pred = y_true[:, 0], y_pred[:, 0]
    if pd.isna(y_pred).any():
        raise SubmissionError(f"The submission lacks predictions for some {part} ids; validate it first.")
    return y_true, y_pred


def _metric(spec: CompetitionSpec, part: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    try:
        return METRICS[spec.metric](y_true, y_pred)
    except ValueError as exc:  # e.g. a metric undefined on these answers
        raise NbdojoError(f"{spec.metric} cannot be computed on the {part} answers of {spec.id!r}: {exc}") from None


def score_submission(data: CompetitionData, submission: pd.DataFrame, *, part: str = "private") -> float:
    """The metric on the public or private answers for an already validated submission."""
    if part not in PARTS:
        raise ConfigError(f"part must be one of {', '.join(PARTS)}, not {part!r}.")
    if data.spec.grader:  # its own grader, on its own answers file
        return score_external(data, submission, part=part)
    return _metric(data.spec, part, *part_arrays(data, submission, part))


def load_leaderboard(spec: CompetitionSpec) -> pd.DataFrame:
    """The competition's reference leaderboard, best first (empty when it has none)."""
    path = spec.leaderboard_path
    if not path.is_file():
        logger.warning("competition %s has no leaderboard at %s", spec.id, path)
        return pd.DataFrame({"entry": pd.Series(dtype=str), "score": pd.Series(dtype=float)})
    board = pd.read_csv(path)
    if "score" not in board.columns:
        raise ConfigError(f"{path} has no 'score' column.")
    if "entry" not in board.columns:
        board.insert(0, "entry", [f"entry-{i + 1}" for i in range(len(board))])
    board = board.dropna(subset=["score"])
    return board.sort_values("score", ascending=not spec.higher_is_better, kind="stable").reset_index(drop=True)


def grade_workspace_file(
    data: CompetitionData, workspace: str | Path, path: str = "submission.csv", *, part: str | None = "private",
    cap: int | None = None,
) -> Grade | None:
    """Validate a file an agent or a person wrote, and grade it on `part` (None: validate only).

    The one way from an untrusted workspace to the grader (see `nbdojo.grading.submission`): the file is
    read once, without following links, under a size cap, into a host-private copy that alone is
    validated and graded. Every refusal is a `SubmissionError`.
    """
    cap = cap if cap is not None else default_cap(data.sample_submission_path)
    with private_copy(workspace, path, cap=cap) as copy:
        if part is None:
            validate_submission(data, copy)
            return None
        return grade(data, copy, part=part)


def grade(
    competition: str | CompetitionSpec | CompetitionData, submission_path: str | Path, *, part: str = "private"
) -> Grade:
    """Validate, score on the `part` answers, and place the score on the leaderboard.

    `submission_path` is trusted: for a file in a workspace use `grade_workspace_file`.
    """
    data = competition if isinstance(competition, CompetitionData) else load(competition)
    spec = data.spec
    if spec.grader:  # its own grader and its own (public / private) leaderboards
        return grade_external(data, submission_path, part=part)
    submission = validate_submission(data, submission_path)
    y_true, y_pred = part_arrays(data, submission, part)
    score = _metric(spec, part, y_true, y_pred)
    board = load_leaderboard(spec)
    column = "public_score" if part == "public" and "public_score" in board.columns else "score"
    scores = _finite(board[column])
    dummy, ceiling_score, ceiling_from = scale(data, part, scores, functools.partial(_score_file, data))
    return Grade(
        competition=spec.id,
        metric=spec.metric,
        higher_is_better=spec.higher_is_better,
        score=score,
        part=part,
        position=position(score, scores, spec.higher_is_better),
        leaderboard_size=int(scores.size),
        human_rank=human_rank(score, scores, spec.higher_is_better),
        medal=medal(score, scores, spec.higher_is_better),
        normalized_score=normalized(score, dummy, ceiling_score),
        standard_error=bootstrap_se(spec.metric, y_true, y_pred),
        dummy_score=dummy,
        ceiling_score=ceiling_score,
        ceiling=ceiling_from,
    )


def _score_file(data: CompetitionData, path: Path, parts: Sequence[str]) -> dict[str, float]:
    """A trusted file's scores (the sample or the oracle submission), validated once: a grade's dummy and ceiling."""
    submission = validate_submission(data, path)
    return {part: score_submission(data, submission, part=part) for part in parts}
