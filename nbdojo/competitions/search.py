"""The dense reference ladder: a seeded search over model families, feature sets, settings and data shares.

A human leaderboard holds a few hundred attempts of varied skill: many decent models, fewer strong
ones, some weak. `dense_rungs` imitates that with about 150 recipes for any tabular competition:

    family              feature sets                     settings                     data shares
    single column       the 6 strongest numeric columns  -                            all
    naive Bayes         numeric                          -                            5%, 25%, all
    linear (L2)         numeric, one-hot, one-hot+dates  C (or 1/alpha) 0.01-100   3%, 15%, all
    nearest neighbours  numeric, one-hot (scaled)        k = 5, 25, 100               capped rows
    decision tree       ordinal+dates                    depth 2-12                   25%, all
    forest / extra      ordinal+dates                    depth 6, 12, unbounded       10%, 50%
    neural network      one-hot (scaled)                 16 or 64 hidden units        20%, all
    gradient boosting   native / numeric / no dates      learning rate, leaves, rounds 2%-70%, seeds
    tuned boosting      native+dates                     lr 0.05 or 0.03, seeds 0-5   all
    ensembles           means of the above               -                            -

Every recipe trains on at most `MAX_ROWS` rows (a seeded sample of big training sets) so a ladder
builds in minutes on a laptop; the share it used is recorded in the ladder's `fraction` column.
The first rung is the dummy (the class prior or the mean): the ladder keeps nothing that scores
worse than it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.impute import SimpleImputer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, PoissonRegressor, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from nbdojo.competitions import CompetitionData
from nbdojo.competitions.ladder import (
    Features,
    Rung,
    _classifier,
    _constant,
    _forest,
    _hgb,
    _naive_bayes,
    _single_feature,
    _strongest_numeric,
    _tree,
    _tuned_hgb,
    reference_rungs,
)
from nbdojo.competitions.spec import CompetitionSpec

__all__ = ["MAX_ROWS", "RoundedRegressor", "dense_rungs", "ladder_rungs"]

#: The most training rows any recipe fits on (bigger training sets are sampled, seeded).
MAX_ROWS = 40_000
_Make = Callable[[CompetitionSpec, int], BaseEstimator]


def _linear_c(c: float) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        model = (LogisticRegression(max_iter=300, C=c, random_state=seed) if _classifier(spec)
                 else Ridge(alpha=1.0 / c))
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)
    return make


def _knn(k: int) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        model = KNeighborsClassifier(k) if _classifier(spec) else KNeighborsRegressor(k)
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)
    return make


def _extra(depth: int | None) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        cls = ExtraTreesClassifier if _classifier(spec) else ExtraTreesRegressor
        return cls(n_estimators=40, max_depth=depth, min_samples_leaf=5, max_features="sqrt", n_jobs=1,
                   random_state=seed)
    return make


def _mlp(hidden: int) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        cls = MLPClassifier if _classifier(spec) else MLPRegressor
        model = cls(hidden_layer_sizes=(hidden,), alpha=1e-3, max_iter=60, early_stopping=True, random_state=seed)
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(), model)
    return make


def _boosting(lr: float, leaves: int, rounds: int) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        return _hgb(spec, seed, learning_rate=lr, max_leaf_nodes=leaves, max_iter=rounds, early_stopping=False)
    return make


def _poisson_hgb(lr: float, leaves: int = 15, min_leaf: int = 40) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        return HistGradientBoostingRegressor(loss="poisson", learning_rate=lr, max_iter=200, max_leaf_nodes=leaves,
                                             min_samples_leaf=min_leaf, categorical_features="from_dtype",
                                             early_stopping=True, random_state=seed)
    return make


def _poisson_glm(alpha: float) -> _Make:
    def make(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        return make_pipeline(SimpleImputer(strategy="median"), StandardScaler(),
                             PoissonRegressor(alpha=alpha, max_iter=300))
    return make


def _slow_hgb(spec: CompetitionSpec, seed: int) -> BaseEstimator:
    return _hgb(spec, seed, learning_rate=0.03, max_iter=1500, max_leaf_nodes=31, l2_regularization=1.0,
                min_samples_leaf=30, max_features=0.7, early_stopping=True, validation_fraction=0.1,
                n_iter_no_change=40)


class RoundedRegressor(BaseEstimator):
    """A regressor whose predictions are rounded to the nearest training class (ordinal labels, QWK)."""

    def __init__(self, regressor: BaseEstimator | None = None) -> None:
        self.regressor = regressor

    def fit(self, X: object, y: np.ndarray) -> RoundedRegressor:
        self.classes_ = np.unique(np.asarray(y, dtype=float))
        self.regressor_ = clone(self.regressor).fit(X, np.asarray(y, dtype=float))
        return self

    def predict(self, X: object) -> np.ndarray:
        raw = np.asarray(self.regressor_.predict(X), dtype=float)
        nearest = np.abs(raw[:, None] - self.classes_[None, :]).argmin(axis=1)
        values = self.classes_[nearest]
        return values.astype(int) if np.all(values == values.round()) else values


_AS_REGRESSION: Any = SimpleNamespace(task="regression", prediction="value")


def _rounded(make: _Make) -> _Make:
    def wrapped(spec: CompetitionSpec, seed: int) -> BaseEstimator:
        return RoundedRegressor(make(_AS_REGRESSION, seed))  # the factories only ask whether the task classifies
    return wrapped


def ladder_rungs(data: CompetitionData) -> list[Rung]:
    """The rungs a competition's ladder is built from: its `reference.py`'s, else the dense search."""
    rungs = reference_rungs(data)
    if rungs is not None:
        return rungs
    features = Features.from_data(data)
    y = np.asarray(features.y)
    ordinal = data.spec.metric == "qwk" and y.ndim == 1 and np.issubdtype(y.dtype, np.number)
    return dense_rungs(features, ordinal=ordinal, counts=data.spec.metric == "poisson_deviance")


def dense_rungs(features: Features, *, max_rows: int = MAX_ROWS, ordinal: bool = False,
                counts: bool = False) -> list[Rung]:
    """About 150 seeded recipes, the dummy first; `fraction` never asks for more than `max_rows` rows.

    `ordinal` (numeric labels scored by QWK) adds regressors whose predictions are rounded to a class;
    `counts` (a count target scored by Poisson deviance) adds models fitted with a Poisson loss.
    """
    n = len(features.y)
    cap = min(1.0, max_rows / max(n, 1))

    def share(fraction: float) -> float:
        return round(min(fraction, cap), 6)

    rungs = [Rung("constant", "dummy: constant prediction (class prior / mean)", "numeric", _constant)]

    seen: dict[tuple[object, ...], str] = {}
    alias: dict[str, str] = {}

    def add(name: str, method: str, feature_set: str, make: _Make | None, fraction: float = 1.0, seed: int = 0,
            **extra: object) -> None:
        used = share(fraction)
        note = "" if used >= 1.0 else f", {used:.1%} of train"
        recipe = (method + note, feature_set, used, seed)
        if recipe in seen:  # a big train set caps two shares to the same rows: one entry, not two
            alias[name] = seen[recipe]
            return
        seen[recipe] = name
        rungs.append(Rung(name, method + note, feature_set, make, fraction=used, seed=seed, **extra))

    for column in _strongest_numeric(features, k=6):
        add(f"single_{column}", f"linear model on {column} alone", f"column:{column}", _single_feature)
    for fraction in (0.05, 0.25, 1.0):
        add(f"naive_bayes_{_pct(fraction)}", "Gaussian naive Bayes on numeric columns", "numeric", _naive_bayes,
            fraction)
    for feature_set in ("numeric", "onehot", "onehot_dates"):
        for c in (0.01, 0.1, 1.0, 10.0, 100.0):
            for fraction in (0.03, 0.15, 1.0):
                add(f"linear_{feature_set}_c{c:g}_{_pct(fraction)}", f"logistic / ridge (C = {c:g}) on {feature_set}",
                    feature_set, _linear_c(c), fraction, seed=1)
    for feature_set in ("numeric", "onehot"):
        for k in (5, 25, 100):
            add(f"knn_{feature_set}_k{k}", f"{k}-nearest neighbours on scaled {feature_set}", feature_set, _knn(k),
                min(1.0, 10_000 / max(n, 1)), seed=2)
    for depth in (2, 3, 4, 5, 6, 8, 10, 12):
        add(f"tree_depth_{depth}", f"decision tree of depth {depth}", "ordinal_dates", _tree(depth))
    for depth in (4, 8):
        add(f"tree_depth_{depth}_25pct", f"decision tree of depth {depth}", "ordinal_dates", _tree(depth), 0.25,
            seed=3)
    for depth in (6, 12, None):
        for fraction in (0.1, 0.5):
            label = "unbounded" if depth is None else str(depth)
            add(f"forest_depth_{label}_{_pct(fraction)}", f"random forest (60 trees), depth {label}",
                "ordinal_dates", _forest(depth, 5), fraction, seed=4)
    for depth in (8, None):
        label = "unbounded" if depth is None else str(depth)
        add(f"extra_trees_depth_{label}", f"extremely randomised trees (40), depth {label}", "ordinal_dates",
            _extra(depth), 0.5, seed=5)
    for fraction in (0.02, 0.05, 0.1, 0.2, 0.4, 0.7):
        for lr in (0.05, 0.2):
            for seed in (0, 1, 2):
                add(f"hgb_lr{lr:g}_{_pct(fraction)}_seed{seed}", f"gradient boosting (lr {lr:g}, 15 leaves, 100 rounds)",
                    "native_dates", _boosting(lr, 15, 100), fraction, seed=seed)
    for hidden in (16, 64):
        for fraction in (0.2, 1.0):
            add(f"mlp_{hidden}_{_pct(fraction)}", f"neural network (one layer of {hidden} units) on scaled one-hot",
                "onehot", _mlp(hidden), fraction, seed=8)
    for feature_set in ("numeric", "native"):
        for fraction in (0.3, 1.0):
            add(f"hgb_{feature_set}_{_pct(fraction)}", f"gradient boosting on {feature_set} features",
                feature_set, _hgb, fraction, seed=6)
    for rounds in (30, 100, 300):
        for leaves in (7, 31, 63):
            add(f"hgb_{rounds}rounds_{leaves}leaves", f"gradient boosting (lr 0.1, {leaves} leaves, {rounds} rounds)",
                "native_dates", _boosting(0.1, leaves, rounds), 1.0, seed=7)
    for seed in (0, 1, 2, 3, 4, 5):
        add(f"hgb_tuned_seed{seed}", "tuned gradient boosting (lr 0.05, early stopping)", "native_dates",
            _tuned_hgb, 1.0, seed=seed)
    for seed in (0, 1):
        add(f"hgb_slow_seed{seed}", "slow gradient boosting (lr 0.03, 31 leaves, L2 1, early stopping)",
            "native_dates", _slow_hgb, 1.0, seed=seed)
    if counts:
        for fraction in (0.1, 0.3, 1.0):
            for lr in (0.05, 0.1):
                for seed in (0, 1):
                    add(f"poisson_hgb_lr{lr:g}_{_pct(fraction)}_seed{seed}", f"Poisson gradient boosting (lr {lr:g})",
                        "native_dates", _poisson_hgb(lr), fraction, seed=seed)
            for alpha in (0.01, 0.1, 1.0):
                add(f"poisson_glm_a{alpha:g}_{_pct(fraction)}", f"Poisson regression (alpha {alpha:g}) on one-hot",
                    "onehot_dates", _poisson_glm(alpha), fraction, seed=10)
        for leaves, min_leaf in ((7, 100), (31, 200)):  # a count target's search: tree size x rate x rows x seeds
            for lr in (0.03, 0.1):
                for fraction in (0.2, 0.5, 1.0):
                    for seed in (2, 3):
                        add(f"poisson_hgb_{leaves}leaves_lr{lr:g}_{_pct(fraction)}_seed{seed}",
                            f"Poisson gradient boosting ({leaves} leaves of {min_leaf}+ rows, lr {lr:g})",
                            "native_dates", _poisson_hgb(lr, leaves, min_leaf), fraction, seed=seed)
        for alpha in (0.001, 0.03, 0.3, 3.0, 10.0):
            for fraction in (0.2, 1.0):
                add(f"poisson_glm_numeric_a{alpha:g}_{_pct(fraction)}", f"Poisson regression (alpha {alpha:g}) on "
                    "numeric columns", "numeric", _poisson_glm(alpha), fraction, seed=11)
    if ordinal:
        for fraction in (0.1, 0.4, 1.0):
            for feature_set in ("onehot", "onehot_dates"):
                add(f"rounded_ridge_{feature_set}_{_pct(fraction)}", f"ridge regression on {feature_set}, rounded to a "
                    "grade", feature_set, _rounded(_linear_c(1.0)), fraction, seed=9)
            for seed in (0, 1):
                add(f"rounded_hgb_tuned_{_pct(fraction)}_seed{seed}", "tuned gradient boosting regression, rounded to "
                    "a grade", "native_dates", _rounded(_tuned_hgb), fraction, seed=seed)
        for seed in (0, 1):
            add(f"rounded_hgb_slow_seed{seed}", "slow gradient boosting regression, rounded to a grade",
                "native_dates", _rounded(_slow_hgb), 1.0, seed=seed)
    blends = [
        Rung("ensemble_tuned_seeds", "ensemble: mean of three tuned boosters", "native_dates",
             blend=("hgb_tuned_seed0", "hgb_tuned_seed1", "hgb_tuned_seed2")),
        Rung("ensemble_six_tuned", "ensemble: mean of six tuned boosters", "native_dates",
             blend=tuple(f"hgb_tuned_seed{seed}" for seed in range(6))),
        Rung("ensemble_slow_tuned", "ensemble: mean of slow and tuned boosters", "native_dates",
             blend=("hgb_slow_seed0", "hgb_slow_seed1", "hgb_tuned_seed3", "hgb_tuned_seed4")),
        Rung("ensemble_slow_forest_linear", "ensemble: mean of two slow boosters, a forest and a linear model",
             "native_dates", blend=("hgb_slow_seed0", "hgb_slow_seed1", "forest_depth_unbounded_50pct",
                                    "linear_onehot_dates_c1_100pct")),
        Rung("ensemble_boosting_forest", "ensemble: mean of a tuned booster and a forest", "native_dates",
             blend=("hgb_tuned_seed0", "forest_depth_unbounded_50pct")),
        Rung("ensemble_boosting_linear", "ensemble: mean of a tuned booster and a linear model", "native_dates",
             blend=("hgb_tuned_seed1", "linear_onehot_dates_c1_100pct")),
        Rung("ensemble_small_boosters", "ensemble: mean of boosters on 20% of train", "native_dates",
             blend=("hgb_lr0.05_20pct_seed0", "hgb_lr0.05_20pct_seed1", "hgb_lr0.2_20pct_seed0")),
    ]
    for rung in blends:
        parts = tuple(dict.fromkeys(alias.get(part, part) for part in rung.blend))
        if len(parts) > 1:
            rungs.append(dataclasses.replace(rung, blend=parts))
    return rungs


def _pct(fraction: float) -> str:
    return f"{round(fraction * 100)}pct"
