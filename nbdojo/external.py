"""Competitions prepared elsewhere, in the MLE-bench or the MLE-Dojo layout: reading and grading them.

`nbdojo competitions add PATH` (`nbdojo.competitions.add_competition`) accepts a folder in
either layout; `spec_from_folder` turns it into a `CompetitionSpec` whose `grader` is the
competition's own scorer, so it is graded exactly as its benchmark grades it.

MLE-bench (openai/mle-bench), the competition's code and its prepared data in one folder::

    config.yaml           id, name, dataset.answers, dataset.sample_submission,
                          grader.name, grader.grade_fn ("module:function", e.g. "...grade:grade")
    grade.py              the grade function: grade(submission_df, answers_df) -> float
    leaderboard.csv       Kaggle's leaderboard, best first (a `score` column)
    description.md
    prepared/public/      (or public/) what the agent sees: sample_submission.csv, train, test
    prepared/private/     (or private/) the answers named by dataset.answers

MLE-Dojo (MLE-Dojo/MLE-Dojo), one competition::

    data/public/          sample_submission.csv, description.txt, train, test
    data/private/test_answer.csv
    public_leaderboard.csv, private_leaderboard.csv   rank,score (also accepted under info/)
    metric.py             (or utils/metric.py) a class with evaluate(y_true_df, y_pred_df) -> float,
                          optionally validate_submission(submission_df, ground_truth_df) and higher_is_better

Scores: the "private" score is computed on every answer row, as both benchmarks grade
(so it is comparable with their leaderboards); the "public" score that `validate` reports
is computed on a seeded `public_fraction` of the answer rows (or on the rows marked
Public in a Kaggle-style `Usage` column). Private scores are placed on the (private)
leaderboard, public ones on the public leaderboard where the layout has one.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nbdojo.competitions import (
    USAGE_COLUMN,
    CompetitionData,
    CompetitionSpec,
    check_competition_id,
    load,
    load_module,
)
from nbdojo.errors import ConfigError, NbdojoError, SubmissionError

logger = logging.getLogger(__name__)

__all__ = ["detect_layout", "grade_external", "leaderboard_scores", "load_grader", "score_external",
           "spec_from_folder", "validate_external"]

MLE_BENCH, MLE_DOJO = "mle-bench", "mle-dojo"
_NEITHER = ("{folder} is in neither the MLE-bench layout (config.yaml with dataset and grader) nor the MLE-Dojo "
            "layout (data/public/, data/private/test_answer.csv and a metric.py).")


# --------------------------------------------------------------------------- reading a folder


def detect_layout(folder: str | Path) -> str:
    """'mle-bench' or 'mle-dojo'; a ConfigError in one line for anything else."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder.")
    if (folder / "config.yaml").is_file():
        return MLE_BENCH
    if _dojo_data_root(folder) is not None:
        return MLE_DOJO
    raise ConfigError(_NEITHER.format(folder=folder))


def spec_from_folder(folder: str | Path, *, layout: str | None = None,
                     competition_id: str | None = None) -> CompetitionSpec:
    """The spec of a prepared competition folder (its layout detected unless given)."""
    if competition_id is not None:
        check_competition_id(competition_id)  # before any of the folder's code is imported
    folder = Path(folder).expanduser().resolve()
    layout = layout or detect_layout(folder)
    if not folder.is_dir():
        raise ConfigError(f"The competition folder {folder} no longer exists.")
    if layout == MLE_BENCH:
        return _mle_bench_spec(folder, competition_id)
    if layout == MLE_DOJO:
        return _mle_dojo_spec(folder, competition_id)
    raise ConfigError(f"Unknown layout {layout!r}; nbdojo reads {MLE_BENCH} and {MLE_DOJO}.")


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def _columns(path: Path) -> list[str]:
    try:
        return [str(c) for c in pd.read_csv(path, nrows=0).columns]
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ConfigError(f"Cannot read the header of {path}: {exc}") from None


def _seed(competition_id: str) -> int:
    return int(hashlib.sha256(competition_id.encode()).hexdigest()[:8], 16)


def _higher_from_board(path: Path) -> bool:
    """As MLE-bench decides: a board listed best first is lower-is-better if its top score is the smallest."""
    try:
        scores = pd.read_csv(path)["score"].dropna()
    except (OSError, KeyError, ValueError, pd.errors.ParserError):
        return True
    return not (len(scores) > 1 and scores.iloc[0] < scores.iloc[-1])


