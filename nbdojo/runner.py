"""Running episodes: an agent against a `DojoEnv`, step by step, until it submits or runs out of budget.

A stop signal ends an episode as Ctrl-C does: SIGINT raises KeyboardInterrupt, and inside
`stop_signals_interrupt()` SIGTERM (a service manager, `kill`, a batch stopping its workers)
raises `EpisodeInterrupted`, a KeyboardInterrupt too. `run_episode` then closes the notebook
with an "Episode interrupted" cell and `ended` set, and lets the interrupt go on.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from nbdojo.notebook import nbdojo_meta
from nbdojo.actions import ExecuteCode, parse_action
from nbdojo.agents.base import Agent
from nbdojo.env import DojoEnv
from nbdojo.errors import InvalidActionError
from nbdojo.trajectory import utcnow

StepCallback = Callable[[str, dict[str, Any]], None]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class EpisodeInterrupted(KeyboardInterrupt):
    """A stop signal arrived: the episode was closed early. `except KeyboardInterrupt` catches it too."""

    def __init__(self, signal_name: str = "SIGINT"):
        super().__init__(signal_name)
        self.signal_name = signal_name

    @property
    def exit_code(self) -> int:
        """The shell's code for a process ended by this signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + int(getattr(signal, self.signal_name, signal.SIGINT))


def interrupting_signal(exc: KeyboardInterrupt) -> str:
    """Which signal an interrupt came from (a plain KeyboardInterrupt is Python's own SIGINT handler)."""
    return exc.signal_name if isinstance(exc, EpisodeInterrupted) else "SIGINT"


def ignore_stop_signals() -> None:
    """For a process that runs episodes for a batch (a worker, a Ray actor): stop signals are ignored but
    while an episode runs (`stop_signals_interrupt`), so one arriving between episodes kills nothing."""
    for number in STOP_SIGNALS:
        signal.signal(number, signal.SIG_IGN)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """Inside, SIGTERM and SIGINT raise `EpisodeInterrupted` in the main thread, once: while the episode
    is closed, more of them are ignored (a second Ctrl-C must not cut the notebook's last save short).
    The previous handlers come back on the way out. Elsewhere than the main thread it changes nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        for number in STOP_SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        raise EpisodeInterrupted(signal.Signals(signum).name)

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)


@dataclass
class EpisodeResult:
    """What one episode came to; `final` holds the grader's full record."""

    competition: str
    agent: str
    model: str | None
    seed: int | None
    score: float | None
    human_rank: float
    medal: str
    position: int | None
    reward: float
    steps: int
    terminated: bool
    truncated: bool
    notebook: Path
    duration_s: float
    usage: dict[str, Any] = field(default_factory=dict)
    final: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["notebook"] = str(self.notebook)
        return data


@dataclass
class _Running:
    """A step an interrupt may cut short: its number, the agent's action and when the env began it."""

    step: int
    action: Any
    started: str = field(default_factory=utcnow)
    t0: float = field(default_factory=time.monotonic)


def run_episode(env: DojoEnv, agent: Agent, *, seed: int | None = None, on_step: StepCallback | None = None) -> EpisodeResult:
    """Drive one episode; `on_step(observation, info)` is called after every step (progress displays).

    Interrupted (Ctrl-C, or a stop signal inside `stop_signals_interrupt()`), the notebook gets an
    "Episode interrupted" cell and is closed before the KeyboardInterrupt goes on."""
    t0 = time.monotonic()
    done = 0  # steps finished
    running: _Running | None = None  # the step env.step is carrying out
    try:
        options = {"agent": agent.name, "model": agent.model}
        if getattr(agent, "participant", None):  # a replayed person's notebook names its author
            options["participant"] = agent.participant
        obs, info = env.reset(seed=seed, options=options)
        agent.reset(obs, info)
        reward_total = 0.0
        terminated = truncated = False
        while not (terminated or truncated):
            action = agent.act(obs, info)
            usage = agent.usage()
            if usage:
                env.record_usage(**usage)
            running = _Running(info["step"] + 1, action)
            obs, reward, terminated, truncated, info = env.step(action)
            done, running = info["step"], None
            reward_total += reward
            if on_step is not None:
                on_step(obs, info)
    except KeyboardInterrupt as exc:
        close_interrupted(env, interrupting_signal(exc), running, done=done)
        raise
    final = dict(info.get("final") or {})
    return EpisodeResult(
        competition=env.competition.id, agent=agent.name, model=agent.model, seed=seed,
        score=final.get("score"), human_rank=float(final.get("human_rank") or 0.0), medal=final.get("medal", "none"),
        position=final.get("position"), reward=reward_total, steps=info["step"], terminated=terminated,
        truncated=truncated, notebook=env.notebook_path, duration_s=time.monotonic() - t0, usage=env.usage,
        final=final,
    )


def close_interrupted(env: DojoEnv, signal_name: str, running: _Running | None = None, *, done: int = 0) -> None:
    """Mark a running episode's notebook as interrupted by `signal_name`, then close the env (notebook
    ended, kernel shut down). The code of a cell cut short is kept, as a cell with status "interrupted"
    (its outputs are lost with the kernel). `done`: the steps finished. An episode already over keeps its
    notebook as it is."""
    trajectory = env.trajectory
    try:
        if trajectory is None or trajectory.meta.get("ended"):
            return
        where = "before its first step"
        if running is not None:
            try:
                act: Any = parse_action(running.action)
            except InvalidActionError:
                act = None
            name = act.name if act is not None else "invalid"
            where = f"during step {running.step} ({name})"
            recorded = any(nbdojo_meta(c).get("step") == running.step and
                           nbdojo_meta(c).get("action") == name for c in trajectory.cells)
            if isinstance(act, ExecuteCode) and not recorded:
                trajectory.add_code(act.code, step=running.step, action=name, status="interrupted",
                                    started=running.started, duration_s=time.monotonic() - running.t0, outputs=[],
                                    execution_count=None)
        elif done:
            where = f"after step {done}"
        how = "Ctrl-C" if signal_name == "SIGINT" else "nbdojo was asked to stop"
        trajectory.add_markdown(f"**Episode interrupted** ({signal_name}) {where}: {how}, so the episode ends "
                                "here, without a submission.", step=running.step if running else done,
                                action="interrupted", status="interrupted", signal=signal_name)
        trajectory.save()
    finally:
        env.close()
