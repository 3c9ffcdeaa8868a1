"""How much a score would move on another draw of the test rows: the bootstrap standard error.

`bootstrap_se(metric, y_true, y_pred)` resamples the rows with replacement `n_boot` times (a fixed seed, so a
grade is reproducible), scores each resample, and returns the standard deviation of those scores. The common
metrics are computed for a whole block of resamples at once (per-row losses, weighted AUC by one sort,
confusion matrices for label metrics), so 100,000 rows cost well under a second; any other metric is
scored resample by resample. A resample the metric cannot score (AUC on one class) is left out.

Imports only the metric table, so it stays near the leaves.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from nbdojo.grading.metrics import METRICS, Metric, average_precision_at_k, concordance_pairs, ranked_items

__all__ = ["DEFAULT_N_BOOT", "DEFAULT_SEED", "SUBSAMPLED", "bootstrap_scores", "bootstrap_se"]

DEFAULT_N_BOOT = 200
DEFAULT_SEED = 0
#: Resamples scored together; bounds the memory of a block to about BLOCK * rows * 8 bytes per array.
BLOCK = 25
#: Fewer scorable resamples than this and the error is reported as NaN.
MIN_RESAMPLES = 10
#: Metrics whose resamples stay costly at scale, and the rows their bootstrap is held to: above it, the error
#: is a seeded subsample's, scaled by sqrt(subsample / rows), as these scores' errors shrink with the square
#: root of the rows. Harrell's C on flc-survival's 457,000 private rows: 15 s in full, about 3 s this way;
#: Poisson deviance on doctor-visits' 2 million: 18 s in full (200 x 2M gathered rows), about 4 s.
SUBSAMPLED: dict[str, int] = {"concordance": 100_000, "poisson_deviance": 500_000}

_Blockwise = Callable[[np.ndarray], np.ndarray]  # (block, n) row indices -> (block,) scores


def _metric(metric: Metric | str) -> Metric:
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; known: {', '.join(sorted(METRICS))}")
    return METRICS[metric]


def _indices(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of resampled row indices, the same for a given (n, n_boot, seed) whatever the metric."""
    rng = np.random.default_rng(seed)
    for start in range(0, n_boot, BLOCK):
        yield rng.integers(0, n, size=(min(BLOCK, n_boot - start), n))


def _row_mean(losses: np.ndarray, finish: Callable[[np.ndarray], np.ndarray] = lambda m: m) -> _Blockwise:
    return lambda idx: finish(losses[idx].mean(axis=1))


def _auc_column(y: np.ndarray, p: np.ndarray) -> _Blockwise:
    """AUC of each resample from its counts per (distinct prediction, class), rows sorted once (ties count 1/2)."""
    values, group = np.unique(p, return_inverse=True)
    key = group.ravel() * 2 + (y.ravel() > 0)
    size = values.size * 2

    def fn(idx: np.ndarray) -> np.ndarray:
        offsets = (np.arange(idx.shape[0]) * size)[:, None]
        counts = np.bincount((key[idx] + offsets).ravel(), minlength=idx.shape[0] * size)
        counts = counts.reshape(idx.shape[0], values.size, 2)
        neg, pos = counts[:, :, 0], counts[:, :, 1]
        twice_wins = (pos * (2 * np.cumsum(neg, axis=1) - neg)).sum(axis=1)  # integers: exact and fast
        total = pos.sum(axis=1) * neg.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, twice_wins / (2.0 * total), np.nan)
    return fn


def _auc(y_true: np.ndarray, y_pred: np.ndarray) -> _Blockwise:
    y2, p2 = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1).astype(float)
    columns = [_auc_column(y2[:, j].astype(float), p2[:, j]) for j in range(y2.shape[1])]
    return lambda idx: np.mean([column(idx) for column in columns], axis=0)


