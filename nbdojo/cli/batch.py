"""`nbdojo run ID --episodes N --workers K`: the display of a batch, and its summary file.

The competition is prepared (and GPUs checked) once, here, before any worker starts; then a
progress bar counts finished episodes, a line is printed as each one ends, and a table and
`<out>/batch-<stamp>.jsonl` (one JSON object per episode, in seed order) close the batch.
Stopped early (Ctrl-C, SIGTERM), the batch still prints and writes them, for the episodes that came
back (interrupted ones included, each with its notebook), and exits 130 or 143.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nbdojo.batch import BatchInterrupted, EpisodeFailure, EpisodePlan, Outcome, run_plans


def run_batch(plans: list[EpisodePlan], *, workers: int, out: Path, console: Console) -> int:
    """Run the plans with a progress display; 0 if every episode finished, 1 if any failed, 128 + the
    signal's number if a stop signal ended the batch (after writing the summary of what came back)."""
    from nbdojo.competitions import get_competition, is_prepared, prepare
    from nbdojo.kernel.gpus import checked_gpus

    for competition in sorted({p.competition for p in plans}):
        spec = get_competition(competition)
        if not is_prepared(spec):
            with console.status(f"preparing {competition}"):
                prepare(spec)
    checked_gpus(list(plans[0].gpus) if plans[0].gpus is not None else None)
    t0 = time.monotonic()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"{plans[0].competition} · {len(plans)} episodes, {workers} at a time",
                                 total=len(plans))

        def on_done(plan: EpisodePlan, outcome: Outcome) -> None:
            progress.console.print(_line(outcome), soft_wrap=True, highlight=False)
            progress.advance(task)

        try:
            outcomes, stopped = run_plans(plans, workers=workers, on_done=on_done), None
        except BatchInterrupted as exc:
            outcomes, stopped = exc.outcomes, exc
    if stopped is not None:
        console.print(f"[yellow]batch interrupted ({stopped.signal_name})[/]: {len(outcomes)} of {len(plans)} "
                      "episodes came back; interrupted ones were closed and marked in their notebooks",
                      highlight=False, soft_wrap=True)
    console.print(_table(outcomes))
    summary = out / f"batch-{datetime.now().strftime('%Y%m%d-%H%M%S')}.jsonl"
    summary.parent.mkdir(parents=True, exist_ok=True)
    summary.write_text("".join(json.dumps(o.to_dict(), sort_keys=True) + "\n" for o in outcomes))
    scores = [o.score for o in outcomes if not isinstance(o, EpisodeFailure) and o.score is not None]
    spread = f" ± {statistics.stdev(scores):.4g}" if len(scores) > 1 else ""
    mean = f"mean score {statistics.fmean(scores):.6g}{spread} · " if scores else ""
    failed = sum(isinstance(o, EpisodeFailure) for o in outcomes)
    console.print(f"[bold]{len(outcomes) - failed}/{len(plans)} episodes finished[/] · {mean}"
                  f"{time.monotonic() - t0:.0f} s", highlight=False)
    console.print(f"[bold]summary[/] {summary.resolve()}", soft_wrap=True)
    if stopped is not None:
        return stopped.exit_code
    return 1 if failed else 0


def _line(outcome: Outcome) -> str:
    if isinstance(outcome, EpisodeFailure):
        return f"  seed {outcome.seed}: [red]failed[/] {_failure(outcome)}"
    score = "no valid submission" if outcome.score is None else f"score {outcome.score:.6g}"
    return (f"  seed {outcome.seed}: {score} · HumanRank {outcome.human_rank:.1%} · {outcome.steps} steps · "
            f"{outcome.duration_s:.0f} s · {outcome.notebook}")


def _table(outcomes: list[Outcome]) -> Table:
    table = Table("seed", "score", "HumanRank", "medal", "steps", "time", "notebook")
    for o in outcomes:
        if isinstance(o, EpisodeFailure):
            table.add_row(str(o.seed), "[red]failed[/]", "", "", "", "", _failure(o))
        else:
            table.add_row(str(o.seed), "-" if o.score is None else f"{o.score:.6g}", f"{o.human_rank:.1%}", o.medal,
                          str(o.steps), f"{o.duration_s:.0f} s", str(o.notebook))
    return table


def _failure(outcome: EpisodeFailure) -> str:
    """The error, and where the notebook of an interrupted episode is."""
    return outcome.error + (f" · {outcome.notebook}" if outcome.notebook else "")
