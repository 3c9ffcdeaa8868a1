"""The `nbdojo` command line: a thin layer over the public functions."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from nbdojo.errors import NbdojoError

app = typer.Typer(help="Agents solve ML competitions in a persistent Jupyter kernel.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
competitions_app = typer.Typer(help="List, inspect and prepare competitions.", no_args_is_help=True)
kernel_app = typer.Typer(help="The nbdojo Jupyter kernel spec.", no_args_is_help=True)
app.add_typer(competitions_app, name="competitions")
app.add_typer(kernel_app, name="kernel")


console = Console()
err_console = Console(stderr=True)

STATUS_STYLE = {"ok": "green", "error": "red", "timeout": "yellow", "died": "magenta", "invalid": "yellow"}


def _print_version(value: bool) -> None:
    if value:
        from nbdojo._package import __version__

        console.print(f"nbdojo {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log what nbdojo does."),
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print nbdojo's version and exit."),
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


# ----- competitions ----------------------------------------------------------------------

@competitions_app.command("list")
def competitions_list() -> None:
    """Every competition: built-in and added ones, with their size and whether their data is built."""
    from nbdojo.competitions import is_prepared, list_competitions

    specs = list_competitions()
    table = Table(title=f"nbdojo competitions ({len(specs)} in {len({s.category for s in specs})} categories)",
                  box=box.SIMPLE_HEAD, padding=0)
    # Every value stays whole; below 100 columns the category gives way (`competitions show` has it).
    wide = console.width >= 100
    for col, justify in (("id", "left"), *((("category", "left"),) if wide else ()), ("task", "left"),
                         ("metric", "left"), ("origin", "left"), ("train/test", "right"), ("disk", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for spec in specs:
        prepared = is_prepared(spec)
        table.add_row(spec.id, *((spec.category,) if wide else ()), spec.task, spec.metric, spec.origin,
                      _rows(spec, prepared), _human_size(_size_on_disk(spec), short=True) if prepared else "-")
    console.print(table)
    console.print("disk '-': not prepared yet (`nbdojo competitions prepare ID`, or on first use)", style="dim",
                  highlight=False)


@competitions_app.command("show")
def competitions_show(competition: str) -> None:
    """A competition's description and settings."""
    from rich.markdown import Markdown

    from nbdojo.competitions import data_dir, get_competition, is_prepared

    spec = get_competition(competition)
    console.print(Markdown(spec.description))
    prepared = is_prepared(spec)
    facts = {
        "id": spec.id, "category": spec.category, "task": spec.task,
        "metric": f"{spec.metric} ({'higher' if spec.higher_is_better else 'lower'} is better)",
        "submission columns": ", ".join(spec.submission_columns), "rows (train/test)": _rows(spec, prepared),
        "layout": spec.layout + (f" (graded by {spec.grader})" if spec.grader else ""),
        "origin": spec.origin, "source": spec.source, "folder": str(spec.folder),
        "data": f"{data_dir(spec)} ({_human_size(_size_on_disk(spec))})" if prepared else
        f"not prepared: run `nbdojo competitions prepare {spec.id}`",
    }
    for key, value in facts.items():
        console.print(f"[bold]{key}[/]: {value}", highlight=False, soft_wrap=True)


@competitions_app.command("prepare")
def competitions_prepare(
    competition: Optional[list[str]] = typer.Argument(None, help="Competition ids."),
    all_: bool = typer.Option(False, "--all", help="Prepare every competition."),
    force: bool = typer.Option(False, "--force", help="Rebuild even if already prepared."),
) -> None:
    """Build competition data offline (deterministic; checksums recorded and verified)."""
    import time

    from nbdojo.competitions import get_competition, list_competitions, prepare

    if all_ and competition:
        raise NbdojoError("Name competitions to prepare, or pass --all, not both.")
    specs = list_competitions() if all_ else [get_competition(c) for c in competition or []]
    if not specs:
        raise NbdojoError("Name a competition to prepare, or pass --all.")
    with _progress() as progress:
        task = progress.add_task("preparing", total=len(specs))
        for spec in specs:
            progress.update(task, description=f"preparing {spec.id}")
            started = time.perf_counter()
            written: list[str] = []

            def show(what: str, spec_id: str = spec.id) -> None:
                written.append(what)
                progress.update(task, description=f"preparing {spec_id}: {what}")

            data = prepare(spec, force=force, on_progress=show)
            built = f"  {written[-1]}" if written else ""
            progress.console.print(f"[green]✓[/] {spec.id:<22} {time.perf_counter() - started:6.1f}s  "
                                   f"{_human_size(_size_on_disk(spec)):>9}{built}  {data.public_dir}",
                                   highlight=False, soft_wrap=True)
            progress.advance(task)


