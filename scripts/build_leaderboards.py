#!/usr/bin/env python
"""Build `nbdojo/competitions/builtin/<id>/leaderboard.csv` and `ladder.json` from a dense reference ladder.

    python scripts/build_leaderboards.py                 # every built-in competition
    python scripts/build_leaderboards.py loan-default    # just these
    python scripts/build_leaderboards.py loan-default --extra someone=runs/x/submission.csv

A competition with a `reference.py` (images, text, signals, ranking, forecasting) is scored with its
own rungs (`rungs(data) -> list[Rung]`, helpers in `nbdojo.competitions.reference`); any other gets the
dense tabular search of `nbdojo.competitions.search` (about 150 seeded recipes). The first rung is the
dummy: entries scoring worse than it are left off. The baseline agent's submission and the reference
notebook's recorded score (`notebooks/scores.json`) join the ladder as entries.

Every finished entry is cached under `$NBDOJO_HOME/ladder-cache/<id>/` (keyed by the prepared data's
checksums), so an interrupted build picks up where it stopped. The scores are of seeded reference
solutions, not of Kaggle's human leaderboards.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import sys
import time
import warnings
from pathlib import Path

import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from nbdojo.competitions import CompetitionData, CompetitionSpec, data_dir, get_competition, list_competitions, prepare
from nbdojo.competitions.ladder import (
    Rung,
    build_ladder,
    rung_cache_key as ladder_rung_key,
    submission_frame,
    write_leaderboard,
)
from nbdojo.competitions.ladder_cache import EntryCache
from nbdojo.competitions.ladder_stats import drop_below_dummy, ladder_stats, read_stats, write_stats
from nbdojo.competitions.search import ladder_rungs
from nbdojo.config import nbdojo_home
from nbdojo.errors import NbdojoError
from nbdojo.grading import medal_thresholds

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_SCORES = ROOT / "notebooks" / "scores.json"
#: Every module of the baseline agent (its cells come from all of them): a change to any refits its entry.
BASELINE_SOURCES = tuple(sorted(str(p.relative_to(ROOT)) for p in (ROOT / "nbdojo" / "agents").glob("baseline*.py")))


def _parse_extra(values: list[str]) -> list[tuple[str, pd.DataFrame]]:
    extras = []
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--extra takes NAME=PATH.csv, not {value!r}")
        extras.append((name, pd.read_csv(path, dtype={0: str})))
    return extras


def _fingerprint(spec: CompetitionSpec) -> str:
    return hashlib.sha256((data_dir(spec) / "checksums.json").read_bytes()).hexdigest()[:16]


def _baseline(spec: CompetitionSpec, data: CompetitionData, cache: EntryCache) -> list[tuple[str, pd.DataFrame]]:
    """The baseline agent's submission as an entry (cached by the baseline's source)."""
    from nbdojo.agents.baseline import baseline_submission

    digest = hashlib.sha256(b"".join((ROOT / p).read_bytes() for p in BASELINE_SOURCES if (ROOT / p).is_file()))
    path = cache.folder / f"baseline-{digest.hexdigest()[:16]}.csv"
    if path.is_file():
        return [("baseline-agent", pd.read_csv(path, dtype={spec.id_column: str}, keep_default_na=False))]
    try:
        submission = baseline_submission(str(data.public_dir), spec.agent_view(), seed=0)
    except Exception as exc:  # noqa: BLE001 - report and go on: the ladder is still worth building
        reason = (str(exc).strip().splitlines() or [""])[0]
        print(f"   no baseline-agent entry ({type(exc).__name__}: {reason})", flush=True)
        return []
    submission.to_csv(path, index=False, lineterminator="\n")
    return [("baseline-agent", pd.read_csv(path, dtype={spec.id_column: str}, keep_default_na=False))]


def _notebook_row(spec: CompetitionSpec) -> dict[str, object] | None:
    """The reference notebook's recorded scores (helper-written `notebooks/scores.json`), as a ladder row."""
    if not NOTEBOOK_SCORES.is_file():
        return None
    record = json.loads(NOTEBOOK_SCORES.read_text()).get(spec.id)
    if not record:
        return None
    return {"entry": "notebook", "score": float(record["score"]), "public_score": float(record["public_score"]),
            "method": f"reference notebook (notebooks/{spec.id}.ipynb)", "fraction": float("nan"),
            "seed": float("nan")}


