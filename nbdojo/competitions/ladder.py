"""A ladder of reference solutions of graded strength, scored to make a competition's leaderboard.

These are reference ladders, not Kaggle's human leaderboards: each rung is a seeded
scikit-learn recipe (a constant, random guesses, single features, linear models, trees,
forests, gradient boosting on growing samples of the data, small ensembles). Each rung's
submission goes through `grading` exactly as an agent's would, scored on the private
answers (and the public ones, for `validate`'s feedback). The default ladder works from the
spec alone (task, prediction type, id and target columns) so it fits any tabular competition:
binary, multiclass (labels, or one probability column per class), multilabel, regression
(on log(1 + y) when the metric is RMSLE). A competition whose task needs other recipes
(time series, ranking, images, text) ships a `reference.py` with `rungs(data) -> list[Rung]`;
a rung may then be a whole solution, `Rung.submit(data) -> submission frame`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from threadpoolctl import threadpool_limits

from nbdojo.competitions import CompetitionData, CompetitionSpec
from nbdojo.competitions.ladder_cache import EntryCache, rung_key
from nbdojo.errors import NbdojoError
from nbdojo.grading import METRICS, score_submission, validate_submission

logger = logging.getLogger(__name__)

__all__ = [
    "LADDER_COLUMNS", "Features", "Rung", "add_entry", "build_ladder", "default_rungs", "reference_rungs",
    "rung_cache_key", "score_entry", "submission_frame", "write_leaderboard",
]

LADDER_COLUMNS = ["entry", "score", "public_score", "method", "fraction", "seed"]
_MAX_LEVELS = 50  # one-hot / native categorical levels kept per column


@dataclass
class Features:
    """Train and test in the numeric forms the rungs need, built once per competition."""

    y: np.ndarray
    numeric: list[str]
    categorical: list[str]
    dates: list[str]
    train: dict[str, pd.DataFrame]  # feature-set name -> frame
    test: dict[str, pd.DataFrame]
    ids: pd.Series

    @classmethod
    def from_data(cls, data: CompetitionData, drop: Sequence[str] = ()) -> Features:
        """Feature sets from train and test; `drop` leaves columns out (e.g. a leak a careful engineer drops)."""
        spec = data.spec
        if spec.task == "ranking":
            raise NbdojoError(f"{spec.id!r} is a ranking task: its ladder needs a reference.py with its own rungs.")
        train = pd.read_csv(data.train_path, low_memory=False)
        test = pd.read_csv(data.test_path, low_memory=False)
        targets = list(spec.target_columns)
        if train[targets].isna().any().any():
            train = train.dropna(subset=targets).reset_index(drop=True)
        skip = {spec.id_column, *spec.target_columns, *drop}
        numeric, categorical, dates = [], [], []
        for column in (c for c in test.columns if c not in skip and c in train.columns):
            values = train[column]
            if pd.api.types.is_numeric_dtype(values):
                numeric.append(column)
            elif _looks_like_date(values):
                dates.append(column)
            elif values.nunique() <= 1000:
                categorical.append(column)
        both = pd.concat([train[test.columns.intersection(train.columns)], test], ignore_index=True)
        n = len(train)
        num = both[numeric].astype(float)
        date_frame = pd.DataFrame(index=both.index)
        for column in dates:
            parsed = pd.to_datetime(both[column], errors="coerce")
            date_frame[f"{column}_days"] = (parsed - pd.Timestamp("1970-01-01")).dt.days.astype(float)
            date_frame[f"{column}_year"] = parsed.dt.year.astype(float)
            date_frame[f"{column}_month"] = parsed.dt.month.astype(float)
            date_frame[f"{column}_dow"] = parsed.dt.day_of_week.astype(float)
        cats = both[categorical].astype(object).where(both[categorical].notna(), "__missing__").astype(str)
        top = {c: cats[c].iloc[:n].value_counts().index[:_MAX_LEVELS] for c in categorical}
        capped = pd.DataFrame({c: cats[c].where(cats[c].isin(top[c]), "__other__") for c in categorical})
        onehot = pd.get_dummies(capped, dtype=float) if categorical else pd.DataFrame(index=both.index)
        codes = {c: pd.Categorical(capped[c]).codes.astype(float) for c in categorical}
        ordinal = pd.DataFrame(codes, index=both.index)
        native = pd.DataFrame({c: pd.Categorical(capped[c]) for c in categorical}, index=both.index)
        indicators = num.isna().astype(float).add_suffix("_missing")
        indicators = indicators.loc[:, indicators.iloc[:n].std() > 0]
        sets = {
            "numeric": num,
            "onehot": pd.concat([num, onehot], axis=1),
            "onehot_dates": pd.concat([num, indicators, onehot, date_frame], axis=1),
            "ordinal_dates": pd.concat([num, ordinal, date_frame], axis=1),
            "native": pd.concat([num, native], axis=1),
            "native_dates": pd.concat([num, native, date_frame], axis=1),
        }
        if len(targets) == 1:
            y = train[targets[0]].to_numpy()
        elif spec.task == "multiclass":  # one 0/1 column per class: the class is the column holding the 1
            y = np.asarray(targets, dtype=object)[train[targets].to_numpy().argmax(axis=1)]
        else:  # multilabel: a 0/1 matrix
            y = train[targets].to_numpy()
        return cls(
            y=y,
            numeric=numeric, categorical=categorical, dates=dates,
            train={k: v.iloc[:n].reset_index(drop=True) for k, v in sets.items()},
            test={k: v.iloc[n:].reset_index(drop=True) for k, v in sets.items()},
            ids=test[spec.id_column].astype(str),
        )


def _looks_like_date(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    return pd.to_datetime(sample, errors="coerce").notna().mean() > 0.95


@dataclass(frozen=True)
class Rung:
    """One reference solution: a model factory fitted on a feature set and a share of the rows.

    A competition's `reference.py` may also give whole solutions: `submit(data)` returns the
    submission frame (id column + target columns) and the ladder grades it like any other.
    """

    name: str
    method: str
    features: str = "numeric"  # a key of Features.train, or a single numeric column as "column:<name>"
    make: Callable[[CompetitionSpec, int], BaseEstimator] | None = None  # None (and no submit): random guesses
    fraction: float = 1.0
    seed: int = 0
    blend: tuple[str, ...] = ()  # an ensemble: mean of these rungs' predictions
    drop: tuple[str, ...] = ()  # columns left out of the features
    #: "raw" fits the target as it is, "log" fits log(1 + y); "auto": log when the metric is RMSLE.
    target: str = "auto"
    submit: Callable[[CompetitionData], pd.DataFrame] | None = None


def _classifier(spec: CompetitionSpec) -> bool:
    return spec.task in ("binary", "multiclass", "multilabel")


def _hgb(spec: CompetitionSpec, seed: int, **kw: object) -> BaseEstimator:
    cls = HistGradientBoostingClassifier if _classifier(spec) else HistGradientBoostingRegressor
    return cls(categorical_features="from_dtype", random_state=seed, **kw)


def _linear(spec: CompetitionSpec, seed: int) -> BaseEstimator:
    model = LogisticRegression(max_iter=2000, C=1.0, random_state=seed) if _classifier(spec) else Ridge(alpha=1.0)
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)


def _tree(depth: int | None) -> Callable[[CompetitionSpec, int], BaseEstimator]:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        cls = DecisionTreeClassifier if _classifier(spec) else DecisionTreeRegressor
        return cls(max_depth=depth, min_samples_leaf=20 if depth else 1, random_state=seed)
    return make


def _forest(depth: int | None, leaf: int) -> Callable[[CompetitionSpec, int], BaseEstimator]:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        cls = RandomForestClassifier if _classifier(spec) else RandomForestRegressor
        return cls(n_estimators=60, max_depth=depth, min_samples_leaf=leaf, max_features="sqrt",
                   max_samples=0.5, n_jobs=-1, random_state=seed)
    return make


def _constant(spec: CompetitionSpec, seed: int) -> BaseEstimator:
    if not _classifier(spec):
        return DummyRegressor(strategy="mean")
    return DummyClassifier(strategy="prior" if spec.prediction == "probability" else "most_frequent")


def _naive_bayes(spec: CompetitionSpec, seed: int) -> BaseEstimator:
    model = GaussianNB() if _classifier(spec) else LinearRegression()
    return make_pipeline(SimpleImputer(strategy="median"), model)


def _single_feature(spec: CompetitionSpec, seed: int) -> BaseEstimator:
    model = LogisticRegression(max_iter=1000) if _classifier(spec) else LinearRegression()
    return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)


def _tuned_hgb(spec: CompetitionSpec, seed: int) -> BaseEstimator:
    return _hgb(spec, seed, learning_rate=0.05, max_iter=600, max_leaf_nodes=15, l2_regularization=1.0,
                min_samples_leaf=40, max_features=0.8, early_stopping=True, validation_fraction=0.1,
                n_iter_no_change=30)


def default_rungs(features: Features) -> list[Rung]:
    """The standard ladder, weakest recipes first; single features come from the data itself."""
    rungs = [
        Rung("constant", "constant prediction (class prior / mean)", "numeric", _constant),
        Rung("random", "uniformly random predictions", "numeric", None, seed=0),
    ]
    for column in _strongest_numeric(features, k=3):
        rungs.append(Rung(f"single_{column}", f"linear model on {column} alone", f"column:{column}", _single_feature))
    rungs += [
        Rung("naive_bayes_numeric", "Gaussian naive Bayes on numeric columns", "numeric", _naive_bayes),
        Rung("linear_numeric", "logistic / ridge regression on numeric columns", "numeric", _linear),
        Rung("linear_onehot", "logistic / ridge regression, numerics + one-hot categoricals", "onehot", _linear),
        Rung("linear_onehot_dates", "logistic / ridge, + missing flags + date features", "onehot_dates", _linear),
        Rung("tree_full_depth", "one unpruned decision tree", "ordinal_dates", _tree(None)),
    ]
    for depth in (1, 2, 3, 4, 6, 8):
        rungs.append(Rung(f"tree_depth_{depth}", f"decision tree of depth {depth}", "ordinal_dates", _tree(depth)))
    rungs += [
        Rung("forest_shallow", "random forest, depth 6", "ordinal_dates", _forest(6, 1)),
        Rung("forest", "random forest, 60 trees", "ordinal_dates", _forest(None, 10)),
    ]
    for fraction in (0.01, 0.05, 0.2, 0.5, 1.0):
        rungs.append(Rung(f"hgb_{round(fraction * 100)}pct", "hist gradient boosting, categoricals + dates",
                          "native_dates", _hgb, fraction=fraction))
    rungs += [
        Rung("hgb_numeric", "hist gradient boosting on numeric columns", "numeric", _hgb),
        Rung("hgb_no_dates", "hist gradient boosting, categoricals, no date features", "native", _hgb),
        Rung("hgb_tuned", "tuned hist gradient boosting (lr 0.05, early stopping)", "native_dates", _tuned_hgb),
        Rung("hgb_tuned_seed1", "tuned hist gradient boosting, seed 1", "native_dates", _tuned_hgb, seed=1),
        Rung("hgb_tuned_seed2", "tuned hist gradient boosting, seed 2", "native_dates", _tuned_hgb, seed=2),
        Rung("ensemble_hgb_seeds", "mean of three tuned boosters", "native_dates", None,
             blend=("hgb_tuned", "hgb_tuned_seed1", "hgb_tuned_seed2")),
        Rung("ensemble_hgb_forest_linear", "mean of tuned booster, forest and linear model", "native_dates", None,
             blend=("hgb_tuned", "forest", "linear_onehot_dates")),
    ]
    return rungs


def _strongest_numeric(features: Features, k: int) -> list[str]:
    """Numeric columns ranked by |Spearman correlation| with the target on train."""
    y = np.asarray(features.y)
    if not features.numeric or y.ndim != 1:
        return []
    codes = y.astype(float) if np.issubdtype(y.dtype, np.number) else pd.factorize(y, sort=True)[0].astype(float)
    frame = features.train["numeric"]
    target = pd.Series(codes).rank()
    strength = {c: abs(frame[c].rank().corr(target)) for c in features.numeric}
    return sorted((c for c in strength if np.isfinite(strength[c])), key=lambda c: -strength[c])[:k]


def _predict(model: BaseEstimator, X: pd.DataFrame, spec: CompetitionSpec) -> np.ndarray:
    if spec.prediction != "probability":
        return np.asarray(model.predict(X))
    proba = model.predict_proba(X)
    classes = list(model.classes_)
    if spec.task == "multiclass" and len(spec.target_columns) > 1:  # one column per class, in the spec's order
        out = np.zeros((len(X), len(spec.target_columns)))
        for j, column in enumerate(spec.target_columns):
            if column in classes:
                out[:, j] = proba[:, classes.index(column)]
        return out / out.sum(axis=1, keepdims=True)
    return proba[:, classes.index(max(classes))] if len(classes) > 1 else np.full(len(X), float(classes[0]))


def _random(features: Features, spec: CompetitionSpec, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = len(features.ids)
    width = len(spec.target_columns)
    if spec.prediction == "probability" and spec.task == "multiclass" and width > 1:
        return rng.dirichlet(np.ones(width), size=n)
    if spec.prediction == "probability":
        return rng.random(n) if width == 1 else rng.random((n, width))
    return rng.choice(features.y, size=n)  # labels or values drawn from the training targets


def _log_target(rung: Rung, spec: CompetitionSpec) -> bool:
    return rung.target == "log" or (rung.target == "auto" and spec.metric == "rmsle")


def _fit_one(rung: Rung, spec: CompetitionSpec, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame,
             threads: int | None) -> np.ndarray:
    model = clone(rung.make(spec, rung.seed))
    if threads and "n_jobs" in model.get_params(deep=False):
        model.set_params(n_jobs=threads)
    log = _log_target(rung, spec)
    model.fit(X, np.log1p(y.astype(float)) if log else y)
    predictions = _predict(model, X_test, spec)
    if log:
        predictions = np.expm1(predictions)
    minimum = METRICS[spec.metric].min_value
    return np.clip(predictions, minimum, None) if minimum is not None else predictions


def _blend(predictions: list[np.ndarray], spec: CompetitionSpec) -> np.ndarray:
    """Mean of probabilities or values; majority vote of labels (ties go to the first model)."""
    if spec.prediction != "label":
        return np.mean(predictions, axis=0)
    stacked = np.array(predictions, dtype=object)
    chosen, votes = stacked[0].copy(), np.zeros(stacked.shape[1])
    for candidate in stacked:
        count = (stacked == candidate).sum(axis=0)
        better = count > votes
        chosen[better], votes[better] = candidate[better], count[better]
    return chosen


def _fit_predict(
    rung: Rung, features: Features, spec: CompetitionSpec, done: dict[str, np.ndarray], threads: int | None
) -> np.ndarray:
    if rung.blend:
        return _blend([done[name] for name in rung.blend], spec)
    if rung.make is None:
        return _random(features, spec, rung.seed)
    if rung.features.startswith("column:"):
        column = rung.features.split(":", 1)[1]
        X, X_test = features.train["numeric"][[column]], features.test["numeric"][[column]]
    else:
        X, X_test = features.train[rung.features], features.test[rung.features]
    y = features.y
    if rung.fraction < 1.0:
        rows = np.sort(np.random.default_rng(rung.seed).permutation(len(y))[: max(20, int(rung.fraction * len(y)))])
        X, y = X.iloc[rows], y[rows]
    if y.ndim == 2:  # multilabel: one model per label column
        return np.column_stack([_fit_one(rung, spec, X, y[:, j], X_test, threads) for j in range(y.shape[1])])
    return _fit_one(rung, spec, X, y, X_test, threads)


def score_entry(data: CompetitionData, name: str, submission: pd.DataFrame, *, method: str = "external",
                fraction: float = float("nan"), seed: int | float = float("nan")) -> dict[str, object]:
    """Grade one submission frame as an agent's file would be: written to CSV, validated, scored."""
    with tempfile.TemporaryDirectory(prefix="nbdojo-ladder-") as tmp:
        path = Path(tmp) / "submission.csv"
        submission.to_csv(path, index=False, lineterminator="\n")
        parsed = validate_submission(data, path)
    return {
        "entry": name,
        "score": score_submission(data, parsed, part="private"),
        "public_score": score_submission(data, parsed, part="public"),
        "method": method,
        "fraction": fraction,
        "seed": seed,
    }


