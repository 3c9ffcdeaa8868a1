"""Many episodes at once: one worker process per running episode, each with its own sandboxed kernel.

An episode is described by a picklable `EpisodePlan` (competition, seed, agent by name, limits),
so a worker builds its own agent and env; a failed episode is reported and the others go on.
Results come back as they finish (`on_done`), in the order they finish, and are returned in
plan order. A stop signal (Ctrl-C, SIGTERM) to the batch reaches every running episode: each
closes its notebook as interrupted, and `BatchInterrupted` carries what had come back by then.
Each worker is pinned to its own share of the CPUs, and its kernels' BLAS and
OpenMP pools are sized to it: two kernels each spinning threads for every core of the machine
run many times slower than two kernels with half the cores each.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import time
import traceback
import types
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from nbdojo.limits import Limits
from nbdojo.runner import (
    EpisodeInterrupted, EpisodeResult, ignore_stop_signals, interrupting_signal, stop_signals_interrupt,
)
from nbdojo.runstate import process_start, signal_if_alive

#: After a stop signal, how long running episodes get to close their notebooks before the batch gives up on them.
STOP_GRACE_S = 60.0


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
    kernel_env: str | None = None  # the kernel's Python environment (None: the default toolbox)
    reward: str = "final"  # the reward mode (nbdojo.grading.rewards)
    pool_size: int = 0  # warm kernels the worker keeps for its next episodes (nbdojo.kernel.pool; 0: none)
    allow_interrupt: bool = False  # people watching may interrupt its kernel (DojoEnv(allow_interrupt))


@dataclass
class EpisodeFailure:
    """An episode that raised instead of finishing: which one, and the error's last line."""

    competition: str
    seed: int | None
    agent: str
    error: str
    detail: str = ""
    notebook: str | None = None  # an interrupted episode's notebook (closed, marked interrupted)

    def to_dict(self) -> dict[str, Any]:
        data = {"competition": self.competition, "seed": self.seed, "agent": self.agent, "error": self.error}
        return {**data, "notebook": self.notebook} if self.notebook else data


Outcome = EpisodeResult | EpisodeFailure


class BatchInterrupted(EpisodeInterrupted):
    """A stop signal ended the batch early; `outcomes` holds the episodes that came back, in plan order
    (finished ones, and those interrupted: failures whose error starts with "interrupted")."""

    def __init__(self, signal_name: str, outcomes: list[Outcome]):
        super().__init__(signal_name)
        self.outcomes = outcomes


def run_plan(plan: EpisodePlan) -> Outcome:
    """Run one planned episode to its end (in a worker, or in this process)."""
    from nbdojo.agents import agent_from_spec
    from nbdojo.env import DojoEnv
    from nbdojo.kernel.pool import shared_pool
    from nbdojo.runner import run_episode

    env = None
    try:
        with stop_signals_interrupt():
            agent = agent_from_spec(plan.agent, **plan.agent_options)
            with DojoEnv(plan.competition, out_dir=plan.out_dir, limits=plan.limits, agent=agent.name,
                         model=agent.model, sandbox=plan.sandbox, kernel_env=plan.kernel_env,
                         gpus=list(plan.gpus) if plan.gpus is not None else None, reward=plan.reward,
                         pool=shared_pool(plan.pool_size) if plan.pool_size else None,
                         allow_interrupt=plan.allow_interrupt) as env:
                return run_episode(env, agent, seed=plan.seed)
    except EpisodeInterrupted as exc:  # the notebook is closed; say where it is
        notebook = env.notebook_path if env is not None else None
        return EpisodeFailure(plan.competition, plan.seed, plan.agent, f"interrupted ({exc.signal_name})",
                              notebook=str(notebook) if notebook else None)
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


def _claim_slot(slots: list[list[int]], counter: Any, hosts: Any) -> None:
    """Worker initializer: take the next CPU set; kernels started from here inherit it (and the thread counts).

    The worker's pid and start time go in `hosts` (so the batch can pass a stop signal on), and stop signals
    are ignored but while an episode runs (`run_plan`): a Ctrl-C at the terminal must not kill an idle worker."""
    with counter.get_lock():
        index = counter.value % len(slots)
        counter.value += 1
    slot = slots[index]
    hosts[2 * index], hosts[2 * index + 1] = os.getpid(), process_start(os.getpid()) or 0
    ignore_stop_signals()
    os.sched_setaffinity(0, slot)
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(len(slot)))


