"""Competitions prepared elsewhere, in the MLE-bench or the MLE-Dojo layout: reading their folders into specs (graded by nbdojo.grading.external).

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
leaderboard, public ones on the public leaderboard where the layout has one."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import logging
import os
import re
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from nbdojo.competitions.spec import CompetitionSpec, check_competition_id, load_module
from nbdojo.errors import (
    ConfigError,
    NbdojoError,
)

__all__ = ["detect_layout", "load_grader_module", "spec_from_folder"]


logger = logging.getLogger(__name__)

MLE_BENCH, MLE_DOJO = "mle-bench", "mle-dojo"

_NEITHER = ("{folder} is in neither the MLE-bench layout (config.yaml with dataset and grader) nor the MLE-Dojo "
            "layout (data/public/, data/private/test_answer.csv and a metric.py).")

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
