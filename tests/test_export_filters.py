"""Turning runs into data: identical episodes kept once, over-long ones dropped whole, the best per competition."""

from __future__ import annotations

from pathlib import Path

from nbdojo.tools.export import Episode, Step
from nbdojo.tools.export_filters import best_per_competition, content_key, drop_duplicates, select, within_tokens


def episode(name: str, competition: str = "penguins", *, code: str = "print(1)", normalized: float | None = 0.5,
            human_rank: float = 0.5, trust: str = "verified") -> Episode:
    final = {"score": None if normalized is None else 1.0, "normalized_score": normalized, "human_rank": human_rank}
    steps = [Step(1, {"action": "execute_code", "code": code}, None, "[step 1] ok", "ok")]
    return Episode(Path(f"/runs/{name}/trajectory.ipynb"), {"competition": competition, "final": final},
                   "# Task", steps, trust)


def names(episodes: list[Episode]) -> list[str]:
    return [e.path.parent.name for e in episodes]


def test_identical_episodes_are_kept_once_in_their_first_place():
    a, copy, other = episode("a"), episode("copy-of-a"), episode("b", code="print(2)")
    assert content_key(a) == content_key(copy) != content_key(other)
    assert names(drop_duplicates([a, other, copy])) == ["a", "b"]
    assert names(drop_duplicates([copy, a])) == ["copy-of-a"]


def test_the_token_cap_drops_whole_episodes():
    short, long = episode("short", code="x"), episode("long", code="x" * 4000)
    lengths = {"short": 10, "long": 1000}
    kept = within_tokens([long, short], 500, lambda e: lengths[e.path.parent.name])
    assert names(kept) == ["short"] and kept[0].steps == short.steps  # kept whole, never cut


def test_best_per_competition_ranks_by_normalized_score_then_human_rank_then_trust():
    eps = [episode("p-low", normalized=0.2), episode("w-only", "wine", normalized=None),
           episode("p-high", normalized=0.9, human_rank=0.1), episode("p-tie", normalized=0.9, human_rank=0.1,
                                                                          trust="unsigned"),
           episode("w-graded", "wine", normalized=0.0, human_rank=0.0)]
    assert names(best_per_competition(eps)) == ["p-high", "w-graded"]
    ungraded_first = [episode("u", normalized=None), episode("g", normalized=float("nan"), human_rank=0.3)]
    assert names(best_per_competition(ungraded_first)) == ["g"]  # any grade beats none; NaN counts as no score


def test_select_applies_dedup_then_the_cap_then_the_best():
    best_but_long = episode("best", normalized=0.9, code="y" * 100)
    eps = [episode("a", normalized=0.5), episode("a-again", normalized=0.5), best_but_long,
           episode("c", normalized=0.7, code="z")]
    count = {"a": 1, "a-again": 1, "best": 99, "c": 1}
    pick = lambda **kw: names(select(eps, count_tokens=lambda e: count[e.path.parent.name], **kw))  # noqa: E731
    assert pick() == ["a", "best", "c"]
    assert pick(dedup=False) == ["a", "a-again", "best", "c"]
    assert pick(best_only=True) == ["best"]
    assert pick(best_only=True, max_tokens=10) == ["c"]  # the best that fits, not the best cut short


def test_a_verified_grade_beats_any_unverified_claim():
    eps = [episode("real", normalized=0.4, human_rank=0.3), episode("claim", normalized=1e308, human_rank=1.0,
                                                                     trust="unsigned")]
    assert names(best_per_competition(eps)) == ["real"]
    assert names(best_per_competition(eps[::-1])) == ["real"]


def test_notebooks_handed_in_with_odd_values_never_stop_an_export(tmp_path):
    import json

    from nbdojo.tools.export import export

    def notebook(name: str, meta: dict, cell: dict) -> None:
        cells = [{"cell_type": "code", "id": f"c{name}", "source": "x = 1", "execution_count": 1, "outputs": [],
                  "metadata": {"nbdojo": {"step": 1, "action": "execute_code", "status": "ok", **cell}}}]
        folder = tmp_path / "runs" / name
        folder.mkdir(parents=True)
        base = {"competition": "penguins", "seed": 0, "reset_observation": "# Task",
                "final": {"score": 1.0, "human_rank": 0.5}}
        nb = {"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {"nbdojo": {**base, **meta}}}
        (folder / "trajectory.ipynb").write_text(json.dumps(nb))

    notebook("good", {}, {"observation": "[step 1] ok"})
    notebook("seed", {"seed": 2**70}, {"observation": "[step 1] ok"})
    notebook("final", {"final": [1, 2]}, {"observation": "[step 1] ok"})
    notebook("rank", {"final": {"score": 1.0, "human_rank": "abc", "normalized_score": "1"}},
             {"observation": "[step 1] ok"})
    notebook("cells", {"reset_observation": {"a": 1}, "reset_info": {"spec": [1], "budget": 3}},
             {"observation": {"x": 1}, "budget": [1], "args": "zz"})
    for fmt, out in (("sft", "a.jsonl"), ("rl", "b.jsonl"), ("hf", "c")):
        result = export([tmp_path / "runs"], tmp_path / out, fmt=fmt, dedup=False, min_human_rank=0.0)
        assert result["written"] == 5 and result["unverified"] == 5, (fmt, result)


def test_a_folder_with_a_datasets_files_and_more_is_never_replaced(tmp_path):
    import pytest

    from nbdojo.errors import ConfigError
    from nbdojo.tools.export_hf import write_dataset

    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    for name in ("dataset_info.json", "state.json", "data-00000-of-00001.arrow", "README.md"):
        (clone / name).write_text("{}")
    with pytest.raises(ConfigError, match="is not a dataset nbdojo wrote"):
        write_dataset([], clone)
    assert (clone / ".git").is_dir() and (clone / "README.md").is_file()
    (clone / "README.md").unlink()
    (clone / ".git").rmdir()
    write_dataset([], clone)  # a dataset and nothing else: replaced
    assert (clone / "state.json").is_file()


def test_a_forged_copy_found_first_never_displaces_the_verified_original():
    forged, real = episode("a-forged", normalized=1.0, trust="unsigned"), episode("b-real")
    assert content_key(forged) == content_key(real)
    assert names(drop_duplicates([forged, real])) == ["b-real"]
    assert names(drop_duplicates([real, forged])) == ["b-real"]
