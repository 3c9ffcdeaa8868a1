"""The built-in tabular, time-series and ranking competitions: build, determinism, baseline, leaderboard.

click-through (1.3 million rows) is built here at a reduced size through its `n_train` / `n_test`
arguments; its full-size leaderboard file is still checked.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from nbdojo.competitions import ladder
from nbdojo.agents.baseline import baseline_submission
from nbdojo.competitions import CompetitionData, CompetitionSpec, data_dir, get_competition, prepare
from nbdojo.grading import METRICS, grade, load_leaderboard, validate_submission

COMPETITIONS = {  # id: (category, task, metric)
    "penguins": ("tabular", "multiclass", "log_loss"),
    "house-prices": ("tabular", "regression", "rmsle"),
    "wine-quality": ("tabular", "multiclass", "qwk"),
    "customer-churn": ("tabular", "binary", "log_loss"),
    "diabetes-progression": ("tabular", "regression", "r2"),
    "store-sales": ("timeseries", "regression", "smape"),
    "product-search": ("ranking", "ranking", "map@5"),
    "click-through": ("tabular", "binary", "log_loss"),
}
SMALL = {"click-through": "n_train=20_000, n_test=4_000"}
SHIM = '''
import importlib.util

_spec = importlib.util.spec_from_file_location("nbdojo_full_{name}", {path!r})
_full = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_full)


def prepare(public_dir, private_dir, seed):
    _full.prepare(public_dir, private_dir, seed, {sizes})
'''


def _buildable(cid: str, root: Path) -> CompetitionSpec:
    """The spec to build in tests: the real one, or a reduced copy for the big competitions."""
    spec = get_competition(cid)
    if cid not in SMALL:
        return spec
    folder = root / f"{cid}-small"
    folder.mkdir(exist_ok=True)
    name = cid.replace("-", "_")
    (folder / "prepare.py").write_text(SHIM.format(name=name, path=str(spec.prepare_path), sizes=SMALL[cid]))
    return dataclasses.replace(spec, id=f"{cid}-small", folder=folder)


@pytest.fixture(scope="module")
def built(prepared_home: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, CompetitionData]:
    root = tmp_path_factory.mktemp("competition-shims")
    return {cid: prepare(_buildable(cid, root)) for cid in COMPETITIONS}


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_spec_and_description(cid: str) -> None:
    spec = get_competition(cid)
    assert (spec.category, spec.task, spec.metric) == COMPETITIONS[cid]
    assert spec.higher_is_better == METRICS[spec.metric].higher_is_better
    text = spec.description
    for heading in ("## Overview", "## Data", "## Evaluation", "## Submission format", "## Public and private"):
        assert heading in text, heading
    assert re.search(r"^\s{4}\S.*=", text, re.MULTILINE), "the metric's formula"
    assert f"{spec.id_column}," in text and "```" in text, "a sample of the submission"
    assert spec.extra.get("rows"), "competition.yaml states its sizes"
    assert set(spec.agent_view()) >= {"id", "task", "metric", "id_column", "target_columns", "prediction"}


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_prepared_files_follow_the_contract(built: dict[str, CompetitionData], cid: str) -> None:
    data = built[cid]
    spec = data.spec
    train = pd.read_csv(data.train_path, nrows=500)
    test_header = pd.read_csv(data.test_path, nrows=0).columns
    assert set(spec.target_columns) <= set(train.columns)
    assert not set(spec.target_columns) & set(test_header)
    answers = pd.read_csv(data.answers_path, dtype=str)
    assert set(answers["Usage"]) == {"Public", "Private"}
    assert validate_submission(data, data.sample_submission_path).shape[0] == len(answers)
    assert math.isfinite(grade(data, data.sample_submission_path).score)


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_prepare_is_byte_identical(
    built: dict[str, CompetitionData], cid: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = built[cid].spec
    first = (data_dir(spec) / "checksums.json").read_bytes()
    monkeypatch.setenv("NBDOJO_HOME", str(tmp_path))
    prepare(spec)
    assert (data_dir(spec) / "checksums.json").read_bytes() == first  # a sha256 for every file


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_baseline_gives_a_valid_submission(built: dict[str, CompetitionData], cid: str) -> None:
    data = built[cid]
    with threadpool_limits(limits=1):  # one OpenMP thread: far faster than oversubscribed cores on a busy machine
        submission = baseline_submission(str(data.public_dir), data.spec.agent_view(), seed=0)
    row = ladder.score_entry(data, "baseline", submission)  # validated and scored like an agent's file
    sample = grade(data, data.sample_submission_path).score
    better = row["score"] > sample if data.spec.higher_is_better else row["score"] < sample
    assert better, (row["score"], sample)


@pytest.mark.parametrize("cid", sorted(COMPETITIONS))
def test_leaderboard_has_a_real_spread(cid: str) -> None:
    spec = get_competition(cid)
    raw = pd.read_csv(spec.leaderboard_path)
    assert list(raw.columns) == ladder.LADDER_COLUMNS
    assert len(raw) >= 20 and raw["score"].round(6).nunique() >= 20
    ordered = raw["score"].is_monotonic_decreasing if spec.higher_is_better else raw["score"].is_monotonic_increasing
    assert ordered, "the file is sorted best first"
    assert raw.equals(load_leaderboard(spec)[ladder.LADDER_COLUMNS])
    assert "baseline-agent" in set(raw["entry"])
    perfect = {"log_loss": 0.0, "rmsle": 0.0, "smape": 0.0, "qwk": 1.0, "r2": 1.0, "map@5": 1.0}[spec.metric]
    gap = (raw["score"] - perfect).abs()
    assert gap.iloc[0] > 0.25 * gap.median(), "not saturated: the best entry is still far from a perfect score"


@pytest.mark.parametrize("cid", ["penguins", "house-prices", "wine-quality", "customer-churn", "diabetes-progression"])
def test_committed_ladder_matches_the_data(built: dict[str, CompetitionData], cid: str) -> None:
    """A stale leaderboard.csv (the generator changed, the ladder was not rebuilt) fails here."""
    data = built[cid]
    rung = [r for r in ladder.default_rungs(ladder.Features.from_data(data)) if r.name == "constant"]
    rebuilt = ladder.build_ladder(data, rungs=rung, threads=1)["score"].iloc[0]
    committed = load_leaderboard(data.spec).set_index("entry")["score"]["constant"]
    assert rebuilt == pytest.approx(committed, abs=1e-6)


@pytest.mark.parametrize(("cid", "entry"), [("store-sales", "zeros"), ("product-search", "shown_order")])
def test_committed_ladder_matches_the_sample(built: dict[str, CompetitionData], cid: str, entry: str) -> None:
    data = built[cid]
    committed = load_leaderboard(data.spec).set_index("entry")["score"][entry]
    assert grade(data, data.sample_submission_path).score == pytest.approx(committed, abs=1e-6)
