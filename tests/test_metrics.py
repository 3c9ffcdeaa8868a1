"""Every metric against scikit-learn or a hand-computed table, with its declared direction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from nbdojo.competitions import CompetitionSpec
from nbdojo.errors import ConfigError
from nbdojo.grading import METRICS, average_precision_at_k

rng = np.random.default_rng(7)
N = 300
Y_BIN = rng.integers(0, 2, N)
P_BIN = np.clip(0.35 * Y_BIN + 0.65 * rng.random(N), 0, 1)
Y_MC = rng.integers(0, 4, N)
P_MC = rng.dirichlet(np.ones(4), N) + 0.6 * np.eye(4)[Y_MC]
P_MC /= P_MC.sum(axis=1, keepdims=True)
Y_ML = (rng.random((N, 3)) < [0.2, 0.5, 0.7]).astype(int)
P_ML = np.clip(0.3 * Y_ML + 0.7 * rng.random((N, 3)), 0, 1)
Y_ORD = rng.integers(3, 9, N)
P_ORD = np.clip(Y_ORD + rng.integers(-2, 3, N), 3, 8)
Y_POS = rng.lognormal(11, 0.5, N)
P_POS = Y_POS * rng.lognormal(0, 0.2, N)
Y_COUNT = rng.poisson(2.5, N)
P_COUNT = rng.gamma(2.0, 1.3, N)
Y_REG = rng.normal(size=N)
P_REG = Y_REG + rng.normal(scale=0.6, size=N)


@pytest.mark.parametrize(
    ("name", "y_true", "y_pred", "expected"),
    [
        # against scikit-learn
        ("roc_auc", Y_BIN, P_BIN, skm.roc_auc_score(Y_BIN, P_BIN)),
        ("roc_auc", np.eye(4)[Y_MC], P_MC, skm.roc_auc_score(Y_MC, P_MC, multi_class="ovr", average="macro")),
        ("roc_auc", Y_ML, P_ML, skm.roc_auc_score(Y_ML, P_ML, average="macro")),
        ("log_loss", Y_BIN, P_BIN, skm.log_loss(Y_BIN, P_BIN)),
        ("log_loss", np.eye(4)[Y_MC], P_MC, skm.log_loss(Y_MC, P_MC)),
        ("accuracy", Y_ORD, P_ORD, skm.accuracy_score(Y_ORD, P_ORD)),
        ("macro_f1", Y_ORD, P_ORD, skm.f1_score(Y_ORD, P_ORD, average="macro")),
        ("qwk", Y_ORD, P_ORD, skm.cohen_kappa_score(Y_ORD, P_ORD, weights="quadratic")),
        ("rmse", Y_REG, P_REG, skm.root_mean_squared_error(Y_REG, P_REG)),
        ("rmsle", Y_POS, P_POS, skm.root_mean_squared_log_error(Y_POS, P_POS)),
        ("mae", Y_REG, P_REG, skm.mean_absolute_error(Y_REG, P_REG)),
        ("r2", Y_REG, P_REG, skm.r2_score(Y_REG, P_REG)),
        # by hand
        ("roc_auc", [[1, 0], [0, 1], [1, 1], [0, 0]], [[0.9, 0.2], [0.1, 0.8], [0.6, 0.3], [0.7, 0.4]],
         (3 / 4 + 3 / 4) / 2),
        ("log_loss", [[1, 0, 0], [0, 0, 1]], [[0.5, 0.25, 0.25], [0.2, 0.3, 0.5]], math.log(2)),
        ("log_loss", [[1, 0], [0, 1]], [[2.0, 2.0], [1.0, 3.0]], -(math.log(0.5) + math.log(0.75)) / 2),
        ("qwk", [1, 2, 3], [1, 2, 3], 1.0),
        ("qwk", [0, 0, 1, 1], [0, 1, 0, 1], 0.0),
        ("qwk", [1, 2, 3, 4], [1, 2, 3, 3], 1 - (1 / 9) / (32 / 36)),  # sum w*O = 1/9, sum w*E = 32/36
        ("rmsle", [0, math.e - 1], [math.e - 1, 0], 1.0),
        ("rmsle", [99, 9], [99, 9], 0.0),
        ("smape", [100, 0, 50], [110, 0, 0], 100 * (10 / 105 + 0 + 2) / 3),
        ("smape", [1, 2], [1, 2], 0.0),
        ("smape", [0, 0], [3, -3], 200.0),
        ("smape", [-10], [10], 200.0),
        ("r2", [1, 2, 3], [1, 2, 3], 1.0),
        ("r2", [1, 2, 3], [2, 2, 2], 0.0),
        ("r2", [1, 2, 3], [3, 2, 1], -3.0),
        ("map@5", ["a b", "c"], ["b a", "x c"], (1.0 + 0.5) / 2),
        ("map@2", ["1 2 3 4 5"], ["6 4 7 1 2"], 0.25),
        ("map@5", ["1 2 3 4 5"], ["1 1 1 1 1"], 0.2),
        ("map@3", ["1 3"], ["1 2 3 4 5"], (1 + 2 / 3) / 2),
        ("map@5", ["p9"], ["p1 p2 p3 p4 p5 p9"], 0.0),
        ("map@12", ["a"], ["b c a"], 1 / 3),
        ("poisson_deviance", Y_COUNT, P_COUNT, skm.mean_poisson_deviance(Y_COUNT, P_COUNT)),
        ("poisson_deviance", [0, 2], [1, 2], (2 * 1 + 0) / 2),  # y = 0: 2 * mu; y = mu: 0
        # Harrell's C, (time, event) as +time / -time: the event at 1 against 2c, 3 and 4c (risk 0.9 above all),
        # the event at 3 against 4c (a tie, 1/2); the censored rows start no pair
        ("concordance", [1, -2, 3, -4], [0.9, 0.1, 0.5, 0.5], (3 + 0.5) / 4),
        ("concordance", [2, -2, 5], [0.3, 0.2, 0.1], 1.0),  # an event and a censoring at the same time: comparable
        ("concordance", [2, 2, -9], [0.1, 0.3, 0.2], 0.5),  # two events at the same time: not a pair
    ],
)
def test_metric_values(name: str, y_true: object, y_pred: object, expected: float) -> None:
    assert METRICS[name](y_true, y_pred) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_qwk_hand_table() -> None:
    """Quadratic weighted kappa from its definition on a 3-class confusion matrix."""
    y_true = [0, 0, 0, 1, 1, 2, 2, 2, 2, 1]
    y_pred = [0, 1, 0, 1, 2, 2, 2, 1, 0, 1]
    observed = np.zeros((3, 3))
    for t, p in zip(y_true, y_pred, strict=True):
        observed[t, p] += 1
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    weights = np.array([[(i - j) ** 2 / 4 for j in range(3)] for i in range(3)])
    kappa = 1 - (weights * observed).sum() / (weights * expected).sum()
    assert METRICS["qwk"](y_true, y_pred) == pytest.approx(kappa)
    assert METRICS["qwk"]([5, 5, 5], [5, 5, 5]) == 1.0  # one grade everywhere: perfect agreement


def test_average_precision_at_k_table() -> None:
    table = [
        (["a"], ["a", "b"], 1, 1.0),
        (["a"], ["b", "a"], 1, 0.0),
        (["a", "b"], ["b", "c", "a"], 3, (1 + 2 / 3) / 2),
        ([], ["a"], 5, 0.0),
        (["a", "b", "c"], ["c"], 1, 1.0),  # divided by min(|R|, k)
        (list("abcdef"), list("abcdef"), 5, 1.0),
    ]
    for actual, predicted, k, expected in table:
        assert average_precision_at_k(actual, predicted, k) == pytest.approx(expected), (actual, predicted, k)


def test_directions_needs_and_tasks() -> None:
    table = {name: (m.higher_is_better, m.needs) for name, m in METRICS.items() if not name.startswith("map@")}
    assert table == {
        "roc_auc": (True, "probability"), "log_loss": (False, "probability"), "accuracy": (True, "label"),
        "macro_f1": (True, "label"), "qwk": (True, "label"), "rmse": (False, "value"), "rmsle": (False, "value"),
        "mae": (False, "value"), "smape": (False, "value"), "r2": (True, "value"),
        "poisson_deviance": (False, "value"), "concordance": (True, "value"),
    }
    assert (METRICS["map@5"].higher_is_better, METRICS["map@5"].needs, METRICS["map@5"].k) == (True, "ranking", 5)
    assert all(m.formula and m.tasks for m in METRICS.values())
    assert METRICS["rmsle"].min_value == 0.0 and METRICS["rmse"].min_value is None
    assert "multilabel" in METRICS["roc_auc"].tasks and "multilabel" not in METRICS["log_loss"].tasks


def test_map_at_k_names() -> None:
    assert "map@7" in METRICS and METRICS["map@7"].k == 7 and METRICS["map@7"].name == "map@7"
    for bad in ("map@0", "map@", "map@x", "map@-1", "map5", "MAP@5"):
        assert bad not in METRICS
        with pytest.raises(KeyError):
            METRICS[bad]


def test_concordance_matches_scikit_survival() -> None:
    """Harrell's C against scikit-survival (a host-only package) on data with tied times and risks."""
    sksurv_metrics = pytest.importorskip("sksurv.metrics")
    from nbdojo.grading.metrics import survival_answer

    time = rng.integers(1, 40, 2000).astype(float)
    event = rng.random(2000) < 0.6
    risk = np.round(rng.normal(size=2000) - 0.03 * time, 1)
    expected = sksurv_metrics.concordance_index_censored(event, time, risk)[0]
    assert METRICS["concordance"](survival_answer(time, event), risk) == pytest.approx(expected, rel=1e-12)
    assert METRICS["concordance"](survival_answer(time, event), -risk) == pytest.approx(1 - expected, abs=0.05)


