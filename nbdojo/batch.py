"""Many episodes at once: one worker process per running episode, each with its own sandboxed kernel.

An episode is described by a picklable `EpisodePlan` (competition, seed, agent by name, limits),
so a worker builds its own agent and env; a failed episode is reported and the others go on.
Results come back as they finish (`on_done`), in the order they finish, and are returned in
plan order. Each worker is pinned to its own share of the CPUs, and its kernels' BLAS and
OpenMP pools are sized to it: two kernels each spinning threads for every core of the machine
run many times slower than two kernels with half the cores each.
"""

from __future__ import annotations

import multiprocessing
import os
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nbdojo.env import Limits
from nbdojo.runner import EpisodeResult


@dataclass(frozen=True)
class EpisodePlan:
    """One episode to run: everything a worker process needs to build the agent and the env."""

    competition: str
    seed: int | None
    agent: str = "baseline"  # baseline, llm, replay:NOTEBOOK
    agent_options: dict[str, Any] = field(default_factory=dict)  # e.g. model, base_url for llm
    out_dir: str = "runs"
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    gpus: tuple[int, ...] | None = None


@dataclass
class EpisodeFailure:
    """An episode that raised instead of finishing: which one, and the error's last line."""

    competition: str
    seed: int | None
    agent: str
    error: str
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"competition": self.competition, "seed": self.seed, "agent": self.agent, "error": self.error}


Outcome = EpisodeResult | EpisodeFailure


def run_plan(plan: EpisodePlan) -> Outcome:
    """Run one planned episode to its end (in a worker, or in this process)."""
    from nbdojo.agents import agent_from_spec
    from nbdojo.env import DojoEnv
    from nbdojo.runner import run_episode

    try:
        agent = agent_from_spec(plan.agent, **plan.agent_options)
        with DojoEnv(plan.competition, out_dir=plan.out_dir, limits=plan.limits, agent=agent.name,
                     model=agent.model, sandbox=plan.sandbox,
                     gpus=list(plan.gpus) if plan.gpus is not None else None) as env:
            return run_episode(env, agent, seed=plan.seed)
    except Exception as exc:  # reported with the others; one broken episode does not stop a batch
        return EpisodeFailure(plan.competition, plan.seed, plan.agent, f"{type(exc).__name__}: {exc}",
                              traceback.format_exc())


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def cpu_slots(workers: int) -> list[list[int]]:
    """Disjoint CPU sets, one per worker (one CPU each, shared in turn, when workers outnumber CPUs)."""
    cpus = sorted(os.sched_getaffinity(0))
    if workers >= len(cpus):
        return [[cpus[i % len(cpus)]] for i in range(workers)]
    per = len(cpus) // workers
    return [cpus[i * per:(i + 1) * per] for i in range(workers)]


def _claim_slot(slots: list[list[int]], counter: Any) -> None:
    """Worker initializer: take the next CPU set; kernels started from here inherit it (and the thread counts)."""
    with counter.get_lock():
        slot = slots[counter.value % len(slots)]
        counter.value += 1
    os.sched_setaffinity(0, slot)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(len(slot)))


def run_plans(plans: list[EpisodePlan], *, workers: int = 2,
              on_start: Callable[[EpisodePlan], None] | None = None,
              on_done: Callable[[EpisodePlan, Outcome], None] | None = None) -> list[Outcome]:
    """Run the plans, `workers` at a time, each in a fresh process; outcomes in plan order."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    outcomes: dict[int, Outcome] = {}
    # spawn: a worker starts clean (no copied locks, sockets or threads from this process)
    context = multiprocessing.get_context("spawn")
    workers = min(workers, len(plans)) or 1
    slots = cpu_slots(workers)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_claim_slot,
                             initargs=(slots, context.Value("i", 0))) as pool:
        queue = list(enumerate(plans))
        running: dict[Future[Outcome], int] = {}
        try:
            while queue or running:
                while queue and len(running) < workers:  # submit only what can start now: on_start is honest
                    index, plan = queue.pop(0)
                    running[pool.submit(run_plan, plan)] = index
                    if on_start is not None:
                        on_start(plan)
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    try:
                        outcome = future.result()
                    except Exception as exc:  # the worker process itself died
                        plan = plans[index]
                        outcome = EpisodeFailure(plan.competition, plan.seed, plan.agent,
                                                 f"worker failed: {type(exc).__name__}: {exc}")
                    outcomes[index] = outcome
                    if on_done is not None:
                        on_done(plans[index], outcome)
        except BaseException:
            for future in running:
                future.cancel()
            raise
    return [outcomes[i] for i in range(len(plans))]


def plan_episodes(competition: str, seeds: list[int] | range, *, agent: str = "baseline",
                  agent_options: dict[str, Any] | None = None, out_dir: str | Path = "runs",
                  limits: Limits | None = None, sandbox: bool = True,
                  gpus: list[int] | None = None) -> list[EpisodePlan]:
    """One plan per seed, all else shared (the out folder made absolute: workers may start elsewhere)."""
    return [EpisodePlan(competition, seed, agent, dict(agent_options or {}), str(Path(out_dir).resolve()),
                        limits or Limits(), sandbox, tuple(gpus) if gpus is not None else None) for seed in seeds]


def run_episodes(competition: str, *, agent: str = "baseline", seeds: list[int] | range = range(4),
                 workers: int = 2, out_dir: str | Path = "runs", limits: Limits | None = None,
                 sandbox: bool = True, gpus: list[int] | None = None, **agent_options: Any) -> list[Outcome]:
    """Run one competition once per seed, `workers` episodes at a time; each gets its own kernel and notebook."""
    plans = plan_episodes(competition, seeds, agent=agent, agent_options=agent_options, out_dir=out_dir,
                          limits=limits, sandbox=sandbox, gpus=gpus)
    return run_plans(plans, workers=workers)
