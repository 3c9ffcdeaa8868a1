"""Neighbourhood resampling (nbdojo.competitions.neighbours): real answers, kept relations, useless lookups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from sklearn.linear_model import LinearRegression

from nbdojo.competitions.neighbours import feature_space, resample

pytestmark = pytest.mark.slow  # each resample fits a few boosters (seconds on an idle machine)


def _table(n: int = 800, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n), "count": rng.integers(0, 9, n),
                          "kind": rng.choice(["a", "b", "c"], n), "year": rng.choice([2001, 2002], n)})
    frame["y"] = 2.0 * frame["x"] + 0.5 * (frame["kind"] == "b") + rng.normal(0, 1.0, n)
    frame["label"] = np.where(frame["x"] + rng.normal(0, 0.7, n) > 0, "up", "down")
    return frame


def test_same_seed_same_rows_and_answers_are_real_values() -> None:
    source = _table()
    args = (["x", "z", "count", "kind"], ["y", "label"], 7)
    first = resample(source, *args, categorical=["kind"], integer=["count"], group="year", score_target="y")
    again = resample(source, *args, categorical=["kind"], integer=["count"], group="year", score_target="y")
    other = resample(source, *args[:2], 8, categorical=["kind"], integer=["count"], group="year", score_target="y")
    pd.testing.assert_frame_equal(first, again)
    assert not first["y"].equals(other["y"])
    assert len(first) == len(source) and sorted(first["year"]) == sorted(source["year"])
    pairs = set(zip(source["y"], source["label"], strict=True))
    assert all(pair in pairs for pair in zip(first["y"], first["label"], strict=True))  # answers move together
    assert set(first["kind"]) <= set(source["kind"]) and (first["count"] == first["count"].round()).all()
    assert first["x"].between(source["x"].min(), source["x"].max()).all()


def test_the_relation_is_kept_and_a_lookup_of_the_nearest_source_row_gains_nothing() -> None:
    source = _table(n=1500)
    new = resample(source, ["x", "z", "kind"], ["y"], 0, categorical=["kind"], k=10, donors=40)
    assert np.corrcoef(new["x"], new["y"])[0, 1] > 0.6  # 0.89 in the source
    train, test = new.iloc[:1000], new.iloc[1000:]
    points = feature_space(pd.concat([source, test])[["x", "z", "kind"]], ["kind"])
    nearest = cKDTree(points[:len(source)]).query(points[len(source):])[1]
    lookup_error = np.mean((source["y"].to_numpy()[nearest] - test["y"].to_numpy()) ** 2)
    model = LinearRegression().fit(train[["x", "z"]], train["y"])
    model_error = np.mean((model.predict(test[["x", "z"]]) - test["y"].to_numpy()) ** 2)
    assert model_error < 0.75 * lookup_error, (model_error, lookup_error)


def test_labels_are_scored_by_class_probabilities() -> None:
    source = _table(n=1000)
    new = resample(source, ["x", "z"], ["label"], 1, k=5, donors=20)
    agree = np.mean(new["label"].to_numpy() == np.where(new["x"] > 0, "up", "down"))
    assert 0.7 < agree < 0.98


def test_rounds_draw_more_rows_of_the_same_population() -> None:
    source = _table(n=600)
    new = resample(source, ["x", "z", "kind"], ["y"], 2, categorical=["kind"], k=10, donors=40, rounds=3)
    assert len(new) == 3 * len(source)
    rounds = [new.iloc[r * len(source):(r + 1) * len(source)].reset_index(drop=True) for r in range(3)]
    for part in rounds:  # row j of each round is source row j moved towards a neighbour, with a fresh answer
        assert np.corrcoef(part["x"], source["x"])[0, 1] > 0.9
        assert np.corrcoef(part["x"], part["y"])[0, 1] > 0.6
    assert not rounds[0]["x"].equals(rounds[1]["x"]) and not rounds[1]["y"].equals(rounds[2]["y"])
    assert set(new["y"]) <= set(source["y"])
    with pytest.raises(ValueError, match="rounds"):
        resample(source, ["x"], ["y"], 0, rounds=0)
