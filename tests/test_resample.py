"""nbdojo.competitions.resample: the redraws that keep real-data competitions out of a lookup's reach."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nbdojo.competitions.resample import draw_labels, out_of_fold, rekey, swap_residuals


def test_out_of_fold_never_sees_the_row_or_its_group() -> None:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=400), "g": np.repeat(np.arange(40), 10)})
    y = X["x"].to_numpy() + rng.normal(0, 0.1, 400)
    groups = X["g"].to_numpy()
    before = out_of_fold(X, y, "regression", 3, groups=groups, max_iter=30)
    changed = y.copy()
    changed[groups == 7] += 100.0  # a whole group's answers change: its own predictions must not move
    after = out_of_fold(X, changed, "regression", 3, groups=groups, max_iter=30)
    assert np.allclose(before[groups == 7], after[groups == 7])
    assert not np.allclose(before, after)  # the other folds learnt from the change
    assert np.corrcoef(before, y)[0, 1] > 0.9


def test_fit_rows_predict_the_rest_from_those_rows_only() -> None:
    rng = np.random.default_rng(1)
    X = pd.DataFrame({"x": rng.normal(size=300)})
    y = 2 * X["x"].to_numpy()
    fit = np.arange(300) < 200
    changed = y.copy()
    changed[~fit] = 0.0  # the predicted rows' own answers are never used
    first = out_of_fold(X, y, "regression", 0, folds=0, fit_rows=fit, max_iter=30)
    second = out_of_fold(X, changed, "regression", 0, folds=0, fit_rows=fit, max_iter=30)
    assert np.isnan(first[fit]).all() and np.allclose(first[~fit], second[~fit])


def test_swapped_residuals_keep_the_prediction_and_the_noise_but_not_the_row() -> None:
    rng = np.random.default_rng(2)
    prediction = rng.normal(size=5000)
    y = prediction + rng.normal(0, 0.5, 5000)
    redrawn = swap_residuals(prediction, y, np.random.default_rng(0))
    assert abs(np.std(redrawn - prediction) - np.std(y - prediction)) < 0.02  # the same noise...
    assert abs(np.corrcoef(redrawn - prediction, y - prediction)[0, 1]) < 0.05  # ...not the row's own
    assert np.allclose(np.sort(redrawn - prediction), np.sort(y - prediction))  # the very residuals, moved


def test_draws_follow_the_probabilities_and_ids_are_a_secret_bijection() -> None:
    rng = np.random.default_rng(3)
    p = np.where(np.arange(20000) < 10000, 0.1, 0.8)
    labels = draw_labels(p, rng)
    assert abs(labels[:10000].mean() - 0.1) < 0.02 and abs(labels[10000:].mean() - 0.8) < 0.02
    classes = draw_labels(np.tile([0.2, 0.5, 0.3], (20000, 1)), rng)
    assert np.allclose(np.bincount(classes) / 20000, [0.2, 0.5, 0.3], atol=0.02)
    values = pd.Series(["a", "b", "a", None, "c"])
    mapping = rekey(values, "K", rng, width=4)
    assert set(mapping) == {"a", "b", "c"} and len(set(mapping.values())) == 3
    assert all(v.startswith("K") and len(v) == 5 for v in mapping.values())
    assert values.map(mapping).isna().sum() == 1
