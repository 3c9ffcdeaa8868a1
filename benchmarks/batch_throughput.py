#!/usr/bin/env python
"""Batch throughput: the same baseline episodes one at a time, then `--workers` at a time.

Data generation (SFT and RL) runs many episodes; each has its own sandboxed kernel, so
they can overlap. Both sides run the same seeds in this run, on this machine; the script
prints episodes per minute for each and the ratio. On a machine with C cores, W workers get
C/W cores each (see nbdojo/batch.py), so the gain is highest where a single episode leaves
cores idle (loading data, waiting on the agent).

    python benchmarks/batch_throughput.py [--episodes 4] [--workers 2] [--competition loan-default]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from nbdojo.batch import EpisodeFailure, EpisodePlan, run_plans
from nbdojo.competitions import get_competition, is_prepared, prepare
from nbdojo.env import Limits


def timed(plans: list[EpisodePlan], workers: int) -> float:
    t0 = time.monotonic()
    outcomes = run_plans(plans, workers=workers)
    failed = [o for o in outcomes if isinstance(o, EpisodeFailure)]
    if failed:
        raise SystemExit(f"{len(failed)} episodes failed: {failed[0].error}")
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--competition", default="loan-default")
    args = parser.parse_args()
    spec = get_competition(args.competition)
    if not is_prepared(spec):
        prepare(spec)
    with tempfile.TemporaryDirectory() as out:
        plans = [EpisodePlan(args.competition, seed, "baseline", out_dir=out, limits=Limits(max_steps=20))
                 for seed in range(args.episodes)]
        serial = timed(plans, workers=1)
        parallel = timed(plans, workers=args.workers)
    print(f"competition: {args.competition}, {args.episodes} baseline episodes")
    print(f"one at a time     : {serial:6.1f} s  ({60 * args.episodes / serial:5.1f} episodes/min)")
    print(f"{args.workers} at a time       : {parallel:6.1f} s  ({60 * args.episodes / parallel:5.1f} episodes/min)")
    print(f"ratio (throughput, {args.workers} workers / 1): {serial / parallel:.2f}x")


if __name__ == "__main__":
    main()