def _mle_bench_spec(folder: Path, competition_id: str | None) -> CompetitionSpec:
    path = folder / "config.yaml"
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"Cannot read {path}: {exc}") from None
    dataset = config.get("dataset") if isinstance(config, dict) else None
    grader = config.get("grader") if isinstance(config, dict) else None
    if not isinstance(dataset, dict) or not isinstance(grader, dict) or not grader.get("grade_fn") \
            or not dataset.get("answers") or not dataset.get("sample_submission"):
        raise ConfigError(f"{path} needs dataset.answers, dataset.sample_submission and grader.grade_fn "
                          "(the MLE-bench layout).")
    cid = competition_id or str(config.get("id") or folder.name)
    root = _first(folder / "prepared", folder)
    if not (root / "public").is_dir() or not (root / "private").is_dir():
        raise ConfigError(f"{folder} has no prepared data: expected prepared/public/ and prepared/private/ "
                          "(or public/ and private/) beside config.yaml.")
    answers = _mle_bench_file(folder, root, str(dataset["answers"]), "private")
    sample = _mle_bench_file(folder, root, str(dataset["sample_submission"]), "public")
    columns = _columns(sample)
    board = folder / "leaderboard.csv"
    if "higher_is_better" in grader:
        higher = bool(grader["higher_is_better"])
    elif "is_lower_better" in grader:
        higher = not bool(grader["is_lower_better"])
    else:
        higher = _higher_from_board(board)
    description = Path(str(config.get("description") or "description.md")).name
    return CompetitionSpec(
        id=cid, title=str(config.get("name") or cid), category=str(config.get("category") or "external"),
        metric=str(grader.get("name") or "custom"), higher_is_better=higher, id_column=columns[0],
        target_columns=tuple(columns[1:]) or (columns[0],), task=str(config.get("task") or "other"),
        prediction="other", split_seed=_seed(cid), source=f"MLE-bench layout at {folder}", folder=folder,
        layout=MLE_BENCH, grader=_grader_entry(folder, str(grader["grade_fn"])), data_root=root,
        files={"answers": os.path.relpath(answers, root / "private"),
               "sample_submission": os.path.relpath(sample, root / "public"),
               "description": description},
        extra={"competition_type": config.get("competition_type"), "awards_medals": config.get("awards_medals")},
    )


def _mle_bench_file(folder: Path, root: Path, declared: str, part: str) -> Path:
    """dataset.* paths are relative to MLE-bench's data dir (`<id>/prepared/...`); accept them from here too."""
    relative = Path(declared)
    tail = Path(*relative.parts[1:]) if len(relative.parts) > 1 else relative
    found = _first(folder.parent / relative, folder / relative, folder / tail, root / part / relative.name)
    if found is None or not found.is_file():
        raise ConfigError(f"{folder / 'config.yaml'} names {declared!r}, which is not in {root / part}.")
    return found


def _grader_entry(folder: Path, grade_fn: str) -> str:
    """'mlebench.competitions.x.grade:grade' -> 'grade:grade' when grade.py sits in the folder."""
    module, sep, attr = grade_fn.partition(":")
    if not sep or not attr:
        raise ConfigError(f"grader.grade_fn must be 'module:function', not {grade_fn!r}.")
    last = module.rsplit(".", 1)[-1]
    return f"{last}:{attr}" if (folder / f"{last}.py").is_file() else grade_fn


def _dojo_data_root(folder: Path) -> Path | None:
    for root in (folder / "data", folder):
        if (root / "public").is_dir() and (root / "private" / "test_answer.csv").is_file():
            return root
    return None


def _mle_dojo_spec(folder: Path, competition_id: str | None) -> CompetitionSpec:
    root = _dojo_data_root(folder)
    if root is None:
        raise ConfigError(_NEITHER.format(folder=folder))
    metric_file = _first(folder / "metric.py", folder / "utils" / "metric.py")
    if metric_file is None:
        raise ConfigError(f"{folder} has MLE-Dojo data but no metric.py (or utils/metric.py) with a metric class.")
    module_name = ".".join(metric_file.relative_to(folder).with_suffix("").parts)
    metric_class = _metric_class(load_grader_module(folder, module_name), metric_file)
    private = _first(folder / "private_leaderboard.csv", folder / "info" / "private_leaderboard.csv")
    public = _first(folder / "public_leaderboard.csv", folder / "info" / "public_leaderboard.csv")
    files: dict[str, str] = {"answers": "test_answer.csv"}
    if private or public:
        files["leaderboard"] = os.path.relpath(private or public, folder)
    if public and private:
        files["public_leaderboard"] = os.path.relpath(public, folder)
    description = _first(folder / "description.md", root / "public" / "description.txt",
                         folder / "info" / "description.txt")
    if description is not None:
        files["description"] = os.path.relpath(description, folder)
    instance_higher = getattr(_instantiate(metric_class), "higher_is_better", None)
    higher = bool(instance_higher) if isinstance(instance_higher, bool) else _higher_from_board(private or public)
    cid = competition_id or folder.name
    columns = _columns(root / "public" / "sample_submission.csv")
    return CompetitionSpec(
        id=cid, title=_title(description) or cid, category="external",
        metric=re.sub(r"Metrics?$", "", metric_class.__name__) or metric_class.__name__, higher_is_better=higher,
        id_column=columns[0], target_columns=tuple(columns[1:]) or (columns[0],), task="other", prediction="other",
        split_seed=_seed(cid), source=f"MLE-Dojo layout at {folder}", folder=folder, layout=MLE_DOJO,
        grader=f"{module_name}:{metric_class.__name__}", data_root=root, files=files,
    )


