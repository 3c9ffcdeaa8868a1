"""`nbdojo run COMP [COMP...] | --suite NAME --episodes N`: the display of a batch, its jsonl and its aggregates.

The competitions are checked (and, for local workers, prepared and the GPUs checked) before any episode
starts. A live line counts episodes done, running and failed, with an ETA; a line is printed as each
episode ends (and for each failure that is retried). `<out>/batch-<stamp>.jsonl` gets one row per episode
as it comes back and is rewritten in plan order at the end (nbdojo.backends.ledger); the aggregates per
agent × competition (nbdojo.grading.aggregate) are printed and written to `batch-<stamp>.summary.json`.
Stopped early (Ctrl-C, SIGTERM), the batch still prints and writes both, for the episodes that came back
(interrupted ones included, each with its notebook), and exits 130 or 143. `--resume` skips episodes a
batch before finished in the same folder, and counts them in the summary.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nbdojo.backends.ledger import Ledger, result_from_row, row, split_finished
from nbdojo.batch import BatchInterrupted, EpisodeFailure, EpisodePlan, Outcome
from nbdojo.grading.aggregate import OVERALL, Aggregate, aggregate


def run_batch(plans: list[EpisodePlan], *, workers: int, out: Path, console: Console, backend: str = "local",
              address: str | None = None, shared_out: Path | None = None, retries: int = 0, resume: bool = False,
              gpus_per_episode: int | None = None, cpus_per_episode: float = 1.0) -> int:
    """Run the plans with a live display; 0 if every episode finished, 1 if any failed, 128 + the signal's
    number if a stop signal ended the batch (after writing the jsonl and the summary of what came back)."""
    from nbdojo.backends import run_plans_on

    _check(plans, backend, gpus_per_episode, console)
    ledger = Ledger(out)
    todo, finished_before = split_finished(plans, out) if resume else (list(range(len(plans))), {})
    rows: dict[int, dict[str, Any]] = {}
    outcomes: dict[int, Outcome] = {}
    for index, data in finished_before.items():
        rows[index], outcomes[index] = {**data, "resumed": True}, result_from_row(data)
        ledger.append(rows[index])
    if resume:
        console.print(f"resuming: {len(finished_before)} of {len(plans)} episodes already finished in {out}; "
                      f"{len(todo)} to run", highlight=False, soft_wrap=True)
    index_of: dict[int, list[int]] = {}
    for index in todo:
        index_of.setdefault(id(plans[index]), []).append(index)
    attempts = {index: 1 for index in todo}
    errors: dict[int, list[str]] = {}
    live = _Live(len(plans), len(finished_before), len(todo))
    t0 = time.monotonic()
    stopped: BatchInterrupted | None = None
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(live.text(), total=len(plans), completed=len(finished_before))

        def on_start(plan: EpisodePlan) -> None:
            live.running += 1
            progress.update(task, description=live.text())

        def on_retry(plan: EpisodePlan, failure: EpisodeFailure, attempt: int) -> None:
            index = index_of[id(plan)][0]
            attempts[index] = attempt
            errors.setdefault(index, []).append(failure.error)
            live.running -= 1
            progress.console.print(f"  {_who(plan)}: [red]failed[/] {_failure(failure)} · retrying "
                                   f"(attempt {attempt} of {retries + 1})", soft_wrap=True, highlight=False)
            progress.update(task, description=live.text())

        def on_done(plan: EpisodePlan, outcome: Outcome) -> None:
            index = index_of[id(plan)].pop(0)
            outcomes[index] = outcome
            rows[index] = {**row(plan, outcome, attempts[index]), **({"errors": errors[index]} if index in errors
                                                                    else {})}
            ledger.append(rows[index])
            live.finish(isinstance(outcome, EpisodeFailure))
            progress.console.print(_line(plan, outcome), soft_wrap=True, highlight=False)
            progress.update(task, description=live.text(), advance=1)

        try:
            run_plans_on([plans[i] for i in todo], backend=backend, workers=workers, address=address,
                         shared_out=shared_out, retries=retries, gpus_per_episode=gpus_per_episode,
                         cpus_per_episode=cpus_per_episode,
                         on_start=on_start, on_done=on_done, on_retry=on_retry)
        except BatchInterrupted as exc:  # every episode that came back went through on_done
            stopped = exc
    if stopped is not None:
        console.print(f"[yellow]batch interrupted ({stopped.signal_name})[/]: {len(outcomes)} of {len(plans)} "
                      "episodes came back; interrupted ones were closed and marked in their notebooks",
                      highlight=False, soft_wrap=True)
    ordered = [outcomes[i] for i in sorted(outcomes)]
    ledger.finish([rows[i] for i in sorted(rows)])
    aggregates = aggregate(rows[i] for i in sorted(rows))
    summary = ledger.path.with_name(ledger.path.stem + ".summary.json")
    summary.write_text(json.dumps({"plans": len(plans), "came_back": len(outcomes), "resumed": len(finished_before),
                                   "interrupted": stopped.signal_name if stopped else None,
                                   "aggregates": [a.to_dict() for a in aggregates]}, indent=2))
    console.print(_table(plans, outcomes))
    if len({(a.agent, a.competition) for a in aggregates}) > 1 or any(a.k > 1 for a in aggregates):
        console.print(_aggregate_table(aggregates))
    failed = sum(isinstance(o, EpisodeFailure) for o in ordered)
    scores = [o.score for o in ordered if not isinstance(o, EpisodeFailure) and o.score is not None]
    spread = f" ± {statistics.stdev(scores):.4g}" if len(scores) > 1 else ""
    single = len({p.competition for p in plans}) == 1
    mean = f"mean score {statistics.fmean(scores):.6g}{spread} · " if scores and single else ""
    console.print(f"[bold]{len(outcomes) - failed}/{len(plans)} episodes finished[/] · {mean}"
                  f"{time.monotonic() - t0:.0f} s", highlight=False)
    console.print(f"[bold]summary[/] {ledger.path.resolve()}", soft_wrap=True)
    console.print(f"[bold]aggregates[/] {summary.resolve()}", soft_wrap=True)
    if stopped is not None:
        return stopped.exit_code
    return 1 if failed else 0


def _check(plans: list[EpisodePlan], backend: str, gpus_per_episode: int | None, console: Console) -> None:
    """Unknown competitions fail in one line before anything starts; local workers get prepared data and GPUs
    that exist (on Ray, each node prepares its own data and Ray hands out GPUs)."""
    from nbdojo.competitions import get_competition, is_prepared, prepare
    from nbdojo.kernel.gpus import checked_gpus

    specs = [get_competition(c) for c in dict.fromkeys(p.competition for p in plans)]
    if backend == "ray":
        from nbdojo.backends.ray_cluster import import_ray

        import_ray()  # without the extra: one line saying how to install it, before any file is written
    if backend != "local":
        return
    for spec in specs:
        if not is_prepared(spec):
            with console.status(f"preparing {spec.id}"):
                prepare(spec)
    if gpus_per_episode is None and plans:
        checked_gpus(list(plans[0].gpus) if plans[0].gpus is not None else None)


class _Live:
    """The live line: episodes done, running and failed, and an ETA from this run's pace."""

    def __init__(self, total: int, resumed: int, to_run: int):
        self.total, self.done, self.to_run = total, resumed, to_run
        self.ran = self.running = self.failed = 0
        self.t0 = time.monotonic()

    def finish(self, failed: bool) -> None:
        self.done += 1
        self.ran += 1
        self.running = max(0, self.running - 1)
        self.failed += failed

    def text(self) -> str:
        eta = ""
        if self.ran and self.ran < self.to_run:
            left = (time.monotonic() - self.t0) / self.ran * (self.to_run - self.ran)
            eta = f" · ETA {_duration(left)}"
        return f"{self.done}/{self.total} done · {self.running} running · {self.failed} failed{eta}"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def _who(plan: EpisodePlan) -> str:
    return f"{plan.competition} seed {plan.seed}"


