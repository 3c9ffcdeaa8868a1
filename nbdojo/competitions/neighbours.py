"""Neighbourhood resampling: new rows of a real table that no row of the published table answers.

Each new row starts from a source row and moves a random part of the way towards one of its
nearest neighbours (features interpolated as SMOTE does; categories taken from one of the two).
Its answer is the real answer of a *donor*: a source row drawn at random among those whose
out-of-fold model score (a booster and a ridge fitted to `score_target` on the source's features, by
models that never saw the base row) is closest to the new row's score. So the new answer depends on
the new row's features through that score, as a real answer would, with real noise around it, and
owes nothing to the answers of the source rows nearest to it: looking them up gains nothing over a
model, which learns the score from train.csv.

Host-side only (prepare.py); never imported in the agent's kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from nbdojo.competitions.resample import one_thread

__all__ = ["feature_space", "resample"]


def feature_space(frame: pd.DataFrame, categorical: Sequence[str] = ()) -> np.ndarray:
    """Rows as points: numeric columns standardised (missing at the mean), categories one-hot scaled by 1/sqrt(2)."""
    parts = []
    for column in frame.columns:
        if column in categorical or not pd.api.types.is_numeric_dtype(frame[column]):
            dummies = pd.get_dummies(frame[column].astype(str)).to_numpy(float)
            parts.append(dummies / np.sqrt(2.0))
            continue
        values = frame[column].to_numpy(float)
        spread = np.nanstd(values) or 1.0
        parts.append(np.nan_to_num((values - np.nanmean(values)) / spread)[:, None])
    return np.hstack(parts)


def _scores(points: np.ndarray, y: np.ndarray, new_points: np.ndarray, rng: np.random.Generator,
            folds: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold scores for the source rows, and for each new row from its own features by the models that
    never saw its base row (new row j has base row j % len(points)): the mean of a booster's and a ridge's
    predictions of `y` (numbers, as (rows, 1)), or a ridge's predictions of its one-hot classes (labels,
    (rows, classes))."""
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge

    labels = not np.issubdtype(np.asarray(y).dtype, np.number)
    classes, codes = np.unique(y, return_inverse=True) if labels else (None, None)
    width = len(classes) if labels else 1
    fold = rng.permutation(len(y)) % folds
    new_fold = np.tile(fold, len(new_points) // len(y))
    source, new = np.zeros((len(y), width)), np.zeros((len(new_points), width))
    for k in range(folds):
        held, seed = fold == k, int(rng.integers(2**31))
        common = {"learning_rate": 0.05, "min_samples_leaf": 60, "random_state": seed}
        if labels:  # many classes: a booster per class would take minutes, so the ridge alone
            linear = Ridge(alpha=10.0).fit(points[~held], np.eye(width)[codes[~held]])

            def predict(rows: np.ndarray) -> np.ndarray:
                return linear.predict(rows)
        else:
            boosted = HistGradientBoostingRegressor(max_iter=80, **common).fit(points[~held], y[~held])
            linear = Ridge(alpha=10.0).fit(points[~held], y[~held])

            def predict(rows: np.ndarray) -> np.ndarray:
                return ((boosted.predict(rows) + linear.predict(rows)) / 2)[:, None]
        source[held], new[new_fold == k] = predict(points[held]), predict(new_points[new_fold == k])
    return source, new


def _moved(frame: pd.DataFrame, neighbours: np.ndarray, features: list[str], categorical: Sequence[str],
           integer: Sequence[str], rng: np.random.Generator) -> pd.DataFrame:
    """Each row moved a random share of the way towards one of its `neighbours` (one round)."""
    n, k = neighbours.shape
    partner = neighbours[np.arange(n), rng.integers(0, k, n)]
    share = rng.random(n)  # how far each new row moves towards its partner
    out = frame.reset_index(drop=True).copy()
    other = frame.iloc[partner].reset_index(drop=True)
    for column in features:
        if column in categorical or not pd.api.types.is_numeric_dtype(frame[column]):
            take = rng.random(n) < share
            out.loc[take, column] = other.loc[take, column]
            continue
        a, b = out[column].to_numpy(float), other[column].to_numpy(float)
        mixed = np.where(np.isnan(a), b, np.where(np.isnan(b), a, a + share * (b - a)))
        if column in integer:
            mixed = np.floor(mixed + rng.random(n))  # stochastic rounding keeps the mean
        out[column] = mixed
    return out


def _one_group(frame: pd.DataFrame, features: list[str], targets: list[str], categorical: Sequence[str],
               integer: Sequence[str], rng: np.random.Generator, k: int, donors: int,
               score_target: np.ndarray, rounds: int) -> pd.DataFrame:
    n = len(frame)
    k, donors = max(1, min(k, n - 1)), max(1, min(donors, n))
    points = feature_space(frame[features], categorical)
    tree = cKDTree(points)
    neighbours = tree.query(points, k=k + 1)[1][:, 1:]  # without the row itself
    out = pd.concat([_moved(frame, neighbours, features, categorical, integer, rng) for _ in range(rounds)],
                    ignore_index=True)
    both = feature_space(pd.concat([frame[features], out[features]], ignore_index=True), categorical)
    with one_thread():
        source_score, new_score = _scores(both[:n], score_target, both[n:], rng)
    pool = cKDTree(source_score).query(new_score, k=donors)[1].reshape(len(out), -1)
    donor = pool[np.arange(len(out)), rng.integers(0, pool.shape[1], len(out))]
    for column in targets:
        out[column] = frame[column].to_numpy()[donor]
    return out


def resample(frame: pd.DataFrame, features: Sequence[str], targets: Sequence[str], seed: int, *,
             categorical: Sequence[str] = (), integer: Sequence[str] = (), group: str | None = None,
             score_target: str | None = None, k: int = 10, donors: int = 50, rounds: int = 1) -> pd.DataFrame:
    """`rounds` new rows per source row (see the module's docstring), within each `group` (e.g. a year) if given.

    Columns outside `features` and `targets` (and the group) keep the base row's value; `integer`
    columns are rounded stochastically after interpolation; `targets` move together, from one donor
    drawn among the `donors` rows with the closest out-of-fold score of `score_target` (a column of
    numbers, or of labels: then the score is the vector of class probabilities; the first target when None).
    Each round redraws every row afresh (its own partner, share and donor; the same fitted score
    models): more rows of the same population, which is how a real competition's small test set grows
    until its score's noise is small. Rows come group by group, within a group round by round, and
    within a round in the group's row order (without groups, new row j comes from source row j % len(frame)).
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    rng = np.random.default_rng(seed)
    features, targets = list(features), list(targets)
    scored = score_target or targets[0]

    def one(part: pd.DataFrame) -> pd.DataFrame:
        return _one_group(part, features, targets, categorical, integer, rng, k, donors, part[scored].to_numpy(),
                          rounds)

    if group is None:
        return one(frame)
    parts = [one(part) for _, part in frame.groupby(group, sort=True)]
    return pd.concat(parts, ignore_index=True)
