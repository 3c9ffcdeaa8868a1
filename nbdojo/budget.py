"""An episode's budgets as a part the env owns: steps, wall clock, public scorings, LLM tokens and cost.

`DojoEnv` asks it what is left and whether anything ran out; it never counts on its own.
A leaf but for `Limits`.
"""

from __future__ import annotations

import time
from typing import Any

from nbdojo.limits import Limits

__all__ = ["Budget", "empty_usage"]


def empty_usage() -> dict[str, Any]:
    return {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}


class Budget:
    """What one episode has used of its `Limits`, from `reset()` on."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.steps = 0
        self.validations = 0
        self.usage = empty_usage()
        self._pending: dict[str, Any] | None = None  # usage not yet attached to a step's cells
        self._t0 = time.monotonic()

    def count_step(self) -> int:
        """One more step; its number."""
        self.steps += 1
        return self.steps

    @property
    def can_score(self) -> bool:
        """A public scoring is left (validate reports the public score only while one is)."""
        return self.validations < self.limits.max_validations

    def use_scoring(self) -> int:
        """Spend a public scoring; how many are left."""
        self.validations += 1
        return self.limits.max_validations - self.validations

    def record_usage(self, prompt_tokens: int = 0, completion_tokens: int = 0, cost: float = 0.0) -> None:
        """Account an agent's LLM usage: to the episode's totals and to the next step's cells."""
        pending = self._pending or empty_usage()
        for key, value in (("prompt_tokens", prompt_tokens), ("completion_tokens", completion_tokens), ("cost", cost)):
            pending[key] += value
            self.usage[key] += value
        self._pending = pending

    def take_usage(self) -> dict[str, Any]:
        """The usage since the last step, as cell metadata (`{"usage": ...}`, or nothing)."""
        usage, self._pending = self._pending, None
        return {"usage": usage} if usage else {}

    @property
    def tokens_used(self) -> int:
        return int(self.usage["prompt_tokens"] + self.usage["completion_tokens"])

    def seconds_left(self) -> float:
        return self.limits.wall_clock_s - (time.monotonic() - self._t0)

    def cell_timeout(self) -> float:
        """A cell may run its own limit, but never past the wall clock left (and at least a second)."""
        return max(1.0, min(self.limits.cell_timeout_s, self.seconds_left()))

    def exhausted(self) -> str | None:
        """Why the episode is out of budget, or None."""
        lim = self.limits
        if self.steps >= lim.max_steps:
            return f"the step budget ({lim.max_steps} steps) is used up"
        if self.seconds_left() <= 0:
            return f"the wall-clock budget ({lim.wall_clock_s:.0f} s) is used up"
        if lim.max_tokens is not None and self.tokens_used >= lim.max_tokens:
            return f"the token budget ({lim.max_tokens} tokens) is used up"
        return None

    def left(self) -> dict[str, Any]:
        """What is left, as `info["budget"]` tells the agent."""
        lim = self.limits
        left: dict[str, Any] = {
            "steps_left": lim.max_steps - self.steps,
            "seconds_left": max(0, int(self.seconds_left())),
            "validations_left": lim.max_validations - self.validations,
            "cell_timeout_s": lim.cell_timeout_s,
        }
        if lim.max_tokens is not None:
            left["tokens_left"] = lim.max_tokens - self.tokens_used
        return left

    def summary(self) -> str:
        """The budget in one sentence, for the reset observation."""
        lim = self.limits
        return (f"{lim.max_steps} steps, {lim.wall_clock_s:.0f} s of wall clock, {lim.cell_timeout_s:.0f} s per "
                f"cell, {lim.max_validations} public scorings" + (f", {lim.max_tokens} tokens" if lim.max_tokens else "")
                + ".")