def _line(plan: EpisodePlan, outcome: Outcome) -> str:
    if isinstance(outcome, EpisodeFailure):
        return f"  {_who(plan)}: [red]failed[/] {_failure(outcome)}"
    score = "no valid submission" if outcome.score is None else f"score {outcome.score:.6g}"
    node = getattr(outcome, "node", None)  # where a Ray episode ran
    return (f"  {_who(plan)}: {score} · HumanRank {outcome.human_rank:.1%} · {outcome.steps} steps · "
            f"{outcome.duration_s:.0f} s · " + (f"node {node[:12]} · " if node else "") + f"{outcome.notebook}")


def _table(plans: list[EpisodePlan], outcomes: dict[int, Outcome]) -> Table:
    table = Table("competition", "agent", "seed", "score", "HumanRank", "medal", "steps", "time", "notebook")
    for index in sorted(outcomes):
        o, plan = outcomes[index], plans[index]
        who = (plan.competition, plan.agent, str(plan.seed))
        if isinstance(o, EpisodeFailure):
            table.add_row(*who, "[red]failed[/]", "", "", "", "", _failure(o))
        else:
            table.add_row(*who, "-" if o.score is None else f"{o.score:.6g}", f"{o.human_rank:.1%}", o.medal,
                          str(o.steps), f"{o.duration_s:.0f} s", str(o.notebook))
    return table


def _aggregate_table(aggregates: list[Aggregate]) -> Table:
    table = Table("agent", "competition", "episodes", "score", "normalized", "HumanRank", "any medal", "pass@k",
                  title="aggregates over seeds (mean ± standard error)")

    def pm(mean: float | None, se: float | None, percent: bool = False) -> str:
        if mean is None:
            return "-"
        text = f"{mean:.1%}" if percent else f"{mean:.4g}"
        return text + (f" ± {se:.1%}" if percent else f" ± {se:.2g}") if se is not None else text

    for a in aggregates:
        episodes = f"{a.finished}" + (f" (+{a.failed} failed)" if a.failed else "")
        table.add_row(a.agent, f"[bold]{a.competition}[/]" if a.competition == OVERALL else a.competition, episodes,
                      pm(a.score_mean, a.score_se), pm(a.normalized_mean, a.normalized_se),
                      pm(a.human_rank_mean, a.human_rank_se, percent=True),
                      "-" if a.any_medal is None else f"{a.any_medal:.0%}",
                      "-" if a.pass_at_k is None else f"{a.pass_at_k:.2f} (k={a.k})")
    return table


def _failure(outcome: EpisodeFailure) -> str:
    """The error, where it ran (on a Ray node), and where the notebook of an interrupted episode is."""
    node = getattr(outcome, "node", None)
    return outcome.error + (f" · node {node}" if node else "") + (f" · {outcome.notebook}" if outcome.notebook else "")


def competitions_of(names: list[str] | None, suite: str | None) -> list[str]:
    """The competitions a `run` names: its arguments, then the suite's (each once, in order)."""
    from nbdojo.competitions.suites import suite_competitions

    found = list(names or []) + (suite_competitions(suite) if suite else [])
    if not found:
        from nbdojo.errors import ConfigError

        raise ConfigError("Name a competition to run (nbdojo run ID [ID...]), or a suite (--suite lite).")
    return list(dict.fromkeys(found))
