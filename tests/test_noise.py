"""The bootstrap standard error: its fast paths agree with scoring each resample, and it shrinks with more rows."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from nbdojo.grading.metrics import METRICS
from nbdojo.grading.noise import bootstrap_scores, bootstrap_se


def _case(name: str, n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Answers and imperfect predictions of the kind `name` scores, with ties and several classes."""
    rng = np.random.default_rng(seed)
    if name == "roc_auc":
        y = rng.integers(0, 2, n)
        return y, np.round(np.clip(0.3 * y + rng.random(n), 0, 1), 2)
    if name == "roc_auc/multilabel":
        y = rng.integers(0, 2, (n, 3))
        return y, (rng.random((n, 3)) + 0.4 * y) / 1.4
    if name == "log_loss":
        y = rng.integers(0, 2, n)
        return y, np.clip(0.5 * y + 0.5 * rng.random(n), 0, 1)
    if name == "log_loss/multiclass":
        return np.eye(3)[rng.integers(0, 3, n)], rng.dirichlet([1, 1, 1], n)
    if name in ("accuracy", "macro_f1", "qwk"):
        y = rng.integers(0, 4, n)
        return y, np.where(rng.random(n) < 0.6, y, rng.integers(0, 4, n))
    if name == "accuracy/strings":
        y = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, n)]
        return y, np.where(rng.random(n) < 0.7, y, "cat")
    if name.startswith("map@"):
        items = list("ABCDEFGH")
        truth = [" ".join(rng.choice(items, 2, replace=False)) for _ in range(n)]
        return np.array(truth), np.array([" ".join(rng.choice(items, 5, replace=False)) for _ in range(n)])
    if name == "concordance":  # survival: +time for an event, -time if censored; tied times and risks
        time = np.round(rng.exponential(30, n)) + 1
        signed = np.where(rng.random(n) < 0.7, time, -time)
        return signed, np.round(-time / 30 + rng.normal(0, 1, n), 1)
    if name == "poisson_deviance":
        y = rng.poisson(3, n)
        return y, np.clip(y + rng.normal(0, 1, n), 0, None)
    y = rng.random(n) * 5  # the regression metrics
    return y, np.clip(y + rng.normal(0, 0.5, n), 0, None)


CASES = ["roc_auc", "roc_auc/multilabel", "log_loss", "log_loss/multiclass", "accuracy", "accuracy/strings",
         "macro_f1", "qwk", "rmse", "rmsle", "mae", "smape", "r2", "map@5", "concordance", "poisson_deviance"]


@pytest.mark.parametrize("case", CASES)
def test_fast_path_equals_scoring_each_resample(case: str) -> None:
    metric = case.split("/")[0]
    y_true, y_pred = _case(case, 250)
    fast = bootstrap_scores(metric, y_true, y_pred, n_boot=40, seed=3)
    slow = bootstrap_scores(metric, y_true, y_pred, n_boot=40, seed=3, vectorised=False)
    assert np.allclose(fast, slow, rtol=0, atol=1e-9)
    assert fast.std() > 0  # the resamples really differ


def test_every_builtin_metric_has_a_fast_path_or_a_fallback() -> None:
    for name in METRICS:
        y_true, y_pred = _case(name, 120)
        se = bootstrap_se(name, y_true, y_pred, n_boot=30)
        assert math.isfinite(se) and se > 0, name


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy", "rmse"])
def test_error_shrinks_as_the_private_part_grows(metric: str) -> None:
    errors = [bootstrap_se(metric, *_case(metric, n)) for n in (200, 2_000, 20_000)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] / errors[2] == pytest.approx(10, rel=0.35)  # about 1 / sqrt(n)


def test_same_seed_same_error_and_another_seed_another() -> None:
    y_true, y_pred = _case("rmse", 500)
    assert bootstrap_se("rmse", y_true, y_pred, seed=5) == bootstrap_se("rmse", y_true, y_pred, seed=5)
    assert bootstrap_se("rmse", y_true, y_pred, seed=5) != bootstrap_se("rmse", y_true, y_pred, seed=6)


def test_unscorable_resamples_give_nan_not_an_error() -> None:
    assert math.isnan(bootstrap_se("roc_auc", np.ones(50), np.linspace(0, 1, 50)))
    assert math.isnan(bootstrap_se("rmse", np.array([]), np.array([])))


def test_bad_inputs_are_one_line_errors() -> None:
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        bootstrap_se("nope", [1, 2], [1, 2])
    with pytest.raises(ValueError, match="3 rows but y_pred has 2"):
        bootstrap_se("rmse", [1, 2, 3], [1, 2])


def _fastest_of_three(metric: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Seconds one grade's bootstrap takes: the best of three after a warm-up, so a busy machine (CI runs the
    suite on two cores) or a first call's one-off costs cannot fail a test about the code's own speed."""
    bootstrap_se(metric, y_true[:100], y_pred[:100])
    times = []
    for _ in range(3):
        start = time.perf_counter()
        bootstrap_se(metric, y_true, y_pred)
        times.append(time.perf_counter() - start)
    return min(times)


def test_a_survival_grade_pays_well_under_a_second() -> None:
    y_true, y_pred = _case("concordance", 5_000)
    assert _fastest_of_three("concordance", y_true, y_pred) < 2.0  # one sweep for all 200 resamples; ~0.2 s


def test_a_100k_row_grade_pays_well_under_a_second() -> None:
    y_true, y_pred = _case("roc_auc", 100_000)
    assert _fastest_of_three("roc_auc", y_true, y_pred) < 2.0  # the slowest fast path; ~0.35 s on an idle core


def test_a_big_survival_test_is_bootstrapped_on_a_scaled_subsample(monkeypatch: pytest.MonkeyPatch) -> None:
    """Harrell's C above its row cap: a seeded subsample's error scaled by sqrt(cap / rows), close to the full one."""
    from nbdojo.grading import noise

    y_true, y_pred = _case("concordance", 40_000)
    full = bootstrap_se("concordance", y_true, y_pred, max_rows=10**9)
    scaled = bootstrap_se("concordance", y_true, y_pred, max_rows=10_000)
    assert scaled == pytest.approx(full, rel=0.2) and scaled != full
    keep = np.sort(np.random.default_rng(0).choice(40_000, size=10_000, replace=False))
    assert scaled == bootstrap_se("concordance", y_true[keep], y_pred[keep]) * math.sqrt(10_000 / 40_000)
    monkeypatch.setitem(noise.SUBSAMPLED, "concordance", 10_000)  # the default cap is the metric's own
    assert bootstrap_se("concordance", y_true, y_pred) == scaled
    assert bootstrap_se("rmse", *_case("rmse", 20_000)) == bootstrap_se("rmse", *_case("rmse", 20_000), max_rows=10**9)
