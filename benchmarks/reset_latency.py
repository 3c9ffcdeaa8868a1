#!/usr/bin/env python
"""Reset latency: `DojoEnv.reset()` with a cold kernel against one taken from a warm pool (nbdojo.kernel.pool).

Cold: the first reset of a fresh env, which starts a sandboxed kernel and waits for it. Warm: a
reset after a finished episode, on an env with `pool_size=1`, once the pool has its kernel ready
(the previous episode's kernel is shut down in the pool's thread). A raw jupyter_client kernel
start (no sandbox, the toolbox's python) is timed as the floor a cold start cannot beat. All
three run here, in this run; the script prints the medians, the ratio, and where a warm reset's
time goes.

    python benchmarks/reset_latency.py [--resets 10] [--competition loan-default] [--no-sandbox]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

TARGET_MS = 50.0
TARGET_RATIO = 10.0


def raw_starts(n: int) -> list[float]:
    """A plain jupyter_client kernel start (python3 spec, no sandbox), ready to run a cell."""
    from jupyter_client.manager import start_new_kernel

    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        km, kc = start_new_kernel(kernel_name="python3", startup_timeout=120)
        times.append(time.perf_counter() - t0)
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    return times


def cold_resets(competition: str, n: int, out: str, sandbox: bool) -> list[float]:
    from nbdojo.env import DojoEnv

    times = []
    for seed in range(n):
        with DojoEnv(competition, out_dir=out, sandbox=sandbox, agent="cold") as env:
            t0 = time.perf_counter()
            env.reset(seed=seed)
            times.append(time.perf_counter() - t0)
    return times


class Phases:
    """Wraps the parts of a reset with timers; totals are read per reset."""

    def __init__(self) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self._undo: list[Callable[[], None]] = []

    def wrap(self, owner: Any, name: str, label: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.totals[label] += time.perf_counter() - t0

        setattr(owner, name, timed)
        self._undo.append(lambda: setattr(owner, name, original))

    def take(self) -> dict[str, float]:
        totals, self.totals = dict(self.totals), defaultdict(float)
        return totals

    def undo(self) -> None:
        for step in reversed(self._undo):
            step()


def warm_resets(competition: str, n: int, out: str, sandbox: bool) -> tuple[list[float], list[dict[str, float]]]:
    from nbdojo import env as env_module
    from nbdojo.env import DojoEnv
    from nbdojo.kernel.agent import AgentKernel
    from nbdojo.kernel.pool import KernelPool
    from nbdojo.trajectory import Trajectory

    phases = Phases()
    phases.wrap(KernelPool, "take", "take a pooled kernel")
    phases.wrap(KernelPool, "retire", "hand the old kernel to the pool")
    phases.wrap(AgentKernel, "execute", "parameters + setup cells")
    phases.wrap(Trajectory, "save", "notebook saves")
    phases.wrap(env_module.records, "write_run_record", "run record")
    phases.wrap(env_module, "Trajectory", "new notebook")
    times, breakdown = [], []
    try:
        with DojoEnv(competition, out_dir=out, sandbox=sandbox, agent="warm", pool_size=1, max_steps=1) as env:
            env.reset(seed=0)  # cold: the pool fills for this key from here on
            for seed in range(1, n + 1):
                env.step({"action": "execute_code", "code": "x = 1"})  # the one step: the episode ends
                if not env._pool.wait_ready(timeout=300):
                    raise SystemExit("the pool did not refill in 300 s")
                time.sleep(2.0)  # the pool then shuts the retired kernel down: time the reset alone
                phases.take()
                t0 = time.perf_counter()
                env.reset(seed=seed)
                times.append(time.perf_counter() - t0)
                breakdown.append(phases.take())
    finally:
        phases.undo()
    return times, breakdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--competition", default="loan-default")
    parser.add_argument("--no-sandbox", action="store_true")
    args = parser.parse_args()

    from nbdojo.competitions import prepare

    prepare(args.competition)
    sandbox = not args.no_sandbox
    with tempfile.TemporaryDirectory() as out:
        raw = raw_starts(args.resets)
        cold = cold_resets(args.competition, args.resets, out, sandbox)
        warm, breakdown = warm_resets(args.competition, args.resets, out, sandbox)
    ms = lambda xs: statistics.median(xs) * 1000
    ratio = ms(cold) / ms(warm)
    print(f"competition: {args.competition}, {args.resets} resets each, sandbox: {sandbox}")
    print(f"raw jupyter_client kernel start : median {ms(raw):7.1f} ms")
    print(f"cold reset()                    : median {ms(cold):7.1f} ms  ({ms(cold) / ms(raw):.2f}x the raw start)")
    print(f"warm reset() (pool_size=1)      : median {ms(warm):7.1f} ms  (min {min(warm) * 1000:.1f}, "
          f"max {max(warm) * 1000:.1f})")
    print(f"ratio cold / warm               : {ratio:7.1f}x")
    print("a warm reset's time (median per reset):")
    labels = sorted({label for b in breakdown for label in b})
    accounted = 0.0
    for label in labels:
        median = statistics.median(b.get(label, 0.0) for b in breakdown) * 1000
        accounted += median
        print(f"  {label:<32}: {median:6.1f} ms")
    print(f"  {'the rest (env bookkeeping)':<32}: {max(0.0, ms(warm) - accounted):6.1f} ms")
    met = ms(warm) <= TARGET_MS and ratio >= TARGET_RATIO
    print(f"targets: warm median <= {TARGET_MS:.0f} ms and >= {TARGET_RATIO:.0f}x faster than cold: "
          f"{'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
