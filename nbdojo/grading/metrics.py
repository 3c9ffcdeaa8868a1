"""Metrics: the scoring rules submissions are graded with, each declaring its direction and what it needs.

Every metric is registered in `METRICS` by name (`map@K` for any K is made on demand);
a competition's spec names one and declares its direction, which is checked against it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.metrics import cohen_kappa_score, f1_score, roc_auc_score

__all__ = ["METRICS", "Metric", "average_precision_at_k", "ranked_items", "survival_answer"]



_TASKS_PROBABILITY = ("binary", "multiclass", "multilabel")


@dataclass(frozen=True)
class Metric:
    """A scoring rule; `needs` is what a submission must hold for it, `tasks` the tasks it can score."""

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    higher_is_better: bool
    needs: str  # "probability" | "label" | "value" | "ranking"
    formula: str = ""
    tasks: tuple[str, ...] = ()
    #: The smallest prediction the formula accepts (RMSLE takes log(1 + p)); None: no bound.
    min_value: float | None = None
    #: For ranking metrics: how many items of each ranked list count.
    k: int | None = None

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        return float(self.fn(np.asarray(y_true), np.asarray(y_pred)))


def _roc_auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    if y_true.ndim == 2:  # one probability column per class or label: macro one-vs-rest, mean column-wise AUC
        return float(np.mean([roc_auc_score(y_true[:, j], y_pred[:, j]) for j in range(y_true.shape[1])]))
    return float(roc_auc_score(y_true, y_pred))


def _log_loss(y_true: np.ndarray, y_pred: np.ndarray, eps: float = 1e-15) -> float:
    p = np.asarray(y_pred, dtype=float)
    y = np.asarray(y_true, dtype=float)
    if p.ndim == 1:  # binary: y in {0, 1}, p = P(y = 1)
        p = np.clip(p, eps, 1 - eps)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    p = p / p.sum(axis=1, keepdims=True)  # rows rescaled to sum to 1, as Kaggle does
    return float(-np.mean(np.sum(y * np.log(np.clip(p, eps, 1 - eps)), axis=1)))


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred))


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(f1_score(y_true, y_pred, average="macro"))


def _qwk(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Cohen's kappa with quadratic weights over the classes present in either array."""
    true, pred = np.asarray(y_true), np.asarray(y_pred)
    classes = np.unique(np.concatenate([true, pred]))
    if classes.size < 2:
        return 1.0 if np.array_equal(true, pred) else 0.0
    return float(cohen_kappa_score(true, pred, weights="quadratic", labels=classes))


def _floats(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)


