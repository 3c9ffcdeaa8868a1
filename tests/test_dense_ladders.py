"""Dense reference ladders: 100+ distinct entries, nothing below the dummy, medal lines clear of the noise.

Reads the committed `leaderboard.csv` and `ladder.json` of every built-in competition (no ladder is
built here); re-scores one recorded entry on two small prepared competitions to check the recorded
standard error; and checks on a toy ladder that an interrupted build resumes from its cache.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbdojo.competitions import CompetitionData, CompetitionSpec, list_competitions, prepare
from nbdojo.competitions.ladder import Features, Rung, build_ladder, submission_frame
from nbdojo.competitions.ladder_cache import EntryCache
from nbdojo.competitions.ladder_stats import drop_below_dummy, ladder_stats, private_se, read_stats
from nbdojo.competitions.search import dense_rungs, ladder_rungs
from nbdojo.grading import load_leaderboard, medal_thresholds

BUILTIN = sorted(s.id for s in list_competitions() if s.layout == "nbdojo")
SPECS = {s.id: s for s in list_competitions()}


def _better_or_equal(a: pd.Series, b: float, higher: bool) -> pd.Series:
    return a.round(5) >= round(b, 5) if higher else a.round(5) <= round(b, 5)


#: Synthetic competitions whose dense ladder was not rebuilt yet (`python scripts/build_leaderboards.py ID`);
#: each is reported as an expected failure until it is, then must come off this list.
PENDING: set[str] = set()


def _unfinished_real(spec: CompetitionSpec, problem: str) -> None:
    """A real-data competition still being added may lack its dense ladder: reported, with its numbers."""
    if spec.origin == "real" or spec.id in PENDING:
        pytest.xfail(f"{spec.id} ({spec.origin} data{', ladder pending' if spec.id in PENDING else ''}): {problem}")
    pytest.fail(f"{spec.id}: {problem}")


@pytest.mark.parametrize("cid", BUILTIN)
def test_ladder_is_dense_and_floored_at_the_dummy(cid: str) -> None:
    spec = SPECS[cid]
    stats = read_stats(spec)
    if stats is None or not spec.leaderboard_path.is_file():
        _unfinished_real(spec, f"no ladder.json: run scripts/build_leaderboards.py {cid}")
    board = load_leaderboard(spec)
    assert board["entry"].is_unique
    distinct = board["score"].round(6).nunique()
    if distinct < 100:
        _unfinished_real(spec, f"{distinct} distinct reference scores, not 100")
    dummy = board.set_index("entry").loc[stats["dummy"], "score"]
    others = board[board["entry"] != stats["dummy"]]
    assert _better_or_equal(others["score"], dummy, spec.higher_is_better).all(), "nothing below the dummy"
    assert stats["entries"] == len(board)
    assert "baseline-agent" in set(board["entry"]), "the baseline agent is an entry (and beats the dummy)"


@pytest.mark.parametrize("cid", BUILTIN)
def test_private_part_is_big_enough_for_the_medal_lines(cid: str) -> None:
    spec = SPECS[cid]
    stats = read_stats(spec)
    if stats is None:
        _unfinished_real(spec, "no ladder.json")
    board = load_leaderboard(spec)
    lines = medal_thresholds(board["score"].to_numpy(), spec.higher_is_better)
    assert [stats["medal_lines"][k] for k in ("gold", "silver", "bronze")] == pytest.approx(lines, abs=2e-5)
    gaps = abs(lines[0] - lines[1]), abs(lines[1] - lines[2])
    se = stats["se"]
    assert math.isfinite(se) and se > 0 and len(stats["noise"]) >= 3
    if spec.id in PENDING and se >= 0.5 * min(gaps):
        _unfinished_real(spec, f"bootstrap SE {se:.5f} against medal-line gaps {gaps[0]:.5f}, {gaps[1]:.5f}")
    if spec.origin == "real" and se >= 0.5 * min(gaps):  # finite data: the test set cannot grow
        pytest.xfail(f"{cid} (real data, {stats['private_rows']} private rows): bootstrap SE {se:.5f} against "
                     f"medal-line gaps {gaps[0]:.5f}, {gaps[1]:.5f}")
    assert se < 0.5 * min(gaps), f"bootstrap SE {se:.5f} against medal-line gaps {gaps}"


@pytest.mark.parametrize("cid", ["penguins", "house-prices"])
def test_recorded_noise_matches_a_rescored_entry(prepared_home: Path, cid: str) -> None:
    """Refit a recorded entry near a medal line on the prepared data: same score, same bootstrap SE."""
    data = prepare(cid)
    stats = read_stats(data.spec)
    committed = load_leaderboard(data.spec).set_index("entry")
    rungs = {r.name: r for r in ladder_rungs(data)}
    cheap = [n for n in stats["noise"] if n["entry"] in rungs and not rungs[n["entry"]].blend]
    assert cheap, "a recorded entry that can be refitted"
    record = cheap[0]
    cache = EntryCache(Path(prepared_home) / "se-check" / cid, "check")
    board = build_ladder(data, rungs=[rungs[record["entry"]]], threads=1, cache=cache)
    assert board["score"].iloc[0] == pytest.approx(committed.loc[record["entry"], "score"], abs=1e-6)
    test_ids = pd.read_csv(data.test_path, usecols=[data.spec.id_column], dtype=str)[data.spec.id_column]
    submission = submission_frame(data.spec, test_ids, cache.prediction(record["entry"]))
    assert private_se(data, submission) == pytest.approx(record["se"], rel=1e-3, abs=1e-6)


# --------------------------------------------------------------------------- the builder on a toy

TOY = '''
import numpy as np, pandas as pd

def prepare(public_dir, private_dir, seed):
    rng = np.random.default_rng(seed)
    n = 400
    x = rng.normal(size=n)
    frame = pd.DataFrame({"key": [f"K{i:03d}" for i in range(n)], "x": x, "z": rng.normal(size=n)})
    frame["y"] = (x + rng.normal(scale=0.7, size=n) > 0).astype(int)
    train, test = frame.iloc[:250], frame.iloc[250:]
    train.to_csv(public_dir / "train.csv", index=False)
    test.drop(columns="y").to_csv(public_dir / "test.csv", index=False)
    test[["key"]].assign(y=0.5).to_csv(public_dir / "sample_submission.csv", index=False)
    test[["key", "y"]].to_csv(private_dir / "answers.csv", index=False)
'''


@pytest.fixture(scope="module")
def toy(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> CompetitionData:
    folder = tmp_path_factory.mktemp("dense-toy") / "dense-toy"
    folder.mkdir()
    (folder / "prepare.py").write_text(TOY)
    spec = CompetitionSpec(id="dense-toy", title="toy", category="tabular", metric="roc_auc", higher_is_better=True,
                           id_column="key", target_columns=("y",), task="binary", prediction="probability",
                           split_seed=5, source="test", folder=folder)
    return prepare(spec)


def test_an_interrupted_build_resumes_from_its_cache(toy: CompetitionData, tmp_path: Path) -> None:
    test = pd.read_csv(toy.test_path, dtype={"key": str})
    calls: list[str] = []
    stop = {"at": "c3"}

    def guess(name: str, column: str, scale: float):
        def submit(data: CompetitionData) -> pd.DataFrame:
            calls.append(name)
            if stop["at"] == name:
                raise KeyboardInterrupt  # the build is stopped half-way
            return test[["key"]].assign(y=1 / (1 + np.exp(-scale * test[column])))
        return submit

    rungs = [Rung(f"c{i}", f"sigmoid of {i} x", submit=guess(f"c{i}", "x" if i % 2 else "z", i)) for i in range(1, 5)]
    rungs.append(Rung("mean", "mean of c1 and c2", blend=("c1", "c2")))
    cache = EntryCache(tmp_path / "cache", "data-v1")
    with pytest.raises(KeyboardInterrupt):
        build_ladder(toy, rungs=rungs, cache=cache)
    assert calls == ["c1", "c2", "c3"] and len(cache) == 2
    stop["at"] = None
    calls.clear()
    resumed = build_ladder(toy, rungs=rungs, cache=EntryCache(tmp_path / "cache", "data-v1"))
    assert calls == ["c3", "c4"], "finished entries are read back, not refitted"
    fresh = build_ladder(toy, rungs=rungs)
    pd.testing.assert_frame_equal(resumed, fresh)  # the blend uses the cached predictions
    calls.clear()
    build_ladder(toy, rungs=rungs, cache=EntryCache(tmp_path / "cache", "data-v2"))
    assert calls == ["c1", "c2", "c3", "c4"], "new data empties the cache"


def test_a_cached_row_without_its_predictions_is_refitted_when_a_blend_needs_them(
        toy: CompetitionData, tmp_path: Path) -> None:
    """A cache holding c1's row but not its .npy once stopped the blend with a bare KeyError."""
    test = pd.read_csv(toy.test_path, dtype={"key": str})
    calls: list[str] = []

    def guess(name: str, scale: float):
        def submit(data: CompetitionData) -> pd.DataFrame:
            calls.append(name)
            return pd.DataFrame({"key": test["key"], "y": 1 / (1 + np.exp(-scale * test["x"]))})
        return submit

    rungs = [Rung("c1", "sigmoid of x", submit=guess("c1", 1.0)), Rung("c2", "sigmoid of 2x", submit=guess("c2", 2.0)),
             Rung("mean", "mean of c1 and c2", blend=("c1", "c2"))]
    cache = EntryCache(tmp_path / "cache", "v1")
    first = build_ladder(toy, rungs=rungs, cache=cache)
    next(cache.folder.glob("c1-*.npy")).unlink()  # c1's row stays; the blend was not finished
    for path in cache.folder.glob("mean-*"):
        path.unlink()
    calls.clear()
    again = build_ladder(toy, rungs=rungs, cache=EntryCache(tmp_path / "cache", "v1"))
    assert calls == ["c1"], "only the entry whose predictions the blend lacks is refitted"
    pd.testing.assert_frame_equal(again, first)