def _reuse_committed(data: CompetitionData, rungs: list[Rung], cache: EntryCache, threads: int | None) -> int:
    """Seed the cache with the committed leaderboard's rows of unchanged rungs (same name and method).

    Only when the data is unchanged: the dummy is rescored first and must match its committed score.
    Reused rows have no predictions, so ensembles of them cannot be recomputed; the noise estimate
    passes over them. This spares refitting slow rungs (CNNs) when a ladder only gains new entries.
    """
    spec = data.spec
    if not spec.leaderboard_path.is_file():
        return 0
    committed = pd.read_csv(spec.leaderboard_path).drop_duplicates("entry").set_index("entry")
    dummy = rungs[0]
    if dummy.name not in committed.index:
        return 0
    fresh = build_ladder(data, rungs=[dummy], threads=threads, cache=cache)["score"].iloc[0]
    if abs(fresh - committed.loc[dummy.name, "score"]) > 1e-6:
        print(f"   the data changed since the committed ladder ({dummy.name} {fresh:.6f} vs "
              f"{committed.loc[dummy.name, 'score']:.6f}): nothing reused", flush=True)
        return 0
    reused = 0
    for rung in rungs[1:]:
        key = ladder_rung_key(rung)
        if rung.name in committed.index and committed.loc[rung.name, "method"] == rung.method \
                and cache.get(rung.name, key) is None:
            row = committed.loc[rung.name].to_dict()
            cache.put(rung.name, key, {"entry": rung.name, **{k: row[k] for k in ("score", "public_score", "method",
                                                                                  "fraction", "seed")}}, None)
            reused += 1
    return reused


def build_one(spec: CompetitionSpec, *, force_prepare: bool, threads: int | None, cache_root: Path,
              extras: list[tuple[str, pd.DataFrame]], baseline: bool, reuse: bool = False) -> None:
    started = time.perf_counter()
    print(f"== {spec.id}: preparing data", flush=True)
    data = prepare(spec, force=force_prepare)
    cache = EntryCache(cache_root / spec.id, _fingerprint(spec))
    print(f"   data ready in {time.perf_counter() - started:.0f}s; {len(cache)} entries cached in {cache.folder}",
          flush=True)
    with threadpool_limits(limits=threads) if threads else contextlib.nullcontext():
        rungs = ladder_rungs(data)
        entries = [*(_baseline(spec, data, cache) if baseline else []), *extras]
        if reuse:
            print(f"   reused {_reuse_committed(data, rungs, cache, threads)} committed rows", flush=True)

    def progress(i: int, n: int, row: dict, seconds: float) -> None:
        print(f"[{i:3d}/{n}] {row['entry']:<40} {row['score']:.5f}  ({seconds:.1f}s)", flush=True)

    board = build_ladder(data, rungs=rungs, extra_entries=entries, progress=progress, threads=threads, cache=cache)
    notebook = _notebook_row(spec)
    if notebook is not None:
        board = pd.concat([board, pd.DataFrame([notebook])], ignore_index=True)
    dummy = rungs[0].name
    kept = drop_below_dummy(board, dummy, spec)
    dropped = sorted(set(board["entry"]) - set(kept["entry"]))
    if dropped:
        print(f"   left off {len(dropped)} entries worse than the dummy {dummy!r}: {', '.join(dropped)}", flush=True)
    board = kept.sort_values(["score", "entry"], ascending=[not spec.higher_is_better, True], kind="stable")
    board = board.reset_index(drop=True)
    test_ids = pd.read_csv(data.test_path, usecols=[spec.id_column], dtype=str)[spec.id_column]
    named_extras = dict(entries)

    def submission_of(entry: str) -> pd.DataFrame | None:
        if entry in named_extras:
            return named_extras[entry]
        prediction = cache.prediction(entry)
        return None if prediction is None else submission_frame(spec, test_ids, prediction)

    stats = ladder_stats(data, board, dummy, submission_of)
    write_leaderboard(board, spec)
    write_stats(stats, spec)
    lines, gaps = stats["medal_lines"], stats["gaps"]
    verdict = "ok" if stats["se_below_half_gaps"] else "TOO NOISY: grow the private part"
    print(f"== {spec.id}: {stats['entries']} entries, {stats['distinct_scores']} distinct; gold {lines['gold']:.5f} "
          f"silver {lines['silver']:.5f} bronze {lines['bronze']:.5f}; SE {stats['se']:.5f} on "
          f"{stats['private_rows']} private rows vs half-gaps {gaps['gold_silver'] / 2:.5f}, "
          f"{gaps['silver_bronze'] / 2:.5f}: {verdict} ({time.perf_counter() - started:.0f}s)", flush=True)
    if stats["distinct_scores"] < 100:
        print(f"   WARNING: {spec.id} has only {stats['distinct_scores']} distinct scores (want 100)", flush=True)


