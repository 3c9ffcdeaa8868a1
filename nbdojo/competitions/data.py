"""A competition's data: built once, offline and deterministically, into `nbdojo_home()/data/<id>/`
(public/, private/, checksums.json), atomically, and verified against its checksums on every load.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd

from nbdojo.competitions.registry import _resolve
from nbdojo.competitions.spec import (
    CHECKSUMS_FILE,
    USAGE_COLUMN,
    CompetitionData,
    CompetitionSpec,
    load_module,
)
from nbdojo.config import nbdojo_home
from nbdojo.errors import (
    ChecksumMismatchError,
    CompetitionNotPreparedError,
    NbdojoError,
)

__all__ = ["data_dir", "is_prepared", "load", "prepare", "verify"]


logger = logging.getLogger(__name__)

def data_dir(spec: CompetitionSpec) -> Path:
    """`nbdojo_home()/data/<id>` (public/, private/, checksums.json), or the folder an added one lives in."""
    return spec.data_root if spec.data_root is not None else nbdojo_home() / "data" / spec.id

def _checksums_path(spec: CompetitionSpec) -> Path:
    if spec.data_root is not None:  # never write into a folder nbdojo did not build
        return nbdojo_home() / "external" / spec.id / CHECKSUMS_FILE
    return data_dir(spec) / CHECKSUMS_FILE

#: What a built-in competition's data is made from besides its own folder: the shared build helpers.
_SHARED_RECIPE = ("prepare_kit.py", "resample.py", "neighbours.py")
#: Files of a competition's folder that do not change its data (the ladder, the page, reference solutions).
_NOT_RECIPE = {"leaderboard.csv", "ladder.json", "description.md", "reference.py"}


def recipe_digest(spec: CompetitionSpec) -> str:
    """A hash of what builds the data (prepare.py, competition.yaml, fitted models, the shared helpers):
    data built from another recipe (an older nbdojo's) is stale, whatever its checksums say."""
    digest = hashlib.sha256()
    folder = spec.folder
    inputs = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name not in _NOT_RECIPE
              and not p.name.startswith(".") and p.suffix != ".pyc"] if folder.is_dir() else []
    inputs += [Path(__file__).with_name(name) for name in _SHARED_RECIPE]
    for path in inputs:
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def is_prepared(spec: CompetitionSpec) -> bool:
    """True once a build from the current recipe finished (checksums are recorded last); does not hash the data."""
    path = _checksums_path(spec)
    if not path.is_file():
        return False
    if spec.data_root is not None:  # prepared elsewhere: nbdojo has no recipe for it
        return True
    try:
        recorded = json.loads(path.read_text(encoding="utf-8")).get("recipe")
    except (OSError, ValueError, AttributeError):
        return False
    if recorded != recipe_digest(spec):
        logger.info("competition %s was prepared from another recipe (an older prepare.py): it is rebuilt", spec.id)
        return False
    return True

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

def prepare(competition: str | CompetitionSpec, *, force: bool = False,
            on_progress: Callable[[str], None] | None = None) -> CompetitionData:
    """Build the data once (idempotent); `force` rebuilds it. Existing builds are verified.

    `on_progress` hears what a build has written so far ("3 files, 41.2 MB"), about twice a second,
    and at the end the files and rows it wrote.

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
        _build(spec, root, on_progress)
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

def _written(folder: Path, *, rows: bool = False) -> str:
    """What a build folder holds so far: files and size, or files and CSV rows."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    if rows:
        count = 0
        for path in files:
            if path.suffix == ".csv":
                with open(path, "rb") as handle:
                    count += max(0, sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1)
        return f"{len(files)} files, {count:,} rows"
    size = sum(p.stat().st_size for p in files if p.exists())
    return f"{len(files)} files, {size / 1e6:.1f} MB"


@contextlib.contextmanager
def _reporting(folder: Path, on_progress: Callable[[str], None] | None) -> Iterator[None]:
    """Tell `on_progress` what the build has written, every half second while it runs."""
    if on_progress is None:
        yield
        return
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.5):
            with contextlib.suppress(OSError):
                on_progress(_written(folder))

    watcher = threading.Thread(target=watch, name="nbdojo-prepare-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()


def _build(spec: CompetitionSpec, root: Path, on_progress: Callable[[str], None] | None = None) -> None:
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
        with _reporting(tmp, on_progress):
            module.prepare(data.public_dir, data.private_dir, spec.split_seed)
        if on_progress is not None:
            on_progress(_written(tmp, rows=True))
        _add_usage(spec, data.answers_path)
        _check_outputs(data)
        files = {
            path.relative_to(tmp).as_posix(): _sha256(path)
            for path in sorted(tmp.rglob("*")) if path.is_file()
        }
        record = {"competition": spec.id, "split_seed": spec.split_seed, "recipe": recipe_digest(spec), "files": files}
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
