#!/usr/bin/env python
"""Build `nbdojo/competitions/builtin/<id>/leaderboard.csv` from a seeded reference ladder.

    python scripts/build_leaderboards.py                 # every competition
    python scripts/build_leaderboards.py loan-default    # just these
    python scripts/build_leaderboards.py loan-default --extra baseline-agent=runs/x/submission.csv

A competition with a `reference.py` (image, text and signal tasks) is scored with its own
rungs (`rungs(data) -> list[nbdojo.competitions.ladder.Rung]`, helpers in `nbdojo.competitions.reference`); any other
gets the generic tabular ladder of `nbdojo.competitions.ladder`. The scores are of seeded reference solutions, not of Kaggle's
human leaderboards.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
import warnings

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from nbdojo.agents.baseline import baseline_submission
from nbdojo.competitions import CompetitionData, CompetitionSpec, get_competition, list_competitions, prepare
from nbdojo.errors import NbdojoError
from nbdojo.competitions.ladder import build_ladder, write_leaderboard


def _parse_extra(values: list[str]) -> list[tuple[str, pd.DataFrame]]:
    extras = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--extra takes NAME=PATH.csv, not {value!r}")
        extras.append((name, pd.read_csv(path, dtype={0: str})))
    return extras


def _baseline(spec: CompetitionSpec, data: CompetitionData) -> list[tuple[str, pd.DataFrame]]:
    """The baseline agent's submission as an entry, when its tabular recipe applies to this data."""
    try:
        return [("baseline-agent", baseline_submission(str(data.public_dir), spec.agent_view(), seed=0))]
    except Exception as exc:  # noqa: BLE001 - e.g. image folders: no feature columns for its recipe
        reason = (str(exc).strip().splitlines() or [""])[0]
        print(f"   no baseline-agent entry (its tabular recipe does not apply here: {type(exc).__name__} {reason})")
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="competition ids (default: every built-in competition)")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                        help="also score this submission CSV as a leaderboard entry (repeatable)")
    parser.add_argument("--force-prepare", action="store_true", help="rebuild the data first")
    parser.add_argument("--threads", type=int, default=None,
                        help="cap the threads each model uses (scikit-learn and torch); 1 is fastest on a busy machine")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # capped iterations are part of a rung's recipe
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    try:
        specs = [get_competition(i) for i in args.ids] or [s for s in list_competitions() if s.layout == "nbdojo"]
        extras = _parse_extra(args.extra)
        for spec in specs:
            started = time.perf_counter()
            print(f"== {spec.id}: preparing data", flush=True)
            data = prepare(spec, force=args.force_prepare)
            print(f"   data ready in {time.perf_counter() - started:.0f}s", flush=True)

            def progress(i: int, n: int, row: dict, seconds: float) -> None:
                print(f"[{i:2d}/{n}] {row['entry']:<36} {row['score']:.5f}  ({seconds:.1f}s)", flush=True)

            with threadpool_limits(limits=args.threads) if args.threads else contextlib.nullcontext():
                entries = [*_baseline(spec, data), *extras]
            board = build_ladder(data, extra_entries=entries, progress=progress, threads=args.threads)
            path = write_leaderboard(board, spec)
            scores = board["score"]
            print(f"== {spec.id}: {len(board)} entries, {scores.round(6).nunique()} distinct scores, "
                  f"{scores.min():.5f}..{scores.max():.5f}, written to {path} "
                  f"in {time.perf_counter() - started:.0f}s", flush=True)
    except NbdojoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