def _rmse(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y, p = _floats(y_true, y_pred)
    return float(np.sqrt(np.mean((y - p) ** 2)))


def _rmsle(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y, p = _floats(y_true, y_pred)
    if (y <= -1).any() or (p <= -1).any():
        raise ValueError("RMSLE needs values above -1")
    return float(np.sqrt(np.mean((np.log1p(p) - np.log1p(y)) ** 2)))


def _mae(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y, p = _floats(y_true, y_pred)
    return float(np.mean(np.abs(y - p)))


def _smape(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Kaggle's SMAPE in percent (0 to 200); a row where both values are 0 counts as 0."""
    y, p = _floats(y_true, y_pred)
    denominator = (np.abs(y) + np.abs(p)) / 2.0
    ratio = np.divide(np.abs(p - y), denominator, out=np.zeros_like(y), where=denominator != 0)
    return float(100.0 * np.mean(ratio))


def _r2(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y, p = _floats(y_true, y_pred)
    total = np.sum((y - y.mean()) ** 2)
    if total == 0:
        raise ValueError("R² is undefined when every answer is the same")
    return float(1.0 - np.sum((y - p) ** 2) / total)


def _poisson_deviance(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean Poisson deviance; predictions are clipped to 1e-6 so a zero forecast costs a lot but stays finite."""
    y, p = _floats(y_true, y_pred)
    if (y < 0).any() or (p < 0).any():
        raise ValueError("Poisson deviance needs counts and predictions of at least 0")
    mu = np.clip(p, 1e-6, None)
    y_log = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return float(np.mean(2.0 * (y_log - (y - mu))))


def survival_answer(time: Any, event: Any) -> np.ndarray:
    """(time, event) as the one answer column of a survival competition: +time for an event, -time if censored."""
    t, e = np.asarray(time, dtype=float), np.asarray(event).astype(bool)
    if (t <= 0).any():
        raise ValueError("survival times must be positive")
    return np.where(e, t, -t)


def _blocks(new_block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows in sorted order, where each row's block starts and where it ends (one past its last row)."""
    starts = np.flatnonzero(new_block)
    block = np.cumsum(new_block) - 1
    return starts[block], np.append(starts[1:], len(new_block))[block]


def _running(values: np.ndarray) -> np.ndarray:
    """Along the last axis, sums of the first 0, 1, ..., n entries."""
    exact = values.dtype.kind in "biu"
    out = np.zeros((*values.shape[:-1], values.shape[-1] + 1), dtype=np.int64 if exact else float)
    np.cumsum(values, axis=-1, out=out[..., 1:])
    return out


def concordance_pairs(y_true: Any, y_pred: Any, weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Harrell's C's (concordant, comparable) pair counts, a pair weighing its two rows' weights multiplied.

    `weights` is (rows,) or (resamples, rows) (a row of weights per bootstrap resample); the counts are one per
    resample. With the time key 2 * rank(time) + censored, the pairs are (event i, any j with a larger key),
    and concordant = (pairs + S) / 2 where S sums sign(risk_i - risk_j) over them. S splits by the highest
    bit in which the two keys differ (j has it, i not, the bits above shared): with the rows sorted by
    (shared bits, risk), a running sum of the j side's weights gives every i the weight below and above its
    risk. From the top bit down, each level's order is the last one split stably by one more bit: O(n) per
    bit of the time key, all in numpy, and exact for integer weights.
    """
    signed, risk = _floats(y_true, y_pred)
    time, event = np.abs(signed), signed > 0
    if (time == 0).any():
        raise ValueError("survival times must be positive")
    w = np.ones((1, len(time)), dtype=np.int64) if weights is None else np.asarray(weights).reshape(-1, len(time))
    key = 2 * np.unique(time, return_inverse=True)[1].ravel() + ~event
    rank = np.unique(risk, return_inverse=True)[1].ravel()
    by_key = np.argsort(key, kind="stable")
    later = _running(w[:, by_key])
    events = np.flatnonzero(event)
    up_to = np.searchsorted(key[by_key], key[events], side="right")  # rows with a key up to each event's
    pairs = (w[:, events] * (later[:, -1:] - later[:, up_to])).sum(axis=1)
    signs = np.zeros_like(pairs)
    order = np.argsort(rank, kind="stable")  # by (key >> top bit, risk): by risk
    key, rank, event, w = key[order], rank[order], event[order], w[:, order]  # kept in that order from here on
    for bit in reversed(range(max(int(key.max(initial=0)).bit_length(), 1))):
        shared, has_bit = key >> (bit + 1), (key >> bit) & 1 == 1
        new_group = np.r_[True, shared[1:] != shared[:-1]]
        group_start, group_end = _blocks(new_group)
        tie_start, tie_end = _blocks(new_group | np.r_[True, rank[1:] != rank[:-1]])
        asks = np.flatnonzero(~has_bit & event)  # the i side: events without the bit
        j_before = _running(has_bit.astype(np.int64))  # j-side rows before each position
        j_running = _running(w[:, has_bit])
        below_tie, below_group, to_group_end, to_tie_end = (
            np.take(j_running, j_before[at[asks]], axis=1) for at in (tie_start, group_start, group_end, tie_end))
        signs += (w[:, asks] * ((below_tie - below_group) - (to_group_end - to_tie_end))).sum(axis=1)
        ones_before = j_before[:-1] - j_before[group_start]  # split each group stably: rows without the bit first
        zeros = (group_end - group_start) - (j_before[group_end] - j_before[group_start])
        to = group_start + np.where(has_bit, zeros + ones_before, np.arange(len(key)) - group_start - ones_before)
        source = np.empty_like(to)
        source[to] = np.arange(len(to))
        key, rank, event, w = key[source], rank[source], event[source], np.take(w, source, axis=1)
    return (pairs + signs) / 2, pairs


def _concordance(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Harrell's C: among pairs (i, j) with an event at t_i < t_j (or t_i = t_j, j censored), the share where
    risk_i > risk_j (ties 1/2). `y_true` is `survival_answer(time, event)`."""
    concordant, pairs = concordance_pairs(y_true, y_pred)
    if pairs[0] == 0:
        raise ValueError("the concordance index needs a pair with an event before a later time")
    return float(concordant[0] / pairs[0])


def ranked_items(text: Any) -> list[str]:
    """A ranked-list cell ('B12 A7 C3') as its item ids, best first."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    return str(text).split()


def average_precision_at_k(actual: Sequence[str], predicted: Sequence[str], k: int) -> float:
    """AP@k of one query: mean of precision@i over the ranks i <= k that hold a relevant item (Kaggle's apk)."""
    relevant = set(actual)
    if not relevant:
        return 0.0
    hits, total, seen = 0, 0.0, set()
    for rank, item in enumerate(list(predicted)[:k], start=1):
        if item in relevant and item not in seen:
            hits += 1
            total += hits / rank
        seen.add(item)
    return total / min(len(relevant), k)


def _map_at(k: int) -> Callable[[np.ndarray, np.ndarray], float]:
    def fn(y_true: np.ndarray, y_pred: np.ndarray) -> float:
        scores = [average_precision_at_k(ranked_items(t), ranked_items(p), k)
                  for t, p in zip(np.ravel(y_true), np.ravel(y_pred), strict=True)]
        return float(np.mean(scores)) if scores else math.nan
    return fn


def _map_metric(k: int) -> Metric:
    return Metric(
        f"map@{k}", _map_at(k), True, "ranking",
        f"(1/Q) * sum_q AP@{k}(q), AP@{k} = (1/min(|R_q|, {k})) * sum_(i<={k}) P_q(i) * [item i in R_q]",
        tasks=("ranking",), k=k,
    )


class _MetricTable(dict):
    """The metric registry; `map@K` for any K >= 1 is made on first use."""

    _MAP = re.compile(r"^map@([1-9][0-9]{0,2})$")

    def __missing__(self, name: str) -> Metric:
        match = self._MAP.match(str(name))
        if not match:
            raise KeyError(name)
        metric = self[name] = _map_metric(int(match.group(1)))
        return metric

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or bool(self._MAP.match(str(name)))


METRICS: dict[str, Metric] = _MetricTable({
    m.name: m
    for m in (
        Metric("roc_auc", _roc_auc, True, "probability",
               "AUC = P(score of a random positive > score of a random negative), ties count 1/2; with several "
               "probability columns, the mean of the per-column AUCs (macro one-vs-rest)", _TASKS_PROBABILITY),
        Metric("log_loss", _log_loss, False, "probability",
               "-(1/N) * sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)], p clipped to [1e-15, 1 - 1e-15]; with one "
               "column per class, -(1/N) * sum_i sum_c y_ic log p_ic (rows rescaled to sum to 1)",
               ("binary", "multiclass")),
        Metric("accuracy", _accuracy, True, "label", "(1/N) * sum_i [y_i == yhat_i]", ("binary", "multiclass")),
        Metric("macro_f1", _macro_f1, True, "label", "mean over classes c of F1_c = 2 P_c R_c / (P_c + R_c)",
               ("binary", "multiclass")),
        Metric("qwk", _qwk, True, "label",
               "1 - sum_ij w_ij O_ij / sum_ij w_ij E_ij, w_ij = (i - j)^2 / (K - 1)^2, O the confusion matrix, "
               "E the outer product of the two label histograms scaled to N", ("multiclass",)),
        Metric("rmse", _rmse, False, "value", "sqrt((1/N) * sum_i (y_i - yhat_i)^2)", ("regression",)),
        Metric("rmsle", _rmsle, False, "value", "sqrt((1/N) * sum_i (log(1 + yhat_i) - log(1 + y_i))^2)",
               ("regression",), min_value=0.0),
        Metric("mae", _mae, False, "value", "(1/N) * sum_i |y_i - yhat_i|", ("regression",)),
        Metric("smape", _smape, False, "value",
               "(100/N) * sum_i |yhat_i - y_i| / ((|y_i| + |yhat_i|) / 2), a term with y_i = yhat_i = 0 counts 0",
               ("regression",)),
        Metric("r2", _r2, True, "value", "1 - sum_i (y_i - yhat_i)^2 / sum_i (y_i - mean(y))^2", ("regression",)),
        Metric("poisson_deviance", _poisson_deviance, False, "value",
               "(2/N) * sum_i [y_i log(y_i / mu_i) - (y_i - mu_i)], y log y = 0 at y = 0, mu_i = max(yhat_i, 1e-6)",
               ("regression",), min_value=0.0),
        Metric("concordance", _concordance, True, "value",
               "Harrell's C = sum over pairs with an event at t_i < t_j (or t_i = t_j with j censored) of "
               "([r_i > r_j] + [r_i = r_j] / 2) / number of such pairs, r the submitted risk (higher: earlier event)",
               ("regression",)),
        _map_metric(5),
    )
})