def test_an_entry_named_with_a_dot_is_cached_under_its_own_name(tmp_path: Path) -> None:
    """`shrink_0.5` and `shrink_0.7` once shared one file (`shrink_0.json`) that neither could read back."""
    cache = EntryCache(tmp_path / "cache", "v1")
    for name, score in (("shrink_0.5", 0.5), ("shrink_0.7", 0.7)):
        cache.put(name, "key", {"entry": name, "score": score}, np.array([score]))
    reread = EntryCache(tmp_path / "cache", "v1")
    assert [reread.get(n, "key")["score"] for n in ("shrink_0.5", "shrink_0.7")] == [0.5, 0.7]
    assert reread.prediction("shrink_0.7").tolist() == [0.7] and len(reread) == 2


def test_dummy_floor_and_stats_on_a_toy(toy: CompetitionData, tmp_path: Path) -> None:
    features = Features.from_data(toy)
    rungs = dense_rungs(features)
    assert rungs[0].name == "constant" and len({r.name for r in rungs}) == len(rungs) >= 130
    chosen = [r for r in rungs if r.name in ("constant", "single_x", "linear_numeric_c1_100pct")]
    test = pd.read_csv(toy.test_path, dtype={"key": str})
    worse = Rung("anti", "predicts the opposite", submit=lambda d: test[["key"]].assign(y=1 / (1 + np.exp(test["x"]))))
    cache = EntryCache(tmp_path / "cache", "toy")
    board = build_ladder(toy, rungs=[*chosen, worse], cache=cache)
    kept = drop_below_dummy(board, "constant", toy.spec)
    assert set(board["entry"]) - set(kept["entry"]) == {"anti"}
    stats = ladder_stats(toy, kept, "constant",
                         lambda entry: submission_frame(toy.spec, test["key"], cache.prediction(entry)))
    assert stats["entries"] == 3 and stats["dummy_score"] == 0.5 and stats["private_rows"] > 0
    assert {n["entry"] for n in stats["noise"]} == {"single_x", "linear_numeric_c1_100pct"}  # nearest the lines
    strong = [n["se"] for n in stats["noise"] if n["entry"] != "constant"]
    assert all(0.005 < se < 0.1 for se in strong)  # AUC on about 100 private rows
