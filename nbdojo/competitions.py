"""Competition specs, the registry that finds them, and building their data offline.

A competition is a folder (`competitions/<id>/`) with `competition.yaml`,
`description.md`, `prepare.py` and `leaderboard.csv`. Its data is built once into
`nbdojo_home()/data/<id>/` (public/, private/, checksums.json), atomically, and
verified against the recorded checksums every time it is loaded, so a grade is
always computed on exactly the answers the data was built with.

Competitions already prepared on disk in the MLE-bench or MLE-Dojo layout are added
with `add_competition(path)` (`nbdojo competitions add PATH`): the layout is read by
`nbdojo.external`, the registration is kept in `nbdojo_home()/external.json` so it
outlives the process, and they are graded by their own grader (`CompetitionSpec.grader`).
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import sys
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any

import numpy as np
import pandas as pd
import yaml

from nbdojo.config import competitions_dir, nbdojo_home
from nbdojo.errors import (
    ChecksumMismatchError,
    CompetitionNotPreparedError,
    ConfigError,
    NbdojoError,
    UnknownCompetitionError,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CompetitionData",
    "CompetitionSpec",
    "add_competition",
    "check_competition_id",
    "data_dir",
    "get_competition",
    "is_prepared",
    "list_competitions",
    "load",
    "prepare",
    "register_competition",
    "remove_competition",
    "unregister_competition",
    "verify",
]

TASKS = ("binary", "multiclass", "multilabel", "regression", "ranking")
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
    #: `competitions/<id>` when left out.
    folder: Path | None = None
    #: Any other keys of competition.yaml (e.g. `rows`), kept for display.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    #: "nbdojo" (built by prepare.py), or "mle-bench" / "mle-dojo" (prepared elsewhere, see nbdojo.external).
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


# --------------------------------------------------------------------------- registry

_REGISTERED: dict[str, CompetitionSpec] = {}


def _builtin_specs() -> dict[str, CompetitionSpec]:
    root = competitions_dir()
    paths = sorted(root.glob("*/competition.yaml")) if root.is_dir() else []
    return {spec.id: spec for spec in map(CompetitionSpec.from_yaml, paths)}


def _external_spec(competition_id: str, record: Mapping[str, str]) -> CompetitionSpec:
    from nbdojo.external import spec_from_folder  # external builds specs, so it imports this module

    return spec_from_folder(record["path"], layout=record.get("layout"), competition_id=competition_id)


def _external_specs() -> dict[str, CompetitionSpec]:
    specs = {}
    for competition_id, record in external_records().items():
        try:
            specs[competition_id] = _external_spec(competition_id, record)
        except NbdojoError as exc:  # a folder moved or broken since it was added: list the others
            logger.warning("skipping added competition %s: %s", competition_id, exc)
    return specs


def list_competitions() -> list[CompetitionSpec]:
    """Every built-in, added (`add_competition`) and registered competition, sorted by id."""
    specs = {**_external_specs(), **_builtin_specs(), **_REGISTERED}
    return [specs[key] for key in sorted(specs)]


def get_competition(competition_id: str) -> CompetitionSpec:
    """The registered spec for `competition_id`; an unknown id suggests close matches.

    Only the registry is looked up: `register_competition`, the built-in folders and the
    competitions added from disk. An id that is not well formed (a path, '/', '..', NUL...)
    is an UnknownCompetitionError in one line before anything is read or imported.
    """
    problem = _id_problem(competition_id)
    if problem:
        error = UnknownCompetitionError(str(competition_id)[:80])
        error.args = (problem,)
        raise error
    if competition_id in _REGISTERED:
        return _REGISTERED[competition_id]
    path = competitions_dir() / competition_id / "competition.yaml"
    if path.is_file():
        return CompetitionSpec.from_yaml(path)
    record = external_records().get(competition_id)
    if record is not None:
        return _external_spec(competition_id, record)
    known = [spec.id for spec in list_competitions()]
    raise UnknownCompetitionError(competition_id, difflib.get_close_matches(competition_id, known, n=3))


def register_competition(spec: CompetitionSpec, *, replace: bool = False) -> None:
    """Add a competition for this process only (`add_competition` keeps one across processes)."""
    builtin = (competitions_dir() / check_competition_id(spec.id) / "competition.yaml").is_file()
    if not replace and (spec.id in _REGISTERED or builtin):
        raise ConfigError(f"A competition with id {spec.id!r} is already registered; pass replace=True to override it.")
    _REGISTERED[spec.id] = spec
    logger.debug("registered competition %s from %s", spec.id, spec.folder)


def unregister_competition(competition_id: str) -> None:
    """Forget a competition added with `register_competition` (built-ins stay)."""
    _REGISTERED.pop(competition_id, None)


def _resolve(competition: str | CompetitionSpec) -> CompetitionSpec:
    return competition if isinstance(competition, CompetitionSpec) else get_competition(competition)


# --------------------------------------------------------------------------- data


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


def data_dir(spec: CompetitionSpec) -> Path:
    """`nbdojo_home()/data/<id>` (public/, private/, checksums.json), or the folder an added one lives in."""
    return spec.data_root if spec.data_root is not None else nbdojo_home() / "data" / spec.id


def _checksums_path(spec: CompetitionSpec) -> Path:
    if spec.data_root is not None:  # never write into a folder nbdojo did not build
        return nbdojo_home() / "external" / spec.id / CHECKSUMS_FILE
    return data_dir(spec) / CHECKSUMS_FILE


def is_prepared(spec: CompetitionSpec) -> bool:
    """True once a build finished (checksums are recorded last); does not hash the files."""
    return _checksums_path(spec).is_file()


def _data(spec: CompetitionSpec, root: Path) -> CompetitionData:
    return CompetitionData(spec=spec, public_dir=root / "public", private_dir=root / "private")


def load(competition: str | CompetitionSpec, *, verify_checksums: bool = True) -> CompetitionData:
    """The prepared data of a competition, checked against its recorded checksums."""
    spec = _resolve(competition)
    if not is_prepared(spec):
        raise CompetitionNotPreparedError(
            f"Competition {spec.id!r} has no data in {data_dir(spec)}; run `nbdojo competitions prepare {spec.id}`."
        )
    if verify_checksums:
        verify(spec)
    return _data(spec, data_dir(spec))


def prepare(competition: str | CompetitionSpec, *, force: bool = False) -> CompetitionData:
    """Build the data once (idempotent); `force` rebuilds it. Existing builds are verified.

    A competition prepared elsewhere (`data_root`) is not built: its files are hashed once
    (again with `force`) and verified from then on.
    """
    spec = _resolve(competition)
    if spec.data_root is not None:
        if force or not is_prepared(spec):
            _record_checksums(spec)
        verify(spec)
        return _data(spec, data_dir(spec))
    root = data_dir(spec)
    root.parent.mkdir(parents=True, exist_ok=True)
    with _build_lock(root):
        if not force and is_prepared(spec):
            verify(spec)
            logger.debug("competition %s already prepared in %s", spec.id, root)
            return _data(spec, root)
        _build(spec, root)
    return _data(spec, root)


#: Files already hashed in this process: path -> (size, mtime_ns, sha256). Building an env per episode
#: would otherwise re-hash the whole dataset each time (seconds for the image competitions).
_VERIFIED: dict[Path, tuple[int, int, str]] = {}


def verify(spec: CompetitionSpec) -> None:
    """Raise ChecksumMismatchError if any prepared file differs from its recorded sha256."""
    root, record_path = data_dir(spec), _checksums_path(spec)
    again = "add it again with `nbdojo competitions add PATH --replace`" if spec.data_root is not None else (
        f"rebuild it with `nbdojo competitions prepare {spec.id} --force`")
    try:
        recorded = json.loads(record_path.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise ChecksumMismatchError(f"{record_path} is unreadable; {again}.") from None
    for relative, expected in recorded.items():
        path = root / relative
        if not path.is_file():
            raise ChecksumMismatchError(f"{path} is missing from the prepared data of {spec.id!r}; {again}.")
        stat = path.stat()
        seen = (stat.st_size, stat.st_mtime_ns, expected)
        if _VERIFIED.get(path) == seen:
            continue  # hashed already in this process and untouched since
        if _sha256(path) != expected:
            raise ChecksumMismatchError(
                f"{path} does not match the checksum recorded when {spec.id!r} was prepared (it was changed "
                f"or corrupted); {again}."
            )
        _VERIFIED[path] = seen


def _record_checksums(spec: CompetitionSpec) -> None:
    """For data prepared elsewhere: hash the answers and the CSV files at the top of public/."""
    data = _data(spec, data_dir(spec))
    for path, what in ((data.public_dir, "public folder"), (data.answers_path, "answers file"),
                       (data.sample_submission_path, "sample submission")):
        if not path.exists():
            raise CompetitionNotPreparedError(f"Competition {spec.id!r} has no {what} at {path}.")
    paths = {data.answers_path, data.sample_submission_path, *data.public_dir.glob("*.csv")}
    root = data_dir(spec)
    files = {os.path.relpath(path, root).replace(os.sep, "/"): _sha256(path) for path in sorted(paths)}
    record_path = _checksums_path(spec)
    record_path.parent.mkdir(parents=True, exist_ok=True)
    record = {"competition": spec.id, "layout": spec.layout, "data_root": str(root), "files": files}
    record_path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _build(spec: CompetitionSpec, root: Path) -> None:
    """Build into a temp folder beside `root`, then swap it in with renames."""
    if not spec.prepare_path.is_file():
        raise NbdojoError(f"Competition {spec.id!r} has no prepare.py at {spec.prepare_path}; it cannot be built.")
    tmp = root.parent / f".{spec.id}.build-{uuid.uuid4().hex[:8]}"
    data = _data(spec, tmp)
    data.public_dir.mkdir(parents=True)
    data.private_dir.mkdir()
    logger.info("preparing %s (seed %d) into %s", spec.id, spec.split_seed, root)
    try:
        module = _load_module(spec.prepare_path, f"nbdojo_prepare_{spec.id.replace('-', '_')}")
        module.prepare(data.public_dir, data.private_dir, spec.split_seed)
        _add_usage(spec, data.answers_path)
        _check_outputs(data)
        files = {
            path.relative_to(tmp).as_posix(): _sha256(path)
            for path in sorted(tmp.rglob("*")) if path.is_file()
        }
        record = {"competition": spec.id, "split_seed": spec.split_seed, "files": files}
        (tmp / CHECKSUMS_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        for path in tmp.rglob("*"):
            if path.is_file():
                path.chmod(0o444)  # prepared data is never edited in place
        old = root.parent / f".{spec.id}.old-{uuid.uuid4().hex[:8]}"
        if root.exists():
            os.rename(root, old)
        os.rename(tmp, root)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def _load_module(path: Path, name: str) -> ModuleType:
    module = load_module(path, name)
    if not callable(getattr(module, "prepare", None)):
        raise NbdojoError(f"{path} must define prepare(public_dir, private_dir, seed).")
    return module


def _add_usage(spec: CompetitionSpec, answers_path: Path) -> None:
    """Mark each answer Public or Private (seeded by split_seed), unless prepare.py already did."""
    if not answers_path.is_file():
        raise NbdojoError(f"prepare.py of {spec.id!r} wrote no private/answers.csv.")
    answers = pd.read_csv(answers_path, dtype=str, keep_default_na=False)
    if USAGE_COLUMN in answers.columns:
        return
    n_public = round(spec.public_fraction * len(answers))
    public = np.random.default_rng(spec.split_seed).permutation(len(answers))[:n_public]
    usage = np.full(len(answers), "Private", dtype=object)
    usage[public] = "Public"
    answers[USAGE_COLUMN] = usage
    answers.to_csv(answers_path, index=False, lineterminator="\n")


def _check_outputs(data: CompetitionData) -> None:
    """Hold prepare.py to the folder contract so a broken build never gets recorded."""
    spec = data.spec
    for path in (data.train_path, data.test_path, data.sample_submission_path, data.answers_path):
        if not path.is_file():
            raise NbdojoError(f"prepare.py of {spec.id!r} did not write {path.parent.name}/{path.name}.")

    def header(path: Path) -> list[str]:
        return list(pd.read_csv(path, nrows=0).columns)

    needs = {
        data.train_path: spec.submission_columns,
        data.test_path: (spec.id_column,),
        data.sample_submission_path: spec.submission_columns,
        data.answers_path: (*spec.submission_columns, USAGE_COLUMN),
    }
    for path, columns in needs.items():
        missing = [c for c in columns if c not in header(path)]
        if missing:
            raise NbdojoError(f"{path.name} of {spec.id!r} lacks column(s) {', '.join(missing)}.")
    leaked = [c for c in spec.target_columns if c in header(data.test_path)]
    if leaked:
        raise NbdojoError(f"test.csv of {spec.id!r} contains target column(s) {', '.join(leaked)}.")

    def ids(path: Path) -> pd.Series:
        return pd.read_csv(path, usecols=[spec.id_column], dtype=str)[spec.id_column]

    test_ids = ids(data.test_path)
    if test_ids.duplicated().any():
        raise NbdojoError(f"test.csv of {spec.id!r} has duplicated ids.")
    for path in (data.sample_submission_path, data.answers_path):
        other = ids(path)
        if len(other) != len(test_ids) or set(other) != set(test_ids):
            raise NbdojoError(f"{path.name} of {spec.id!r} does not hold exactly the ids of test.csv.")
    usage = pd.read_csv(data.answers_path, usecols=[USAGE_COLUMN], dtype=str)[USAGE_COLUMN]
    if not usage.isin(["Public", "Private"]).all() or usage.nunique() != 2:
        raise NbdojoError(f"answers.csv of {spec.id!r} needs both Public and Private rows in its Usage column.")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _build_lock(root: Path) -> Iterator[None]:
    """Serialise builds of one competition across processes (parallel episodes share a cache)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no cross-process lock, the atomic rename still protects readers
        yield
        return
    with open(root.parent / f".{root.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# The persistent registry of competitions added from disk (imports this module lazily).
from nbdojo.added import add_competition, external_records, remove_competition  # noqa: E402