def add_notebook_only(spec: CompetitionSpec) -> None:
    """Put the reference notebook's recorded score on the committed ladder without rebuilding it.

    The medal lines and their gaps are recomputed; the noise measured at build time is kept.
    """
    row = _notebook_row(spec)
    stats = read_stats(spec)
    if row is None or stats is None:
        print(f"== {spec.id}: {'no notebook score' if row is None else 'no ladder.json'}: nothing to add", flush=True)
        return
    board = pd.read_csv(spec.leaderboard_path)
    board = pd.concat([board[board["entry"] != "notebook"], pd.DataFrame([row])], ignore_index=True)
    board = drop_below_dummy(board, stats["dummy"], spec)
    board = board.sort_values(["score", "entry"], ascending=[not spec.higher_is_better, True], kind="stable")
    board = board.reset_index(drop=True)
    lines = dict(zip(("gold", "silver", "bronze"), medal_thresholds(board["score"].to_numpy(), spec.higher_is_better),
                     strict=True))
    gaps = {"gold_silver": abs(lines["gold"] - lines["silver"]), "silver_bronze": abs(lines["silver"] - lines["bronze"])}
    stats.update(entries=int(len(board)), distinct_scores=int(board["score"].round(6).nunique()),
                 medal_lines={k: round(v, 6) for k, v in lines.items()}, gaps={k: round(v, 6) for k, v in gaps.items()},
                 se_below_half_gaps=bool(stats["se"] < 0.5 * min(gaps.values())))
    write_leaderboard(board, spec)
    write_stats(stats, spec)
    print(f"== {spec.id}: notebook {row['score']:.5f} {'on' if 'notebook' in set(board['entry']) else 'below the dummy, left off'}"
          f" the ladder ({len(board)} entries)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="competition ids (default: every built-in competition)")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PATH",
                        help="also score this submission CSV as a leaderboard entry (repeatable)")
    parser.add_argument("--force-prepare", action="store_true", help="rebuild the data first")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads each model may use (scikit-learn and torch); 1, the default, is fastest on a "
                             "busy machine; 0 leaves the libraries' defaults")
    parser.add_argument("--cache", type=Path, default=None,
                        help="folder of finished entries (default: $NBDOJO_HOME/ladder-cache)")
    parser.add_argument("--no-baseline", action="store_true", help="leave the baseline agent's entry out")
    parser.add_argument("--reuse-committed", action="store_true",
                        help="take unchanged rungs' rows from the committed leaderboard instead of refitting them "
                             "(only when the data is unchanged; checked on the dummy)")
    parser.add_argument("--notebooks-only", action="store_true",
                        help="only put notebooks/scores.json's scores on the committed ladders (no rebuild)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=ConvergenceWarning)  # capped iterations are part of a rung's recipe
    threads = args.threads or None
    if threads:
        import torch

        torch.set_num_threads(threads)
    try:
        specs = [get_competition(i) for i in args.ids] or [s for s in list_competitions() if s.layout == "nbdojo"]
        extras = _parse_extra(args.extra)
        if args.notebooks_only:
            for spec in specs:
                add_notebook_only(spec)
            return 0
        for spec in specs:
            build_one(spec, force_prepare=args.force_prepare, threads=threads,
                      cache_root=args.cache or nbdojo_home() / "ladder-cache", extras=extras,
                      baseline=not args.no_baseline, reuse=args.reuse_committed)
    except NbdojoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