@contextlib.contextmanager
def _spawning_without_main() -> Iterator[None]:
    """While workers start, the caller's `__main__` is a bare stand-in, so a spawned worker imports nothing of it.

    A worker needs only nbdojo (it runs `run_plan` on a plan of plain values). With the real `__main__`,
    multiprocessing's spawn re-runs the caller's script in every worker: a script without an
    `if __name__ == "__main__":` guard would start its batch again in each one."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")  # no __file__, no __spec__: nothing to re-import
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def run_plans(plans: list[EpisodePlan], *, workers: int = 2,
              on_start: Callable[[EpisodePlan], None] | None = None,
              on_done: Callable[[EpisodePlan, Outcome], None] | None = None) -> list[Outcome]:
    """Run the plans, `workers` at a time, each in a fresh process; outcomes in plan order.

    A stop signal (Ctrl-C, or SIGTERM when called from the main thread) is passed on to the running
    episodes, which close their notebooks; then `BatchInterrupted` is raised with what came back."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    outcomes: dict[int, Outcome] = {}
    # spawn: a worker starts clean (no copied locks, sockets or threads from this process)
    context = multiprocessing.get_context("spawn")
    workers = min(workers, len(plans)) or 1
    slots = cpu_slots(workers)
    hosts = context.Array("q", 2 * workers)  # (pid, start time) of each worker
    running: dict[Future[Outcome], int] = {}

    def finish(future: Future[Outcome]) -> None:
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

    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_claim_slot,
                             initargs=(slots, context.Value("i", 0), hosts)) as pool:
        queue = list(enumerate(plans))
        # the signals stay ignored while the episodes are stopped: a second Ctrl-C must not cut that short
        with stop_signals_interrupt():
            try:
                while queue or running:
                    while queue and len(running) < workers:  # submit only what can start now: on_start is honest
                        index, plan = queue.pop(0)
                        with _spawning_without_main():  # the pool starts its workers on submit
                            running[pool.submit(run_plan, plan)] = index
                        if on_start is not None:
                            on_start(plan)
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        finish(future)
            except KeyboardInterrupt as exc:
                name = interrupting_signal(exc)
                pool.shutdown(wait=False, cancel_futures=True)  # nothing queued starts now
                workers_now = [(hosts[i], hosts[i + 1]) for i in range(0, len(hosts), 2) if hosts[i]]
                _stop_running(running, workers_now, getattr(signal, name), finish)
                raise BatchInterrupted(name, [outcomes[i] for i in sorted(outcomes)]) from None
            except BaseException:
                for future in running:
                    future.cancel()
                raise
    return [outcomes[i] for i in range(len(plans))]


def _stop_running(running: dict[Future[Outcome], int], workers: list[tuple[int, int]], signum: int,
                  finish: Callable[[Future[Outcome]], None]) -> None:
    """Pass a stop signal on to the workers until their episodes come back (each closes its notebook).

    Sent again every second: a worker between two episodes ignores it, and one just starting an episode
    may not listen yet. A worker still busy after STOP_GRACE_S is killed (its kernel dies with it, and
    its notebook, never closed, reads as abandoned)."""
    deadline = time.monotonic() + STOP_GRACE_S
    while running:
        late = time.monotonic() >= deadline
        for pid, start in workers:
            signal_if_alive(pid, start, signal.SIGKILL if late else signum)
        done, _ = wait(running, timeout=1.0, return_when=FIRST_COMPLETED)
        for future in done:
            finish(future)


def plan_episodes(competition: str, seeds: list[int] | range, *, agent: str = "baseline",
                  agent_options: dict[str, Any] | None = None, out_dir: str | Path = "runs",
                  limits: Limits | None = None, sandbox: bool = True, gpus: list[int] | None = None,
                  kernel_env: str | Path | None = None, reward: str = "final",
                  pool_size: int = 0, allow_interrupt: bool = False) -> list[EpisodePlan]:
    """One plan per seed, all else shared (the out folder made absolute: workers may start elsewhere)."""
    from nbdojo.grading.rewards import check_mode

    env_path = str(Path(kernel_env).expanduser().resolve()) if kernel_env else None
    return [EpisodePlan(competition, seed, agent, dict(agent_options or {}), str(Path(out_dir).resolve()),
                        limits or Limits(), sandbox, tuple(gpus) if gpus is not None else None, env_path,
                        check_mode(reward), pool_size, allow_interrupt)
            for seed in seeds]
