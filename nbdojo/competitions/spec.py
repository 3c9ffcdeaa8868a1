"""What a competition is: its spec (from `competition.yaml`), where its prepared files are, and its id rule.

A leaf of the competitions package: it imports nothing of nbdojo but config, errors and the metric table.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import yaml

from nbdojo.config import competitions_dir
from nbdojo.errors import (
    ConfigError,
    NbdojoError,
)

__all__ = ["CompetitionData", "CompetitionSpec", "USAGE_COLUMN", "check_competition_id", "load_module"]


TASKS = ("binary", "multiclass", "multilabel", "regression", "ranking")

ORIGINS = ("real", "synthetic")
PREDICTIONS = ("probability", "label", "value", "ranking")

LAYOUTS = ("nbdojo", "mle-bench", "mle-dojo")

USAGE_COLUMN = "Usage"

CHECKSUMS_FILE = "checksums.json"

#: Where a competition's files are: train, test and sample_submission under public/, answers under
#: private/, leaderboards and description in the competition folder.
DEFAULT_FILES: Mapping[str, str] = MappingProxyType({
    "train": "train.csv", "test": "test.csv", "sample_submission": "sample_submission.csv",
    "answers": "answers.csv", "leaderboard": "leaderboard.csv", "description": "description.md",
})

#: What a competition id may be. An id names folders (`competitions/<id>`, `nbdojo_home()/data/<id>`), so
#: it is never a path: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit, no '..'.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")

_REQUIRED_KEYS = (
    "id", "title", "category", "metric", "higher_is_better", "id_column",
    "target_columns", "task", "prediction", "split_seed", "source",
)

@dataclass(frozen=True)
class CompetitionSpec:
    """What a competition is: its data layout, task and metric (from `competition.yaml`)."""

    id: str
    title: str
    category: str
    metric: str
    higher_is_better: bool
    id_column: str
    target_columns: tuple[str, ...]
    task: str
    prediction: str
    split_seed: int
    source: str
    public_fraction: float = 0.3
    #: Where the rows come from: "real" (a real data set, resampled) or "synthetic" (a seeded generator).
    origin: str = "synthetic"
    #: `competitions/<id>` when left out.
    folder: Path | None = None
    #: Any other keys of competition.yaml (e.g. `rows`), kept for display.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: "nbdojo" (built by prepare.py), or "mle-bench" / "mle-dojo" (prepared elsewhere, see nbdojo.competitions.layouts).
    layout: str = "nbdojo"
    #: The competition's own scorer as "module:attr" (a function `grade(submission, answers) -> float`
    #: or a metric class with `evaluate(y_true, y_pred)`), found in `folder`; None: nbdojo's METRICS.
    grader: str | None = None
    #: For competitions prepared elsewhere: the folder that holds public/ and private/.
    data_root: Path | None = None
    #: File names, over DEFAULT_FILES (a "public_leaderboard" key adds a separate public board).
    files: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_competition_id(self.id)  # before any path is built from it
        targets = (self.target_columns,) if isinstance(self.target_columns, str) else tuple(self.target_columns)
        object.__setattr__(self, "target_columns", targets)
        folder = Path(self.folder) if self.folder is not None else competitions_dir() / self.id
        object.__setattr__(self, "folder", folder)
        object.__setattr__(self, "extra", MappingProxyType(dict(self.extra)))
        object.__setattr__(self, "files", MappingProxyType({**DEFAULT_FILES, **dict(self.files)}))
        if self.data_root is not None:
            object.__setattr__(self, "data_root", Path(self.data_root))
        _check_spec(self)

    @property
    def description(self) -> str:
        """The competition page (description.md), or a short stand-in when there is none."""
        path = self.folder / self.files["description"]
        if path.is_file():
            return path.read_text(encoding="utf-8")
        targets = ", ".join(self.target_columns)
        return (
            f"# {self.title}\n\nPredict `{targets}` ({self.task}, submit a {self.prediction}) for every "
            f"row of test.csv, keyed by `{self.id_column}`. Metric: {self.metric}.\n"
        )

    @property
    def leaderboard_path(self) -> Path:
        return self.folder / self.files["leaderboard"]

    @property
    def public_leaderboard_path(self) -> Path:
        """The board public scores are placed on: its own file where the layout has one (MLE-Dojo)."""
        return self.folder / self.files.get("public_leaderboard", self.files["leaderboard"])

    @property
    def is_external(self) -> bool:
        """Prepared elsewhere (MLE-bench / MLE-Dojo layout) rather than built by nbdojo."""
        return self.layout != "nbdojo"

    @property
    def prepare_path(self) -> Path:
        return self.folder / "prepare.py"

    @property
    def submission_columns(self) -> tuple[str, ...]:
        return (self.id_column, *self.target_columns)

    def agent_view(self) -> dict[str, Any]:
        """What an agent is told about the task (`info["spec"]` at reset): no paths, nothing private."""
        return {
            "id": self.id, "title": self.title, "category": self.category, "task": self.task,
            "metric": self.metric, "higher_is_better": self.higher_is_better, "id_column": self.id_column,
            "target_columns": list(self.target_columns), "prediction": self.prediction,
        }

    @classmethod
    def from_yaml(cls, path: Path) -> CompetitionSpec:
        """Read a competition.yaml; any problem is a ConfigError naming the file."""
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"Cannot read {path}: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path} must hold a mapping of spec fields, not {type(raw).__name__}.")
        missing = [key for key in _REQUIRED_KEYS if key not in raw]
        if missing:
            raise ConfigError(f"{path} is missing required key(s): {', '.join(missing)}.")
        known = {f.name for f in fields(cls)} - {"folder", "extra"}
        kwargs = {key: value for key, value in raw.items() if key in known}
        extra = {key: value for key, value in raw.items() if key not in known}
        if str(kwargs["id"]) != Path(path).parent.name:
            raise ConfigError(f"{path} declares id {kwargs['id']!r} but lives in folder {Path(path).parent.name!r}.")
        try:
            return cls(**kwargs, folder=Path(path).parent, extra=extra)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None

def _id_problem(competition_id: object) -> str | None:
    """Why `competition_id` is not a well-formed id, in one line; None when it is one."""
    if isinstance(competition_id, str) and ID_PATTERN.fullmatch(competition_id) and ".." not in competition_id:
        return None
    shown = repr(competition_id) if isinstance(competition_id, str) else type(competition_id).__name__
    if len(shown) > 80:
        shown = shown[:60] + f"... ({len(shown)} characters)"
    return (f"{shown} is not a competition id: an id is 1-100 lowercase letters, digits, '.', '_' or '-' "
            "(never a path, never '..'); `nbdojo competitions list` shows the registered ones.")

def check_competition_id(competition_id: object) -> str:
    """`competition_id` itself if it is a well-formed id, else a one-line ConfigError.

    Every id nbdojo builds a path from passes here first (specs check their own id when made),
    so an id from a notebook, the CLI or the API can name a registered competition and
    nothing else: not a folder, not a path out of `competitions_dir()` or `nbdojo_home()`.
    """
    problem = _id_problem(competition_id)
    if problem:
        raise ConfigError(problem)
    return competition_id  # type: ignore[return-value]

def _check_spec(spec: CompetitionSpec) -> None:
    """Reject specs whose declarations contradict each other or the metric's own definition."""
    from nbdojo.grading import METRICS  # grading imports this module

    def bad(message: str) -> ConfigError:
        return ConfigError(f"Competition {spec.id!r}: {message}")

    if not spec.id or not isinstance(spec.id, str):
        raise bad("id must be a non-empty string.")
    if spec.layout not in LAYOUTS:
        raise bad(f"layout {spec.layout!r} is not one of {', '.join(LAYOUTS)}.")
    if spec.origin not in ORIGINS:
        raise bad(f"origin {spec.origin!r} is not one of {', '.join(ORIGINS)}.")
    if not 0.0 < float(spec.public_fraction) < 1.0:
        raise bad(f"public_fraction must be between 0 and 1 (exclusive), not {spec.public_fraction!r}.")
    if spec.grader is not None:  # its own grader decides what a submission holds and how it scores
        if ":" not in spec.grader:
            raise bad(f"grader must be 'module:attr', not {spec.grader!r}.")
        if not isinstance(spec.higher_is_better, bool):
            raise bad(f"higher_is_better must be true or false, not {spec.higher_is_better!r}.")
        return
    if spec.task not in TASKS:
        raise bad(f"task {spec.task!r} is not one of {', '.join(TASKS)}.")
    if spec.prediction not in PREDICTIONS:
        raise bad(f"prediction {spec.prediction!r} is not one of {', '.join(PREDICTIONS)}.")
    if spec.metric not in METRICS:
        raise bad(f"metric {spec.metric!r} is unknown; known metrics: {', '.join(sorted(METRICS))}.")
    metric = METRICS[spec.metric]
    if not isinstance(spec.higher_is_better, bool):
        raise bad(f"higher_is_better must be true or false, not {spec.higher_is_better!r}.")
    if spec.higher_is_better != metric.higher_is_better:
        word = "higher" if metric.higher_is_better else "lower"
        raise bad(
            f"higher_is_better is {str(spec.higher_is_better).lower()} but for {spec.metric} {word} is better; "
            f"set higher_is_better: {str(metric.higher_is_better).lower()}."
        )
    if spec.prediction != metric.needs:
        raise bad(f"metric {spec.metric} scores a {metric.needs}, but prediction is {spec.prediction!r}.")
    if metric.tasks and spec.task not in metric.tasks:
        raise bad(f"metric {spec.metric} does not fit task {spec.task!r}; it scores {', '.join(metric.tasks)} tasks.")
    if not spec.target_columns or not all(isinstance(c, str) and c for c in spec.target_columns):
        raise bad("target_columns must list at least one column name.")
    if spec.id_column in spec.target_columns:
        raise bad(f"id column {spec.id_column!r} cannot also be a target column.")

@dataclass(frozen=True)
class CompetitionData:
    """Where a prepared competition's files are. Only the grader may read `private_dir`."""

    spec: CompetitionSpec
    public_dir: Path
    private_dir: Path

    @property
    def train_path(self) -> Path:
        return self.public_dir / self.spec.files["train"]

    @property
    def test_path(self) -> Path:
        return self.public_dir / self.spec.files["test"]

    @property
    def sample_submission_path(self) -> Path:
        return self.public_dir / self.spec.files["sample_submission"]

    @property
    def answers_path(self) -> Path:
        return self.private_dir / self.spec.files["answers"]

def load_module(path: Path, name: str, required: str | None = None) -> ModuleType:
    """Import a file by path (competitions are folders, not packages); `required` must be callable in it."""
    import_spec = importlib.util.spec_from_file_location(name, path)
    if import_spec is None or import_spec.loader is None:
        raise NbdojoError(f"Cannot import {path}.")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        import_spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if required and not callable(getattr(module, required, None)):
        raise NbdojoError(f"{path} must define {required}(...).")
    return module