@competitions_app.command("add")
def competitions_add(
    path: Path = typer.Argument(..., help="A competition folder in the MLE-bench or the MLE-Dojo layout."),
    competition_id: Optional[str] = typer.Option(None, "--id", help="Register it under this id."),
    replace: bool = typer.Option(False, "--replace", help="Re-point an id added before at this folder."),
) -> None:
    """Register a competition prepared on disk (MLE-bench or MLE-Dojo layout), for every later run."""
    from nbdojo.competitions import add_competition

    spec = add_competition(path, competition_id=competition_id, replace=replace)
    console.print(f"[green]✓[/] added [bold]{spec.id}[/] ({spec.layout} layout, metric {spec.metric}, "
                  f"{'higher' if spec.higher_is_better else 'lower'} is better, graded by {spec.grader}) "
                  f"from {spec.folder}", highlight=False, soft_wrap=True)


@competitions_app.command("remove")
def competitions_remove(competition: str) -> None:
    """Forget a competition added with `competitions add` (its files on disk stay)."""
    from nbdojo.competitions import remove_competition

    remove_competition(competition)
    console.print(f"removed {competition}; its files on disk were left alone", highlight=False)


@competitions_app.command("leaderboard")
def competitions_leaderboard(
    competition: str, top: int = typer.Option(50, help="Rows to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {competition, kind, metric, higher_is_better, "
                                                       "size, entries: [{rank, entry, score, ...}]}."),
) -> None:
    """The reference leaderboard of a competition."""
    import json
    import math

    from nbdojo.competitions import get_competition
    from nbdojo.grading import load_leaderboard

    spec = get_competition(competition)
    board = load_leaderboard(spec)
    kind = "leaderboard" if spec.is_external else "reference ladder (seeded solutions, not a human leaderboard)"
    if as_json:
        def plain(value: Any) -> Any:
            value = value.item() if hasattr(value, "item") else value
            return None if isinstance(value, float) and not math.isfinite(value) else value

        entries = [{"rank": i, **{str(k): plain(v) for k, v in row.items()}}
                   for i, row in enumerate(board.head(top).to_dict("records"), start=1)]
        print(json.dumps({"competition": spec.id, "kind": "external" if spec.is_external else "reference",
                          "metric": spec.metric, "higher_is_better": spec.higher_is_better, "size": len(board),
                          "entries": entries}, indent=2))
        return
    table = Table(title=f"{spec.id} · {kind} · {spec.metric}, {'higher' if spec.higher_is_better else 'lower'} "
                        f"is better · {len(board)} entries")
    table.add_column("#", justify="right", no_wrap=True)
    for col in board.columns:  # names fold onto more lines at 80 columns; numbers are never cut
        numeric = board[col].dtype.kind in "fiu"
        table.add_column(str(col), no_wrap=numeric, justify="right" if numeric else "left",
                         overflow="ellipsis" if numeric else "fold")
    for i, row in enumerate(board.head(top).itertuples(index=False), start=1):
        table.add_row(str(i), *(f"{v:.6g}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)


def _rows(spec: Any, prepared: bool) -> str:
    """'train/test' row counts: from competition.yaml, else counted in the prepared CSV files."""
    rows = spec.extra.get("rows")
    if isinstance(rows, dict) and "train" in rows and "test" in rows:
        return f"{_count(int(rows['train']))}/{_count(int(rows['test']))}"
    if not prepared:
        return "?"
    from nbdojo.competitions import data_dir

    counts = []
    for name in ("train", "test"):
        path = data_dir(spec) / "public" / spec.files[name]
        counts.append(_count(_count_lines(path) - 1) if path.is_file() else "?")
    return "/".join(counts)


def _count(n: int) -> str:
    """1234 -> '1.2k', 1000000 -> '1M': short enough for a table column."""
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(n)


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


def _size_on_disk(spec: Any) -> int:
    from nbdojo.competitions import data_dir

    total = 0
    stack = [data_dir(spec) / "public", data_dir(spec) / "private"]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(entry.path)
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def _human_size(size: float, short: bool = False) -> str:
    """'6.2 MB', or '6.2M' when `short`."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            number = f"{size:.0f}" if unit == "B" or size >= 100 else f"{size:.1f}"
            return f"{number}{unit[0]}" if short else f"{number} {unit}"
        size /= 1024
    return f"{size:.1f}G"


# ----- episodes --------------------------------------------------------------------------

@app.command("run")
def run(
    competitions: Optional[list[str]] = typer.Argument(None, help="Competition ids (more than one: a batch).",
                                                       show_default=False),
    agent: list[str] = typer.Option(["baseline"], help="Agent: baseline, llm, or replay:NOTEBOOK (give it more "
                                    "than once for a batch of several agents)."),
    model: Optional[str] = typer.Option(None, help="Model name, for --agent llm."),
    base_url: Optional[str] = typer.Option(None, help="OpenAI-compatible server URL (default: $OPENAI_BASE_URL)."),
    mode: str = typer.Option("auto", help="llm: actions as tool calls, JSON text, or auto (tools, else JSON)."),
    temperature: float = typer.Option(0.0, help="llm: sampling temperature."),
    context_tokens: int = typer.Option(32000, min=1024, help="llm: tokens of conversation sent per request."),
    max_tokens: Optional[int] = typer.Option(None, min=1, help="Token budget of the episode (prompt + completion)."),
    out: Path = typer.Option(Path("runs"), help="Folder for the run's notebook and workspace."),
    seed: Optional[int] = typer.Option(None, min=0, help="Episode seed (0 or more)."),
    max_steps: int = typer.Option(50, min=1, help="Step budget."),
    cell_timeout: float = typer.Option(600.0, min=1, help="Seconds per cell before it is interrupted."),
    wall_clock: float = typer.Option(4 * 3600.0, min=1, help="Seconds for the whole episode."),
    memory_gb: float = typer.Option(8.0, min=0.1, help="Memory cap of the kernel's process tree (GiB)."),
    gpus: Optional[str] = typer.Option(None, help="GPU indices for the kernel, e.g. '0,1' ('' for none; default all)."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Run the kernel unconfined (debugging only)."),
    kernel_env: Optional[Path] = typer.Option(None, "--kernel-env", help="The kernel's Python environment (a venv "
                                              "with ipykernel, e.g. a CUDA build; default: the agent's toolbox)."),
    reward: str = typer.Option("final", help="Reward mode: final (HumanRank at the end), public_delta (+ public "
                               "score improvements) or shaped (+ small penalties); see nbdojo.grading.rewards."),
    episodes: int = typer.Option(1, min=1, help="Episodes to run, with seeds SEED, SEED+1, ... (SEED default 0)."),
    workers: int = typer.Option(2, min=1, help="With --episodes: episodes running at once, each in its own process."),
    suite: Optional[str] = typer.Option(None, help="Run a suite of competitions (lite, synthetic, real, all)."),
    resume: bool = typer.Option(False, "--resume", help="Batch: skip episodes already finished in --out."),
    retries: int = typer.Option(0, min=0, help="Batch: run a failed episode again, up to N more times."),
    backend: str = typer.Option("local", help="Batch: local (worker processes) or ray (a Ray cluster; "
                                "pip install 'nbdojo\\[ray]')."),
    address: Optional[str] = typer.Option(None, help="--backend ray: the cluster's address (default: $RAY_ADDRESS, "
                                          "else a Ray started here)."),
    shared_out: Optional[Path] = typer.Option(None, "--shared-out", help="--backend ray: write notebooks straight "
                                              "to this folder, mounted on every node (default: send them back to "
                                              "--out)."),
    gpus_per_episode: Optional[int] = typer.Option(None, "--gpus-per-episode", min=0, help="Batch: GPUs each "
                                                   "episode gets to itself (local: this machine's, in turn; ray: "
                                                   "declared to Ray)."),
    pool_size: int = typer.Option(0, "--pool-size", min=0, help="Batch, local workers: warm kernels each worker "
                                  "keeps started for its next episodes (nbdojo.kernel.pool; 0: none)."),
    allow_interrupt: bool = typer.Option(False, "--allow-interrupt", help="People watching the run (nbdojo watch) "
                                         "may interrupt its running cell from JupyterLab (default: only the "
                                         "episode interrupts its kernel, at the cell timeout)."),
    cpus_per_episode: float = typer.Option(1.0, "--cpus-per-episode", min=0.01, help="--backend ray: CPUs each "
                                           "episode asks Ray for."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON and nothing else on stdout (progress goes to "
                                 "stderr): {competition, agent, model, seed, score, metric, human_rank, medal, "
                                 "position, leaderboard_size, normalized_score, standard_error, notebook, steps, "
                                 "status, duration_s, error}; status is finished, truncated (a budget ended it), "
                                 "failed or interrupted; score is null without a valid submission. With --episodes "
                                 "N: a list of them, in seed order."),
) -> None:
    """Run an episode, or a batch (--episodes N, several competitions, a --suite), and print scores and notebooks."""
    from nbdojo.cli.batch import competitions_of

    competitions = competitions_of(competitions, suite)
    competition = competitions[0]
    from nbdojo.env import DojoEnv
    from nbdojo.limits import Limits
    from nbdojo.grading.rewards import check_mode
    from nbdojo.runner import run_episode

    check_mode(reward)  # a bad mode is one line before any agent or kernel starts
    agents = list(dict.fromkeys(agent))
    the_agent, *_ = [_make_agent(a, model=model, base_url=base_url, mode=mode, temperature=temperature,
                                 context_tokens=context_tokens) for a in agents]  # each checked before any kernel
    limits = Limits(max_steps=max_steps, cell_timeout_s=cell_timeout, wall_clock_s=wall_clock, max_tokens=max_tokens,
                    memory_bytes=int(memory_gb * 1024**3))
    if no_sandbox:
        err_console.print("[bold red]WARNING: --no-sandbox: the agent's code can read the private answers, "
                          "your files and the network. The run is marked unsandboxed.[/]", soft_wrap=True)
    if episodes > 1 or len(competitions) > 1 or len(agents) > 1 or resume or retries or backend != "local" \
            or gpus_per_episode:
        from dataclasses import replace

        from nbdojo.batch import plan_episodes
        from nbdojo.cli.batch import run_batch

        first = seed if seed is not None else 0
        plans = plan_episodes(competition, range(first, first + episodes), agent=agents[0],
                              out_dir=out, limits=limits, sandbox=not no_sandbox, gpus=_parse_gpus(gpus),
                              kernel_env=kernel_env, reward=reward, pool_size=pool_size,
                              allow_interrupt=allow_interrupt)
        plans = [replace(plan, competition=comp, agent=a,
                         agent_options=_agent_options(a, model=model, base_url=base_url, mode=mode,
                                                      temperature=temperature, context_tokens=context_tokens))
                 for comp in competitions for a in agents for plan in plans]
        batch_options = dict(backend=backend, address=address, shared_out=shared_out, retries=retries, resume=resume,
                             gpus_per_episode=gpus_per_episode, cpus_per_episode=cpus_per_episode)
        if not as_json:
            raise typer.Exit(run_batch(plans, workers=workers, out=out, console=console, **batch_options))
        before = set(out.glob("batch-*.jsonl"))
        code = run_batch(plans, workers=workers, out=out, console=err_console, **batch_options)
        written = sorted(set(out.glob("batch-*.jsonl")) - before, key=lambda p: p.stat().st_mtime)
        lines = written[-1].read_text().splitlines() if written else []
        print(json.dumps([_episode_json(json.loads(line)) for line in lines if line.strip()], indent=2))
        raise typer.Exit(code)
    with _exit_on_stop_signal(), DojoEnv(competition, out_dir=out, limits=limits, agent=the_agent.name,
                                         model=the_agent.model, sandbox=not no_sandbox, kernel_env=kernel_env,
                                         gpus=_parse_gpus(gpus), reward=reward,
                                         allow_interrupt=allow_interrupt) as env:
        _ = env.data  # prepares the competition on first use, before the progress display starts
        with _progress(err_console if as_json else console) as progress:
            task = progress.add_task(f"{competition} · starting kernel", total=max_steps)

            def on_step(obs: str, info: dict[str, Any]) -> None:
                style = STATUS_STYLE.get(info["status"], "white")
                took = f"{info['duration_s']:.1f}s" if "duration_s" in info else ""
                progress.console.print(f"  {info['step']:>3}  {info['action']:<15} [{style}]{info['status']:<8}[/] "
                                       f"{took:>7}  {info.get('summary', '')}")
                progress.update(task, completed=info["step"], description=f"{competition} · step {info['step']}")

            result = run_episode(env, the_agent, seed=seed, on_step=on_step)
    if as_json:
        print(json.dumps(_episode_json(result.to_dict()), indent=2, default=str))
        return
    if result.score is None:
        console.print("[yellow]No valid submission was graded.[/]")
    else:
        console.print(f"[bold]score[/] {result.score:.6g} ({result.final.get('metric')}) · "
                      f"position {result.position}/{result.final.get('leaderboard_size', 0) + 1} · "
                      f"HumanRank {result.human_rank:.1%} · medal {result.medal}")
    console.print(f"[bold]notebook[/] {result.notebook}", soft_wrap=True)


@contextlib.contextmanager
def _exit_on_stop_signal() -> Iterator[None]:
    """SIGTERM ends `run` as Ctrl-C does: the episode's notebook is closed, marked interrupted; then one
    line and exit code 128 + the signal's number (130, 143)."""
    from nbdojo.runner import EpisodeInterrupted, stop_signals_interrupt

    try:
        with stop_signals_interrupt():
            yield
    except EpisodeInterrupted as exc:
        err_console.print(f"[yellow]interrupted ({exc.signal_name})[/]: the episode's notebook was closed",
                          highlight=False)
        raise typer.Exit(exc.exit_code) from None


def _parse_gpus(text: str | None) -> list[int] | None:
    from nbdojo.errors import ConfigError

    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--gpus takes comma-separated GPU indices such as '0,1', not {text!r}.") from None


def _make_agent(spec: str, *, model: str | None, base_url: str | None, mode: str, temperature: float,
                context_tokens: int) -> Any:
    """`baseline`, `llm` (checked against its server before any kernel starts) or `replay:PATH`."""
    from nbdojo.agents import agent_from_spec

    options = _agent_options(spec, model=model, base_url=base_url, mode=mode, temperature=temperature,
                             context_tokens=context_tokens)
    agent = agent_from_spec(spec, **options)
    if spec == "llm":
        agent.check_connection()
    return agent


def _agent_options(spec: str, **options: Any) -> dict[str, Any]:
    """The llm agent's options from the CLI; other agents take none."""
    return options if spec == "llm" else {}


# ----- kernel ----------------------------------------------------------------------------

@kernel_app.command("install")
def kernel_install(
    user: bool = typer.Option(True, "--user/--sys-prefix", help="Install for this user or into the environment."),
) -> None:
    """Install the nbdojo kernel spec so JupyterLab can start it."""
    import sys as _sys

    from nbdojo.kernel.session import install_kernelspec

    path = install_kernelspec(user=user, prefix=None if user else _sys.prefix)
    console.print(f"installed the nbdojo kernel spec in {path}")


@kernel_app.command("uninstall")
def kernel_uninstall(
    user: bool = typer.Option(True, "--user/--sys-prefix", help="Remove it for this user or from the environment."),
) -> None:
    """Remove the nbdojo kernel spec that `nbdojo kernel install` added."""
    import sys as _sys

    from nbdojo.kernel.session import uninstall_kernelspec

    path = uninstall_kernelspec(user=user, prefix=None if user else _sys.prefix)
    console.print(f"removed the nbdojo kernel spec from {path}" if path else "no nbdojo kernel spec was installed there")


def _progress(to: Console | None = None) -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=to or console, transient=True)


def _finite_or_none(value: Any) -> float | None:
    """A number JSON can hold: NaN and infinities (no error for an added competition, say) become null."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def _episode_json(data: dict[str, Any]) -> dict[str, Any]:
    """`nbdojo run --json`: one episode (an `EpisodeResult` or `EpisodeFailure` as a dict) in a fixed shape."""
    final = data.get("final") or {}
    if "error" in data:
        status = "interrupted" if str(data["error"]).startswith("interrupted") else "failed"
    else:
        status = "truncated" if data.get("truncated") else "finished"
    return {"competition": data.get("competition"), "agent": data.get("agent"), "model": data.get("model"),
            "seed": data.get("seed"), "score": data.get("score"), "metric": final.get("metric"),
            "human_rank": data.get("human_rank"), "medal": data.get("medal"), "position": data.get("position"),
            "leaderboard_size": final.get("leaderboard_size"),
            "normalized_score": _finite_or_none(final.get("normalized_score")),
            "standard_error": _finite_or_none(final.get("standard_error")), "notebook": data.get("notebook"),
            "steps": data.get("steps"), "status": status, "duration_s": data.get("duration_s"),
            "error": data.get("error")}


def main(argv: list[str] | None = None) -> int:
    """Entry point: usage errors exit 2 (Typer's message); nbdojo errors print one red line and exit 1."""
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except (NbdojoError, ValueError) as exc:
        err_console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        return 130
    return 0

