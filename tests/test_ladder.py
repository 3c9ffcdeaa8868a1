"""The reference ladder on every task shape: class columns, several labels, log targets, custom rungs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbdojo.competitions import ladder
from nbdojo.competitions import CompetitionData, CompetitionSpec, prepare
from nbdojo.errors import NbdojoError

PREPARE = '''
import numpy as np, pandas as pd

def prepare(public_dir, private_dir, seed):
    rng = np.random.default_rng(seed)
    n = 300
    x, z = rng.normal(size=n), rng.normal(size=n)
    colour = rng.choice(["red", "blue", "green"], n)
    frame = pd.DataFrame({"key": [f"K{i:03d}" for i in range(n)], "x": x, "z": z, "colour": colour})
    signal = x + (colour == "red") + rng.normal(scale=0.4, size=n)
    cls = np.digitize(signal, [-0.3, 0.9])
    for j, name in enumerate(["lo", "mid", "hi"]):
        frame[name] = (cls == j).astype(int)
    frame["t1"] = (signal > 0.3).astype(int)
    frame["t2"] = (z + rng.normal(scale=0.5, size=n) > 0.5).astype(int)
    frame["price"] = np.exp(10 + 0.8 * signal).round(0)
    train, test = frame.iloc[:220], frame.iloc[220:]
    targets = ["lo", "mid", "hi", "t1", "t2", "price"]
    train.to_csv(public_dir / "train.csv", index=False)
    test.drop(columns=targets).to_csv(public_dir / "test.csv", index=False)
    sample = test[["key"]].assign(lo=0.3, mid=0.4, hi=0.3, t1=0.5, t2=0.5, price=20000.0)
    sample.to_csv(public_dir / "sample_submission.csv", index=False)
    test[["key", *targets]].to_csv(private_dir / "answers.csv", index=False)
'''
KINDS = {
    "lad-classes": dict(metric="log_loss", higher_is_better=False, task="multiclass", prediction="probability",
                        target_columns=("lo", "mid", "hi")),
    "lad-labels": dict(metric="roc_auc", higher_is_better=True, task="multilabel", prediction="probability",
                       target_columns=("t1", "t2")),
    "lad-prices": dict(metric="rmsle", higher_is_better=False, task="regression", prediction="value",
                       target_columns=("price",)),
}


@pytest.fixture(scope="module")
def toys(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CompetitionData]:
    root = tmp_path_factory.mktemp("ladder-toys")
    built = {}
    for cid, fields in KINDS.items():
        (root / cid).mkdir()
        (root / cid / "prepare.py").write_text(PREPARE)
        # answers and sample hold every target of the toy; keep only this spec's columns
        spec = CompetitionSpec(id=cid, title=cid, category="tabular", id_column="key", split_seed=3, source="test",
                               folder=root / cid, **fields)
        built[cid] = prepare(spec)
    return built


def _rungs(features: ladder.Features, names: tuple[str, ...]) -> list[ladder.Rung]:
    return [r for r in ladder.default_rungs(features) if r.name in names]


def test_class_probability_ladder(toys: dict[str, CompetitionData]) -> None:
    data = toys["lad-classes"]
    features = ladder.Features.from_data(data)
    assert set(features.y) == {"lo", "mid", "hi"}
    names = ("constant", "random", "linear_onehot", "hgb_100pct", "forest", "linear_onehot_dates")
    board = ladder.build_ladder(data, rungs=_rungs(features, names), threads=1).set_index("entry")["score"]
    assert set(board.index) == set(names)
    assert board["linear_onehot"] < board["constant"] < board["random"]  # log loss: lower is better
    assert any(r.name.startswith("single_") for r in ladder.default_rungs(features))


def test_multilabel_ladder(toys: dict[str, CompetitionData]) -> None:
    data = toys["lad-labels"]
    features = ladder.Features.from_data(data)
    assert features.y.shape == (220, 2)
    board = ladder.build_ladder(data, rungs=_rungs(features, ("constant", "random", "linear_onehot")), threads=1)
    scores = board.set_index("entry")["score"]
    assert scores["constant"] == 0.5 and scores["linear_onehot"] > 0.7


def test_log_target_for_rmsle(toys: dict[str, CompetitionData]) -> None:
    data = toys["lad-prices"]
    features = ladder.Features.from_data(data)
    linear = _rungs(features, ("linear_onehot",))[0]
    rungs = [linear, ladder.Rung("linear_raw", "ridge on the raw price", linear.features, linear.make, target="raw")]
    scores = ladder.build_ladder(data, rungs=rungs, threads=1).set_index("entry")["score"]
    assert scores["linear_onehot"] < scores["linear_raw"]  # fitting log(1 + y) suits RMSLE


def test_custom_rungs_blends_drops_and_reference_file(toys: dict[str, CompetitionData]) -> None:
    data = toys["lad-prices"]
    test = pd.read_csv(data.test_path, dtype={"key": str})

    def constant(value: float):
        return lambda d: pd.DataFrame({"key": test["key"], "price": value})

    rungs = [
        ladder.Rung("c1", "constant 10,000", submit=constant(10_000.0)),
        ladder.Rung("c3", "constant 30,000", submit=constant(30_000.0)),
        ladder.Rung("blend", "mean of the two", blend=("c1", "c3")),
        ladder.Rung("no_x", "ridge without x", "numeric", ladder._linear, drop=("x",)),
        ladder.Rung("with_x", "ridge with x", "numeric", ladder._linear),
    ]
    scores = ladder.build_ladder(data, rungs=rungs, threads=1).set_index("entry")["score"]
    expected = ladder.build_ladder(data, rungs=[ladder.Rung("c2", "constant", submit=constant(20_000.0))])["score"]
    assert scores["blend"] == pytest.approx(expected.iloc[0])
    assert scores["with_x"] < scores["no_x"]

    (data.spec.folder / "reference.py").write_text(
        "from nbdojo.competitions.ladder import Rung\n"
        "import pandas as pd\n"
        "def rungs(data):\n"
        "    test = pd.read_csv(data.test_path, dtype={'key': str})\n"
        "    return [Rung(f'c{k}', 'constant', submit=lambda d, k=k: test[['key']].assign(price=k * 1e4))\n"
        "            for k in range(1, 4)]\n"
    )
    try:
        assert [r.name for r in ladder.reference_rungs(data)] == ["c1", "c2", "c3"]
        board = ladder.build_ladder(data)  # picks reference.py up by itself
        assert sorted(board["entry"]) == ["c1", "c2", "c3"]
    finally:
        (data.spec.folder / "reference.py").unlink()


def test_ranking_without_reference_is_a_clear_error(toys: dict[str, CompetitionData], tmp_path: Path) -> None:
    spec = CompetitionSpec(id="rank-toy", title="r", category="ranking", metric="map@5", higher_is_better=True,
                           id_column="key", target_columns=("items",), task="ranking", prediction="ranking",
                           split_seed=1, source="test", folder=tmp_path)
    data = CompetitionData(spec=spec, public_dir=toys["lad-prices"].public_dir, private_dir=tmp_path)
    with pytest.raises(NbdojoError, match="ranking task: its ladder needs a reference.py"):
        ladder.build_ladder(data)


def test_submission_frame_shapes() -> None:
    spec = CompetitionSpec(**KINDS["lad-classes"], id="s", title="s", category="tabular", id_column="key",
                           split_seed=1, source="t")
    frame = ladder.submission_frame(spec, ["a", "b"], np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]))
    assert list(frame.columns) == ["key", "lo", "mid", "hi"] and frame["hi"].tolist() == [0.5, 0.0]