def _concordance_by_pairs(signed: np.ndarray, risk: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    """Harrell's C's weighted (concordant, comparable) counts by looking at every pair: the O(n^2) definition."""
    time, event = np.abs(signed), signed > 0
    concordant = pairs = 0.0
    for i in np.flatnonzero(event):
        later = (time > time[i]) | ((time == time[i]) & ~event)
        pairs += weight[i] * weight[later].sum()
        concordant += weight[i] * (weight[later] * ((risk[i] > risk[later]) + 0.5 * (risk[i] == risk[later]))).sum()
    return concordant, pairs


def test_concordance_counts_every_pair_as_the_definition_does() -> None:
    """The vectorised pair counts against the O(n^2) definition, exactly: random small sets with tied times and
    risks, censoring at an event's time, rows of weight 0 or drawn twice (a bootstrap resample's weights)."""
    from nbdojo.grading.metrics import concordance_pairs

    local = np.random.default_rng(12)
    for _ in range(300):
        n = int(local.integers(2, 50))
        time = local.integers(1, int(local.integers(2, 15)), n).astype(float)
        signed = np.where(local.random(n) < local.random(), time, -time)
        risk = np.round(local.normal(size=n), int(local.integers(0, 2)))
        weights = local.integers(0, 3, (3, n))
        concordant, pairs = concordance_pairs(signed, risk, weights)
        for k in range(3):
            assert (concordant[k], pairs[k]) == _concordance_by_pairs(signed, risk, weights[k])
        expected = _concordance_by_pairs(signed, risk, np.ones(n))
        if expected[1]:
            assert METRICS["concordance"](signed, risk) == expected[0] / expected[1]


def test_undefined_values_raise_value_error() -> None:
    with pytest.raises(ValueError):
        METRICS["rmsle"]([1.0], [-2.0])
    with pytest.raises(ValueError):
        METRICS["r2"]([2.0, 2.0], [1.0, 3.0])
    with pytest.raises(ValueError):
        METRICS["poisson_deviance"]([1.0], [-0.5])
    with pytest.raises(ValueError):
        METRICS["concordance"]([-1.0, -2.0], [0.1, 0.2])  # no event: no comparable pair


SPEC = dict(id="t", title="T", category="tabular", id_column="id", target_columns=["y"], split_seed=1, source="test")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (dict(metric="log_loss", higher_is_better=False, task="multilabel", prediction="probability"),
         "log_loss does not fit task 'multilabel'"),
        (dict(metric="qwk", higher_is_better=True, task="regression", prediction="label"), "qwk does not fit"),
        (dict(metric="map@5", higher_is_better=False, task="ranking", prediction="ranking"), "higher is better"),
        (dict(metric="map@5", higher_is_better=True, task="ranking", prediction="label"), "scores a ranking"),
        (dict(metric="smape", higher_is_better=True, task="regression", prediction="value"), "lower is better"),
    ],
)
def test_spec_declarations_are_checked_against_the_metric(tmp_path: object, fields: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CompetitionSpec(**SPEC, **fields)


def test_valid_new_specs() -> None:
    for fields in (
        dict(metric="map@12", higher_is_better=True, task="ranking", prediction="ranking"),
        dict(metric="roc_auc", higher_is_better=True, task="multilabel", prediction="probability"),
        dict(metric="r2", higher_is_better=True, task="regression", prediction="value"),
        dict(metric="qwk", higher_is_better=True, task="multiclass", prediction="label"),
    ):
        assert CompetitionSpec(**SPEC, **fields).metric == fields["metric"]