def _title(description: Path | None) -> str | None:
    if description is None:
        return None
    for line in description.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _metric_class(module: types.ModuleType, path: Path) -> type:
    """The class defined in metric.py with an `evaluate` method (a *Metrics name wins a tie)."""
    found = [obj for _, obj in inspect.getmembers(module, inspect.isclass)
             if obj.__module__ == module.__name__ and callable(getattr(obj, "evaluate", None))]
    if not found:
        raise ConfigError(f"{path} defines no metric class with an evaluate(y_true, y_pred) method.")
    found.sort(key=lambda cls: (not cls.__name__.endswith("Metrics"), cls.__name__))
    return found[0]


def _instantiate(metric_class: type) -> Any:
    try:
        return metric_class()
    except Exception as exc:  # noqa: BLE001 - user code
        raise ConfigError(f"Cannot create the metric {metric_class.__name__}(): {type(exc).__name__}: {exc}") from None


# --------------------------------------------------------------------------- the grader


def _benchmark_shims() -> None:
    """Stand-ins for the two names competition code imports from its benchmark, when it is not installed."""
    stand_ins = (("mledojo", "mledojo.metrics.base", ("CompetitionMetrics", "InvalidSubmissionError")),
                 ("mlebench", "mlebench.grade_helpers", ("InvalidSubmissionError",)))
    for package, module, names in stand_ins:
        try:
            __import__(module)
            continue
        except ImportError:
            pass
        shim = types.ModuleType(module)

        class CompetitionMetrics:  # MLE-Dojo's base class, minus its registry
            def __init__(self, higher_is_better: bool = True) -> None:
                self.higher_is_better = higher_is_better

        class InvalidSubmissionError(Exception):
            """A submission the competition's own checks reject."""

        shim.CompetitionMetrics = CompetitionMetrics  # type: ignore[attr-defined]
        shim.InvalidSubmissionError = InvalidSubmissionError  # type: ignore[attr-defined]
        shim.__all__ = list(names)  # type: ignore[attr-defined]
        parts = module.split(".")
        for i in range(1, len(parts)):
            sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
        sys.modules[module] = shim
        setattr(sys.modules[".".join(parts[:-1])], parts[-1], shim)
        logger.debug("%s is not installed: using nbdojo's stand-in for %s", package, module)


@contextlib.contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(str(folder))


def load_grader_module(folder: Path, module: str) -> types.ModuleType:
    """Import `module` from the competition folder (a file there wins), with the folder on sys.path."""
    _benchmark_shims()
    path = folder.joinpath(*module.split(".")).with_suffix(".py")
    with _on_path(folder):
        try:
            if path.is_file():
                digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
                return load_module(path, f"nbdojo_grader_{digest}_{path.stem}")
            import importlib

            return importlib.import_module(module)
        except NbdojoError:
            raise
        except Exception as exc:  # noqa: BLE001 - user code that cannot be imported
            raise ConfigError(f"Cannot import the grader module {module!r} from {folder}: "
                              f"{type(exc).__name__}: {exc}") from None


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


# --------------------------------------------------------------------------- grading


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


def grade_external(competition: str | CompetitionSpec | CompetitionData, submission_path: str | Path, *,
                   part: str = "private"):  # -> nbdojo.grading.Grade
    """Validate, score with the competition's own grader, and place the score on its leaderboard."""
    from nbdojo.grading import Grade, human_rank, medal, position

    data = competition if isinstance(competition, CompetitionData) else load(competition)
    spec = data.spec
    submission = validate_external(data, submission_path)
    score = score_external(data, submission, part=part)
    scores = leaderboard_scores(spec, part)
    return Grade(
        competition=spec.id, metric=spec.metric, higher_is_better=spec.higher_is_better, score=score, part=part,
        position=position(score, scores, spec.higher_is_better), leaderboard_size=int(scores.size),
        human_rank=human_rank(score, scores, spec.higher_is_better),
        medal=medal(score, scores, spec.higher_is_better),
    )
