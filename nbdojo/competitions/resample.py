"""Turning a real data set that ships in a package into competition rows a lookup cannot answer.

A real data set in a wheel is public, so a test row matched back to its source row would hand over
the answer. Re-keying ids, shifting dates and jittering features make the match harder, but a
careful lookup (nearest neighbour on many columns) still finds most rows, and noise added to the
target keeps the source's answer the best guess. So the real-data competitions also *redraw the
target*: a model fitted out of fold on the source learns the real relation between the published
features and the target, and each row's new target is that prediction plus the real residual of
another row with a similar prediction (regression), or a draw from the predicted probability
(classification). The signal is the real one; the source row's own answer then carries only noise
on top of it, so looking it up scores worse than a model trained on train.csv.

Host-side only (prepare.py), never imported in the agent's kernel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

__all__ = ["design_matrix", "draw_labels", "jitter", "one_thread", "out_of_fold", "out_of_fold_text", "rekey",
           "swap_residuals"]


def design_matrix(frame: pd.DataFrame, categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Numbers for a tree model: numeric columns as they are, the `categorical` ones as integer codes."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        if column in categorical or not pd.api.types.is_numeric_dtype(frame[column]):
            out[column] = pd.Categorical(frame[column].astype(str)).codes.astype(float)
        else:
            out[column] = frame[column].astype(float)
    return out


def _booster(kind: str, categorical_mask: list[bool], max_iter: int, seed: int) -> object:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )

    common = {"max_iter": max_iter, "learning_rate": 0.08, "min_samples_leaf": 40, "max_leaf_nodes": 15,
              "l2_regularization": 1.0, "categorical_features": categorical_mask if any(categorical_mask) else None,
              "random_state": seed}
    return HistGradientBoostingRegressor(**common) if kind == "regression" else HistGradientBoostingClassifier(**common)


def _fit_predict(X: pd.DataFrame, y: np.ndarray, fit: np.ndarray, rows: np.ndarray, kind: str, classes: np.ndarray,
                 seed: int, categorical: Sequence[str], max_iter: int) -> np.ndarray:
    """The booster fitted on the rows `fit`, predicting the rows `rows`: values, P(last class) or class columns."""
    model = _booster(kind, [c in categorical for c in X.columns], max_iter, seed).fit(X[fit], y[fit])
    if kind == "regression":
        return model.predict(X[rows])
    proba = model.predict_proba(X[rows])
    if kind == "binary":
        return proba[:, list(model.classes_).index(classes[-1])]
    out = np.zeros((int(rows.sum()), len(classes)))
    out[:, np.searchsorted(classes, model.classes_)] = proba
    return out


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Models fit on one thread inside: OpenMP's spinning threads crawl on a busy machine. scikit-learn's
    OpenMP runtime is loaded first, so that the limit reaches it."""
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def out_of_fold(X: pd.DataFrame, y: np.ndarray, kind: str, seed: int, *, folds: int = 5,
                groups: np.ndarray | None = None, categorical: Sequence[str] = (), max_iter: int = 200,
                fit_rows: np.ndarray | None = None) -> np.ndarray:
    """Each row's prediction from a gradient-boosting model that never saw the row (nor its group).

    kind "regression" gives values, "binary" P(y = 1), "multiclass" one probability column per
    sorted class. Out of fold, so the prediction holds no trace of the row's own answer. With
    `fit_rows` (a mask), one model fitted on those rows predicts every other row instead (the
    `fit_rows` themselves get out-of-fold predictions among themselves, or NaN when `folds` is 0).
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        fold = rng.permutation(len(X)) % max(folds, 1)
    else:
        codes, index = np.unique(groups, return_inverse=True)
        fold = (rng.permutation(len(codes)) % max(folds, 1))[index]
    classes = np.unique(y)
    out = np.full((len(X), len(classes)) if kind == "multiclass" else len(X), np.nan)
    with one_thread():
        if fit_rows is not None:
            fit_rows = np.asarray(fit_rows, bool)
            out[~fit_rows] = _fit_predict(X, y, fit_rows, ~fit_rows, kind, classes, seed + folds, categorical,
                                          max_iter)
            fold = np.where(fit_rows, fold, -1)
        for k in range(folds):
            held = fold == k
            out[held] = _fit_predict(X, y, (fold >= 0) & ~held, held, kind, classes, seed + k, categorical, max_iter)
    return out


def swap_residuals(prediction: np.ndarray, y: np.ndarray, rng: np.random.Generator, bins: int = 20) -> np.ndarray:
    """prediction + the residual of another row from the same prediction bin (keeps the noise's real shape)."""
    residual = np.asarray(y, float) - prediction
    edges = np.quantile(prediction, np.linspace(0, 1, bins + 1)[1:-1])
    which = np.searchsorted(edges, prediction)
    out = np.empty(len(prediction))
    for b in np.unique(which):
        rows = np.flatnonzero(which == b)
        out[rows] = prediction[rows] + residual[rng.permutation(rows)]
    return out


def draw_labels(probability: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """0/1 draws from P(y = 1), or class indices drawn from rows of class probabilities."""
    p = np.asarray(probability, float)
    if p.ndim == 1:
        return (rng.random(len(p)) < p).astype(int)
    cumulative = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    return np.minimum((rng.random((len(p), 1)) > cumulative).sum(axis=1), p.shape[1] - 1)


def jitter(values: pd.Series, rng: np.random.Generator, relative: float, decimals: int | None = None,
           low: float | None = None) -> pd.Series:
    """Multiplicative noise (sd `relative`), rounded and floored, missing values kept missing."""
    noisy = values.astype(float) * np.exp(rng.normal(0.0, relative, len(values)))
    if low is not None:
        noisy = noisy.clip(lower=low)
    return noisy.round(decimals) if decimals is not None else noisy


def rekey(values: pd.Series, prefix: str, rng: np.random.Generator, width: int = 5) -> dict[object, str]:
    """A secret new id (`prefix` + `width` digits) for each distinct value; map a column with `.map(...)`."""
    distinct = pd.unique(values.dropna())
    codes = rng.choice(10 ** width - 10 ** (width - 1), size=len(distinct), replace=False) + 10 ** (width - 1)
    return dict(zip(distinct, (f"{prefix}{c}" for c in codes), strict=True))


def out_of_fold_text(texts: Sequence[str], extra: pd.DataFrame, y: np.ndarray, seed: int, *, folds: int = 5,
                     C: float = 2.0) -> np.ndarray:
    """P(y = 1) for each row from a tf-idf (words and characters) logistic model that never saw the row.

    `extra` holds further columns (numbers, or categories one-hot encoded) beside the text.
    """
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = list(texts)
    side = pd.get_dummies(extra.astype(object).where(extra.notna(), "__missing__").astype(str), dtype=float)
    side = csr_matrix(side.to_numpy())
    fold = np.random.default_rng(seed).permutation(len(texts)) % folds
    out = np.zeros(len(texts))
    with one_thread():
        for k in range(folds):
            held = fold == k
            words = TfidfVectorizer(min_df=2, ngram_range=(1, 2), sublinear_tf=True)
            chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=3, sublinear_tf=True)
            fit = [t for t, h in zip(texts, held, strict=True) if not h]
            rest = [t for t, h in zip(texts, held, strict=True) if h]
            X = hstack([words.fit_transform(fit), chars.fit_transform(fit), side[~held]]).tocsr()
            Xh = hstack([words.transform(rest), chars.transform(rest), side[held]]).tocsr()
            model = LogisticRegression(C=C, max_iter=2000).fit(X, y[~held])
            out[held] = model.predict_proba(Xh)[:, 1]
    return out
