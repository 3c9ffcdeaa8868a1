"""The episode's budget as a part of its own, and the one run-folder maker (no kernel)."""

from __future__ import annotations

from nbdojo.budget import Budget
from nbdojo.limits import Limits
from nbdojo.records import new_run_folder


def test_steps_tokens_and_public_scorings_run_out_with_a_reason() -> None:
    budget = Budget(Limits(max_steps=2, max_tokens=100, max_validations=1))
    assert budget.exhausted() is None and budget.count_step() == 1
    budget.record_usage(prompt_tokens=60, completion_tokens=10, cost=0.5)
    assert budget.take_usage() == {"usage": {"prompt_tokens": 60, "completion_tokens": 10, "cost": 0.5}}
    assert budget.take_usage() == {}  # attached to one step only; the totals keep it
    assert budget.left()["tokens_left"] == 30 and budget.usage["cost"] == 0.5
    assert budget.can_score and budget.use_scoring() == 0 and not budget.can_score
    budget.record_usage(prompt_tokens=40)
    assert "token budget" in budget.exhausted()
    budget.count_step()
    assert "step budget (2 steps)" in budget.exhausted()
    assert 1.0 <= budget.cell_timeout() <= Limits().cell_timeout_s
    assert budget.summary().startswith("2 steps, 14400 s of wall clock")


def test_run_folders_are_new_and_named_from_their_parts(tmp_path) -> None:
    first = new_run_folder(tmp_path, "penguins", "llm/gpt 4o", "s3")
    second = new_run_folder(tmp_path, "penguins", "llm/gpt 4o", "s3")
    assert first.name.startswith("penguins-llm-gpt-4o-s3-") and first != second and second.is_dir()