def _confusions(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[Callable[[np.ndarray], np.ndarray], int]:
    """A function from a block of indices to its confusion matrices (block, K, K), and K."""
    classes, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    k, n = classes.size, len(y_true)
    cell = codes[:n] * k + codes[n:]

    def fn(idx: np.ndarray) -> np.ndarray:
        offsets = (np.arange(idx.shape[0]) * k * k)[:, None]
        flat = np.bincount((cell[idx] + offsets).ravel(), minlength=idx.shape[0] * k * k)
        return flat.reshape(idx.shape[0], k, k).astype(float)
    return fn, k


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> _Blockwise:
    confusions, _ = _confusions(y_true, y_pred)

    def fn(idx: np.ndarray) -> np.ndarray:
        m = confusions(idx)
        tp = np.diagonal(m, axis1=1, axis2=2)
        true, pred = m.sum(axis=2), m.sum(axis=1)
        present = (true + pred) > 0  # sklearn averages over the labels present in either array
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(present, 2 * tp / (true + pred), 0.0)
        return f1.sum(axis=1) / present.sum(axis=1)
    return fn


def _qwk(y_true: np.ndarray, y_pred: np.ndarray) -> _Blockwise:
    confusions, _ = _confusions(y_true, y_pred)

    def one(m: np.ndarray) -> float:
        present = (m.sum(axis=0) + m.sum(axis=1)) > 0
        m = m[np.ix_(present, present)]
        if m.shape[0] < 2:
            return 1.0 if np.trace(m) == m.sum() else 0.0
        i = np.arange(m.shape[0])
        w = (i[:, None] - i[None, :]) ** 2
        expected = np.outer(m.sum(axis=1), m.sum(axis=0)) / m.sum()
        return float(1.0 - (w * m).sum() / (w * expected).sum())

    return lambda idx: np.array([one(m) for m in confusions(idx)])


def _r2(y: np.ndarray, p: np.ndarray) -> _Blockwise:
    def fn(idx: np.ndarray) -> np.ndarray:
        yy = y[idx]
        total = ((yy - yy.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, 1.0 - ((yy - p[idx]) ** 2).sum(axis=1) / total, np.nan)
    return fn


def _concordance(y_true: np.ndarray, y_pred: np.ndarray) -> _Blockwise:
    """Harrell's C of every resample of a block at once: the metric's own pair counts, with a row of weights (the
    times each row was drawn) per resample."""
    n = len(y_true)

    def fn(idx: np.ndarray) -> np.ndarray:
        offsets = (np.arange(idx.shape[0]) * n)[:, None]
        weight = np.bincount((idx + offsets).ravel(), minlength=idx.shape[0] * n).reshape(idx.shape[0], n)
        concordant, pairs = concordance_pairs(y_true, y_pred, weight.astype(np.int32))
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(pairs > 0, concordant / pairs, np.nan)
    return fn


def _log_loss_rows(y: np.ndarray, p: np.ndarray, eps: float = 1e-15) -> np.ndarray:
    if p.ndim == 1:
        p = np.clip(p, eps, 1 - eps)
        return -(y * np.log(p) + (1 - y) * np.log(1 - p))
    p = p / p.sum(axis=1, keepdims=True)
    return -np.sum(y * np.log(np.clip(p, eps, 1 - eps)), axis=1)


def _blockwise(metric: Metric, y_true: np.ndarray, y_pred: np.ndarray) -> _Blockwise | None:
    """The vectorised scorer for a metric nbdojo knows, or None (then each resample is scored alone)."""
    name = metric.name
    if name in ("accuracy", "macro_f1", "qwk") and y_true.ndim == 1:
        if name == "accuracy":
            return _row_mean((y_true == y_pred).astype(float))
        return _macro_f1(y_true, y_pred) if name == "macro_f1" else _qwk(y_true, y_pred)
    if name == "roc_auc":
        return _auc(y_true, y_pred)
    if metric.k is not None and name == f"map@{metric.k}":
        return _row_mean(np.array([average_precision_at_k(ranked_items(t), ranked_items(p), metric.k)
                                   for t, p in zip(np.ravel(y_true), np.ravel(y_pred), strict=True)]))
    if name == "concordance":
        return _concordance(y_true, y_pred)
    if name not in ("log_loss", "rmse", "rmsle", "mae", "smape", "r2", "poisson_deviance"):
        return None
    y, p = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    if name == "poisson_deviance":
        mu = np.clip(p, 1e-6, None)
        y_log = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        return _row_mean(2.0 * (y_log - (y - mu)))
    if name == "log_loss":
        return _row_mean(_log_loss_rows(y, p))
    if name == "rmse":
        return _row_mean((y - p) ** 2, np.sqrt)
    if name == "rmsle":
        return _row_mean((np.log1p(p) - np.log1p(y)) ** 2, np.sqrt)
    if name == "mae":
        return _row_mean(np.abs(y - p))
    if name == "smape":
        denominator = (np.abs(y) + np.abs(p)) / 2.0
        ratio = np.divide(np.abs(p - y), denominator, out=np.zeros_like(y), where=denominator != 0)
        return _row_mean(100.0 * ratio)
    return _r2(y, p)


def _one_by_one(metric: Metric, y_true: np.ndarray, y_pred: np.ndarray) -> _Blockwise:
    def score(rows: np.ndarray) -> float:
        try:
            return metric(y_true[rows], y_pred[rows])
        except ValueError:  # undefined on this resample (e.g. one class only)
            return math.nan
    return lambda idx: np.array([score(rows) for rows in idx])


def bootstrap_scores(
    metric: Metric | str, y_true: Any, y_pred: Any, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
    vectorised: bool = True,
) -> np.ndarray:
    """The metric on `n_boot` resamples of the rows (NaN where a resample cannot be scored).

    `y_true` and `y_pred` are what the metric takes (one entry or one row per test row). `vectorised=False`
    scores each resample with the metric itself (the reference the fast paths are tested against).
    """
    m = _metric(metric)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows but y_pred has {len(y_pred)}")
    if n_boot < 2:
        raise ValueError(f"n_boot must be at least 2, not {n_boot}")
    if len(y_true) == 0:
        return np.full(n_boot, np.nan)
    fast = _blockwise(m, y_true, y_pred) if vectorised else None
    scorer = fast if fast is not None else _one_by_one(m, y_true, y_pred)
    return np.concatenate([scorer(idx) for idx in _indices(len(y_true), n_boot, seed)]).astype(float)


def bootstrap_se(
    metric: Metric | str, y_true: Any, y_pred: Any, *, n_boot: int = DEFAULT_N_BOOT, seed: int = DEFAULT_SEED,
    max_rows: int | None = None,
) -> float:
    """Bootstrap standard error of `metric(y_true, y_pred)`: the spread of the score over resampled rows.

    Rows are drawn with replacement `n_boot` times from a generator seeded with `seed`; the result is the
    sample standard deviation of the scores, or NaN when fewer than MIN_RESAMPLES resamples can be scored.
    Above `max_rows` rows (by default `SUBSAMPLED`'s cap for the metric, else none) the error is that of a
    seeded subsample of `max_rows` rows, scaled by sqrt(max_rows / rows).
    """
    m = _metric(metric)
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cap = SUBSAMPLED.get(m.name) if max_rows is None else max_rows
    if cap is not None and len(y_true) == len(y_pred) and len(y_true) > cap:
        keep = np.sort(np.random.default_rng(seed).choice(len(y_true), size=cap, replace=False))
        return bootstrap_se(m, y_true[keep], y_pred[keep], n_boot=n_boot, seed=seed, max_rows=cap) * math.sqrt(
            cap / len(y_true))
    scores = bootstrap_scores(m, y_true, y_pred, n_boot=n_boot, seed=seed)
    scores = scores[np.isfinite(scores)]
    return float(np.std(scores, ddof=1)) if scores.size >= MIN_RESAMPLES else math.nan
