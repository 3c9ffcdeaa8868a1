"""Retries: a batch's failed episodes run again, up to N more times, on whatever backend ran them.

Rounds: every plan runs once; the failures (not interruptions: a stop signal is the user's, never retried)
run again in the next round, until they finish or their retries are spent. A stop signal in any round
ends the batch with `BatchInterrupted` carrying every episode that came back in every round.
"""

from __future__ import annotations

from typing import Callable

from nbdojo.batch import BatchInterrupted, EpisodeFailure, EpisodePlan, Outcome

#: run(plans, on_start, on_done) -> outcomes in plan order (raises BatchInterrupted on a stop signal)
Runner = Callable[[list[EpisodePlan], Callable[[EpisodePlan], None] | None,
                   Callable[[EpisodePlan, Outcome], None] | None], list[Outcome]]


def retryable(outcome: Outcome) -> bool:
    return isinstance(outcome, EpisodeFailure) and not outcome.error.startswith("interrupted")


def run_with_retries(run: Runner, plans: list[EpisodePlan], *, retries: int = 0,
                     on_start: Callable[[EpisodePlan], None] | None = None,
                     on_done: Callable[[EpisodePlan, Outcome], None] | None = None,
                     on_retry: Callable[[EpisodePlan, EpisodeFailure, int], None] | None = None) -> list[Outcome]:
    """Outcomes in plan order, each the last attempt's. `on_done` sees each episode's final outcome once;
    `on_retry(plan, failure, attempt)` each failure that is run again (attempt: the one about to start, from 2)."""
    if retries < 0:
        raise ValueError("retries must be 0 or more")
    outcomes: dict[int, Outcome] = {}
    attempts = {i: 1 for i in range(len(plans))}
    pending = list(range(len(plans)))
    while pending:
        waiting = {}  # id(plan object) -> indices still to come back, in order (a plan object may repeat)
        for i in pending:
            waiting.setdefault(id(plans[i]), []).append(i)
        again: list[int] = []

        def done(plan: EpisodePlan, outcome: Outcome) -> None:
            index = waiting[id(plan)].pop(0)
            outcomes[index] = outcome
            if retryable(outcome) and attempts[index] <= retries:
                attempts[index] += 1
                again.append(index)
                if on_retry is not None:
                    on_retry(plan, outcome, attempts[index])  # type: ignore[arg-type]
            elif on_done is not None:
                on_done(plan, outcome)

        try:
            run([plans[i] for i in pending], on_start, done)
        except BatchInterrupted as exc:
            raise BatchInterrupted(exc.signal_name, [outcomes[i] for i in sorted(outcomes)]) from None
        pending = sorted(again)
    return [outcomes[i] for i in range(len(plans))]