def _sorted(board: pd.DataFrame, spec: CompetitionSpec) -> pd.DataFrame:
    board = board.sort_values(["score", "entry"], ascending=[not spec.higher_is_better, True], kind="stable")
    return board[LADDER_COLUMNS].reset_index(drop=True)


def reference_rungs(data: CompetitionData) -> list[Rung] | None:
    """The rungs of the competition's own `reference.py` (`rungs(data) -> list[Rung]`), if it has one."""
    path = data.spec.folder / "reference.py"
    if not path.is_file():
        return None
    name = f"nbdojo_reference_{data.spec.id.replace('-', '_')}"
    import_spec = importlib.util.spec_from_file_location(name, path)
    if import_spec is None or import_spec.loader is None:
        raise NbdojoError(f"Cannot import {path}.")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[name] = module
    import_spec.loader.exec_module(module)
    if not callable(getattr(module, "rungs", None)):
        raise NbdojoError(f"{path} must define rungs(data) -> list[Rung].")
    return list(module.rungs(data))


def rung_cache_key(rung: Rung) -> str:
    """What names a rung's recipe in the entry cache: a changed recipe is refitted."""
    return rung_key(rung.name, rung.method, rung.features, rung.fraction, rung.seed, rung.blend, rung.drop,
                    rung.target, getattr(rung.make, "__qualname__", None), rung.submit is not None)


