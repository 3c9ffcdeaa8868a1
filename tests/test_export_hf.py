"""`nbdojo export --format hf`, checked with the real `datasets` library, on the runs the example collects
(examples/rollouts_to_dataset.py: 4 baseline episodes on 2 small competitions)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

datasets = pytest.importorskip("datasets", reason="datasets comes with nbdojo's hf extra (installed by make)")

from nbdojo.errors import ConfigError  # noqa: E402
from nbdojo.tools.export import episodes, export, sft_record  # noqa: E402
from nbdojo.tools.export_filters import estimate_tokens  # noqa: E402

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[1]
META = ("competition", "agent", "model", "seed", "score", "normalized_score", "human_rank", "medal", "verified")


@pytest.fixture(scope="module")
def example(prepared_home, tmp_path_factory) -> Path:
    """The example script, run as a user runs it: its folder holds runs/ and dataset/."""
    folder = tmp_path_factory.mktemp("example")
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "rollouts_to_dataset.py"), str(folder)],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"4 episodes in {folder / 'dataset'}" in proc.stdout
    return folder


def cli_export(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nbdojo.cli", "export", *args], capture_output=True, text=True,
                          timeout=300)


def rows(path: Path) -> list[dict]:
    return list(datasets.load_from_disk(str(path)))


def test_the_example_collects_four_graded_rollouts_as_a_dataset(example):
    ds = datasets.load_from_disk(str(example / "dataset"))
    assert ds.num_rows == 4 and {"messages", "tools", *META, "num_tokens"} <= set(ds.column_names)
    assert sorted(ds["competition"]) == ["diabetes-progression"] * 2 + ["penguins"] * 2
    assert sorted(ds["seed"]) == [0, 0, 1, 1] and set(ds["agent"]) == {"baseline"} and all(ds["verified"])
    assert all(0 <= r <= 1 for r in ds["human_rank"]) and all(isinstance(s, float) for s in ds["score"])


def test_a_row_is_the_jsonl_export_of_the_same_episode(example, tmp_path):
    export([example / "runs"], tmp_path / "sft.jsonl", fmt="sft")
    lines = {json.loads(line)["metadata"]["notebook"]: json.loads(line)
             for line in (tmp_path / "sft.jsonl").read_text().splitlines()}
    row = rows(example / "dataset")[0]
    line = lines[row["notebook"]]
    assert row["messages"] == line["messages"] and row["tools"] == line["tools"]  # exactly, no null-filled keys
    for key in META:
        expected = line["metadata"][key]
        assert row[key] == (None if isinstance(expected, float) and not math.isfinite(expected) else expected), key
    assert any(m.get("tool_calls") for m in row["messages"]) and row["messages"][0]["role"] == "system"


def test_filters_dedup_best_per_competition_and_a_token_cap(example, tmp_path):
    runs = tmp_path / "runs"
    shutil.copytree(example / "runs", runs)
    first = sorted(runs.iterdir())[0]
    shutil.copytree(first, runs / f"{first.name}-copy")  # the same episode, found twice

    assert export([runs], tmp_path / "all", fmt="hf")["written"] == len(rows(tmp_path / "all")) == 4
    assert export([runs], tmp_path / "dups", fmt="hf", dedup=False)["written"] == len(rows(tmp_path / "dups")) == 5

    best = cli_export(str(runs), "-f", "hf", "-o", str(tmp_path / "best"), "--best-per-competition")
    assert best.returncode == 0 and "2 episodes" in best.stdout, best.stderr
    found, _ = episodes([example / "runs"])
    for row in rows(tmp_path / "best"):
        same = [e.final["normalized_score"] for e in found if e.meta["competition"] == row["competition"]]
        assert row["normalized_score"] == max(same)

    lengths = sorted(estimate_tokens(sft_record(e)) for e in found)
    cap = lengths[1]  # keeps the two shortest episodes (ties aside), drops the others whole
    export([runs], tmp_path / "capped", fmt="hf", max_tokens=cap)
    kept = rows(tmp_path / "capped")
    assert 1 <= len(kept) < 4 and all(r["num_tokens"] <= cap for r in kept)
    whole = {str(e.path): sft_record(e)["messages"] for e in found}
    assert all(r["messages"] == whole[r["notebook"].replace(str(runs), str(example / "runs"))] for r in kept)


def test_it_never_writes_over_a_folder_that_is_not_its_dataset(example, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="is not a dataset nbdojo wrote"):
        export([example / "runs"], tmp_path / "mine", fmt="hf")
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    export([example / "runs"], tmp_path / "ds", fmt="hf")
    export([example / "runs"], tmp_path / "ds", fmt="hf", best_per_competition=True)
    assert len(rows(tmp_path / "ds")) == 2 and sorted(p.name for p in tmp_path.iterdir()) == ["ds", "mine"]


def test_without_the_extra_one_line_names_it(example, tmp_path):
    code = ("import sys; sys.modules['datasets'] = None\nfrom nbdojo.cli import main\n"
            f"sys.exit(main(['export', {str(example / 'runs')!r}, '-f', 'hf', '-o', {str(tmp_path / 'x')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: export --format hf needs the 'datasets' package: pip install 'nbdojo[hf]'"]