def submission_frame(spec: CompetitionSpec, ids: Sequence[str], predictions: np.ndarray) -> pd.DataFrame:
    """Predictions (one column, or one per target column) as a submission frame."""
    values = np.asarray(predictions)
    targets = list(spec.target_columns)
    columns = {t: values[:, j] for j, t in enumerate(targets)} if values.ndim == 2 else {targets[0]: values}
    return pd.DataFrame({spec.id_column: list(ids), **columns})


class _FeatureCache:
    """Features built on first use, once per set of dropped columns (custom rungs may need none)."""

    def __init__(self, data: CompetitionData) -> None:
        self.data = data
        self._built: dict[tuple[str, ...], Features] = {}

    def __call__(self, drop: tuple[str, ...] = ()) -> Features:
        key = tuple(sorted(drop))
        if key not in self._built:
            self._built[key] = Features.from_data(self.data, drop=key)
        return self._built[key]


def build_ladder(
    data: CompetitionData,
    *,
    rungs: Iterable[Rung] | None = None,
    extra_entries: Iterable[tuple[str, pd.DataFrame]] = (),
    progress: Callable[[int, int, dict[str, object], float], None] | None = None,
    threads: int | None = None,
    cache: EntryCache | None = None,
) -> pd.DataFrame:
    """Fit and score every rung (plus any extra named submissions); the leaderboard, best first.

    Without `rungs`, the competition's `reference.py` gives them, else `default_rungs`.
    `threads` caps the threads each model uses (OpenMP / BLAS / joblib); on a busy machine
    one thread is often faster than oversubscribed cores. The scores do not depend on it.
    With a `cache`, finished rungs are read back instead of refitted and each new one is stored as
    soon as it is scored, so an interrupted build resumes (see `nbdojo.competitions.ladder_cache`).
    """
    spec = data.spec
    features = _FeatureCache(data)
    if rungs is None:
        rungs = reference_rungs(data)
    rungs = list(rungs) if rungs is not None else default_rungs(features())
    extra_entries = list(extra_entries)
    names = [r.name for r in rungs] + [name for name, _ in extra_entries]
    if len(set(names)) < len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise NbdojoError(f"ladder for {spec.id!r} names an entry twice: {', '.join(twice)}")
    extras = list(extra_entries)
    total = len(rungs) + len(extras)
    rows: list[dict[str, object]] = []
    done: dict[str, np.ndarray] = {}  # the predictions a later blend reads; the others are dropped once scored
    blended = {name for rung in rungs for name in rung.blend}  # (146 x 2.9M floats would be 3.4 GB)
    test_ids = pd.read_csv(data.test_path, usecols=[spec.id_column], dtype=str)[spec.id_column]
    limit = threadpool_limits(limits=threads) if threads else contextlib.nullcontext()
    with limit:
        for index, rung in enumerate(rungs, start=1):
            started = time.perf_counter()
            key = rung_cache_key(rung)
            cached = cache.get(rung.name, key) if cache is not None else None
            if cached is not None and rung.name in blended:  # a blend reads it: without its predictions, refit
                prediction = cache.prediction(rung.name)
                if prediction is None:
                    cached = None
                else:
                    done[rung.name] = prediction
            if cached is not None:
                rows.append(cached)
                if progress:
                    progress(index, total, cached, time.perf_counter() - started)
                continue
            if rung.submit is not None:
                submission = rung.submit(data)
                aligned = submission.astype({spec.id_column: str}).set_index(spec.id_column).reindex(test_ids)
                values = aligned[list(spec.target_columns)].to_numpy()
                prediction = values[:, 0] if values.shape[1] == 1 else values
            else:
                if rung.blend:
                    prediction = _blend([done[name] for name in rung.blend], spec)
                else:
                    prediction = _fit_predict(rung, features(rung.drop), spec, done, threads)
                submission = submission_frame(spec, test_ids, prediction)
            if rung.name in blended:
                done[rung.name] = prediction
            row = score_entry(data, rung.name, submission, method=rung.method, fraction=rung.fraction, seed=rung.seed)
            if cache is not None:
                cache.put(rung.name, key, row, prediction)
            rows.append(row)
            if progress:
                progress(index, total, row, time.perf_counter() - started)
    for index, (name, submission) in enumerate(extras, start=len(rungs) + 1):
        started = time.perf_counter()
        rows.append(score_entry(data, name, submission))
        if progress:
            progress(index, total, rows[-1], time.perf_counter() - started)
    board = _sorted(pd.DataFrame(rows), spec)
    distinct = board["score"].round(6).nunique()
    if distinct < 20:
        logger.warning("ladder for %s has only %d distinct scores", spec.id, distinct)
    return board


def write_leaderboard(board: pd.DataFrame, spec: CompetitionSpec) -> Path:
    """Write `competitions/<id>/leaderboard.csv` with fixed formatting (stable diffs)."""
    path = spec.leaderboard_path
    board.to_csv(path, index=False, lineterminator="\n", float_format="%.6f")
    return path


def add_entry(data: CompetitionData, name: str, submission: pd.DataFrame, *, method: str = "external") -> pd.DataFrame:
    """Score one more named submission (e.g. the baseline agent's) into the existing leaderboard file."""
    spec = data.spec
    path = spec.leaderboard_path
    board = pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=LADDER_COLUMNS)
    board = board[board["entry"] != name]
    row = pd.DataFrame([score_entry(data, name, submission, method=method)])
    board = _sorted(pd.concat([board, row], ignore_index=True) if len(board) else row, spec)
    write_leaderboard(board, spec)
    return board
