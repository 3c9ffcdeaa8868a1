"""The `watch`, `attach`, `replay`, `play`, `score`, `compare`, `export` and `doctor` commands.

`register(app)` adds them to nbdojo's CLI.

`nbdojo.cli` registers them on the app when it is imported.
"""

from __future__ import annotations

import json
import signal
import time
import webbrowser
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from nbdojo.notebook import nbdojo_meta


console = Console()
err_console = Console(stderr=True)
COMMANDS = ("watch", "attach", "replay", "play", "score", "compare", "export", "doctor", "runs")


def _sigterm_as_interrupt() -> None:
    """A SIGTERM (a service manager, a test) ends a long-running command as Ctrl-C does: cleanly."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def watch(
    root: Path = typer.Argument(Path("runs"), help="The runs folder (nbdojo run --out)."),
    port: Optional[int] = typer.Option(None, help="Port on 127.0.0.1 (default: a free one)."),
    token: Optional[str] = typer.Option(None, help="Access token (default: a random one)."),
    open_browser: bool = typer.Option(False, "--open", help="Open the page in a web browser."),
    poll: float = typer.Option(0.5, min=0.1, help="Seconds between checks of the notebooks on disk."),
) -> None:
    """JupyterLab on the runs: notebooks update live as agents work; their kernels are listed and attachable."""
    from nbdojo.tools.watch import Watch

    _sigterm_as_interrupt()
    watcher = Watch(root, port=port, token=token, poll_interval=poll)
    with console.status("starting JupyterLab"):
        watcher.start()
    try:
        console.print(f"[bold]Watching[/] {watcher.root}", soft_wrap=True)
        console.print(f"[bold]JupyterLab[/] {watcher.lab.url}", soft_wrap=True, highlight=False)
        console.print(f"[bold]Runs[/] {watcher.lab.runs_url}", soft_wrap=True, highlight=False)
        console.print("Open a run from the run list (live ones first): its trajectory.ipynb updates as the agent "
                      "works and follows the newest cell until you scroll up. Live episode kernels are listed under "
                      "Running Kernels (named after their run); attach a console to one to inspect the agent's "
                      "variables, or use `nbdojo attach RUN`. Ctrl-C stops.", soft_wrap=True)
        if open_browser:
            webbrowser.open(watcher.lab.runs_url)
        code = watcher.lab.wait()
        if code:
            err_console.print(f"[red]JupyterLab exited with code {code}[/]\n{watcher.lab.log_tail()}")
            raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print("stopping JupyterLab (episode kernels keep running)")
    finally:
        watcher.stop()


def attach(
    run: str = typer.Argument(..., help="A run folder, its notebook, or a run name under --root."),
    root: Path = typer.Option(Path("runs"), help="Where to look for a run given by name."),
    simple_prompt: bool = typer.Option(False, "--simple-prompt", help="A plain prompt (no terminal features)."),
) -> None:
    """A terminal console on a live episode's kernel (`jupyter console --existing`); leaving it keeps the kernel."""
    from nbdojo.tools.watch import attach_console, find_run, live_kernel

    kernel = live_kernel(find_run(run, root))
    err_console.print(f"Attached to the kernel of {kernel.name}: its variables are the agent's. Leave with "
                      "Ctrl-D or `exit`: the episode's kernel keeps running. Avoid long computations, which "
                      "delay the agent's next cell.", soft_wrap=True)
    attach_console(kernel.connection_file, ["--simple-prompt"] if simple_prompt else [])


def replay(
    notebook: Path = typer.Argument(..., help="A trajectory or a person's notebook."),
    competition: Optional[str] = typer.Option(None, help="Registered competition id, if the notebook does not say "
                                                          "(nbdojo's record of a play or run decides)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o",
                                          help="Replayed notebook (default: NAME.replay.ipynb next to it)."),
    tolerance: float = typer.Option(1e-4, min=0, help="How far the replayed score may be from the recorded one."),
    cell_timeout: Optional[float] = typer.Option(None, min=1, help="Seconds per cell, to tighten the recorded limit "
                                                                   "(never past nbdojo's default)."),
    no_sandbox: bool = typer.Option(False, "--no-sandbox", help="Run the kernel unconfined (debugging only)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object and nothing else on stdout: "
                                 "{source, output (the replayed notebook), competition, recorded_score, "
                                 "replayed_score, tolerance, score_reproduced, fidelity: {cells, status_same, "
                                 "outputs_same, outputs_differ, outputs_not_compared, first_divergence, divergence}, "
                                 "cells: [{index, step, recorded, replayed, outputs_match, summary, note}], "
                                 "error, grade, notes, limits, workspace}."),
) -> None:
    """Re-execute a notebook with papermill in a fresh sandboxed kernel, regrade it, and report its fidelity.
    The competition and caps come from nbdojo's record of the play or run, each cap at most nbdojo's default.
    Exits 1 if the score is not reproduced."""
    from nbdojo.tools.replay import replay_notebook

    with (err_console if as_json else console).status(f"replaying {notebook.name}"):
        report = replay_notebook(notebook, competition=competition, output=output, tolerance=tolerance,
                                 cell_timeout=cell_timeout, sandbox=not no_sandbox)
    if as_json:
        print(json.dumps(_replay_json(report), indent=2, default=str))
    else:
        table = Table(title=f"replay of {notebook}", title_justify="left")
        for col in ("cell", "step", "recorded", "replayed", "outputs"):  # short words: never wrapped or cut
            table.add_column(col, no_wrap=True, min_width=len(col), justify="right" if col in ("cell", "step") else "left")
        # the one column cut to fit the terminal (the others take about 50 characters)
        table.add_column("code", no_wrap=True, overflow="ellipsis", max_width=max(12, console.width - 52))
        for c in report.cells:
            same = {True: "[green]same[/]", False: "[red]differ[/]", None: "—"}[c.outputs_match]
            style = "" if c.status_match else "[red]"
            table.add_row(str(c.index), "" if c.step is None else str(c.step), c.recorded,
                          f"{style}{c.replayed}", same, c.summary[:60])
        console.print(table)
        console.print(report.summary(), soft_wrap=True, highlight=False)
    if not report.score_reproduced:
        raise typer.Exit(1)


def _replay_json(report: Any) -> dict[str, Any]:
    """`nbdojo replay --json`: the report's fields, with a per-cell fidelity summary first."""
    data = report.to_dict()
    matches = [c.outputs_match for c in report.cells]
    fidelity = {"cells": len(report.cells), "status_same": sum(1 for c in report.cells if c.status_match),
                "outputs_same": matches.count(True), "outputs_differ": matches.count(False),
                "outputs_not_compared": matches.count(None), "first_divergence": report.first_divergence,
                "divergence": report.divergence}
    head = {k: data.pop(k) for k in ("source", "output", "competition", "recorded_score", "replayed_score",
                                     "tolerance", "score_reproduced")}
    return {**head, "fidelity": fidelity, **data}


def play(
    competition: Optional[str] = typer.Argument(None, help="Competition id."),
    name: Optional[str] = typer.Option(None, help="Your name (default: $USER)."),
    out: Path = typer.Option(Path("plays"), help="Folder for the play folder (notebook + workspace)."),
    seed: Optional[int] = typer.Option(0, min=0, help="Seed written into the notebook's parameters (0 or more)."),
    memory_gb: float = typer.Option(8.0, min=0.1, help="Memory cap of the kernel's process tree (GiB)."),
    open_lab: bool = typer.Option(False, "--open", help="Start JupyterLab on the notebook."),
    port: Optional[int] = typer.Option(None, help="--open: port on 127.0.0.1."),
    browser: bool = typer.Option(True, "--browser/--no-browser", help="--open: open a web browser too."),
    remove: Optional[str] = typer.Option(None, "--remove", metavar="PLAY",
                                         help="Remove a play instead: its kernel spec and nbdojo's record of it "
                                              "(PLAY: its notebook, folder or kernel name); its files stay."),
) -> None:
    """A starter notebook for a person, on the same sandboxed kernel, limits and data view as agents.
    The play's kernel spec is kept under nbdojo's home (`nbdojo play --remove` removes it), not in Jupyter's
    folders: `--open` finds it; for papermill or jupyter, put the folder it prints on JUPYTER_PATH."""
    from nbdojo.limits import Limits
    from nbdojo.tools.play import play as make_play, play_jupyter_path, remove_play

    if remove is not None:
        for path in remove_play(remove):
            console.print(f"[bold]removed[/] {path}", soft_wrap=True, highlight=False)
        return
    if competition is None:
        err_console.print("[red]error:[/] nbdojo play needs a COMPETITION (or --remove PLAY).", highlight=False)
        raise typer.Exit(2)
    result = make_play(competition, out=out, name=name, seed=seed, limits=Limits(memory_bytes=int(memory_gb * 1024**3)))
    console.print(f"[bold]notebook[/]  {result.notebook}", soft_wrap=True)
    console.print(f"[bold]workspace[/] {result.workspace}", soft_wrap=True)
    console.print(f"[bold]kernel[/]    {result.kernel_name} (sandboxed; installed in {result.kernelspec_dir})",
                  soft_wrap=True)
    console.print(f"To run it with papermill or jupyter: JUPYTER_PATH={play_jupyter_path()}", soft_wrap=True,
                  highlight=False)
    console.print(f"When your submission.csv is written: [bold]nbdojo score {result.notebook}[/]", soft_wrap=True)
    if not open_lab:
        return
    from nbdojo.tools.watch import LabServer

    _sigterm_as_interrupt()
    lab = LabServer(result.notebook.parent, port=port, allowed_kernelspecs=[result.kernel_name],
                    default_url=f"/lab/tree/{result.notebook.name}")
    with console.status("starting JupyterLab"):
        lab.start()
    try:
        url = lab.notebook_url(result.notebook)
        console.print(f"[bold]JupyterLab[/] {url}", soft_wrap=True, highlight=False)
        if browser:
            webbrowser.open(url)
        lab.wait()
    except KeyboardInterrupt:
        console.print("stopping JupyterLab")
    finally:
        lab.stop()


def score(
    notebook: Path = typer.Argument(..., help="The person's notebook, where nbdojo play made it."),
    name: Optional[str] = typer.Option(None, help="Participant name (default: the notebook's, else $USER)."),
    competition: Optional[str] = typer.Option(None, help="Competition id (must be the one nbdojo recorded for the "
                                                          "play)."),
) -> None:
    """Grade a person's submission, append the scorer cell and record the run's metadata in the notebook.
    The workspace and competition are those nbdojo recorded for the play, never the notebook's parameters."""
    from nbdojo.tools.play import read_notebook, score as score_notebook
    from nbdojo.trajectory import VERIFIED, verification

    before = read_notebook(notebook) if notebook.is_file() else None
    claimed = before is not None and (nbdojo_meta(before)).get("final")
    earlier = verification(before) if claimed else None
    result = score_notebook(notebook, name=name, competition=competition)
    if earlier is not None and earlier != VERIFIED:
        console.print(f"[yellow]The notebook's earlier result was unverified ({earlier}): replaced by this grade.[/]",
                      soft_wrap=True, highlight=False)
    now = verification(read_notebook(result.notebook))
    if now != VERIFIED:  # the grade just written must read back as nbdojo's
        err_console.print(f"[red]error:[/] the grade written to {result.notebook} does not verify ({now}).",
                          soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    console.print(result.report, highlight=False)
    wall = "?" if result.wall_time_s is None else f"{result.wall_time_s:.0f} s"
    console.print(f"[bold]{result.participant}[/] · {result.cells_run} cells run · {result.errors} errors · "
                  f"wall time {wall} (from {result.timing}) · "
                  f"{'sandboxed kernel' if result.sandboxed else '[yellow]not the sandboxed play kernel[/]'}",
                  soft_wrap=True)
    console.print(f"[bold]notebook[/] {result.notebook} (result signed: verified)", soft_wrap=True)


def compare(
    paths: list[Path] = typer.Argument(..., help="Folders (or notebooks) of agent runs and people's notebooks."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables: {runs: [{competition, "
                                                       "participant, kind, status, score, human_rank, medal, verified, "
                                                       "ranked, ...}], participants: [...]} (verified results only)."),
) -> None:
    """One report across people and agents: scores, HumanRank, medals, steps, time, tokens; charts in HTML."""
    from nbdojo.tools.compare import collect, participants, render_html, summary_table

    t0 = time.monotonic()
    runs = collect(paths)
    if not runs:
        err_console.print("[red]error:[/] no nbdojo notebooks (trajectories or scored plays) found in "
                          + ", ".join(map(str, paths)), soft_wrap=True)
        raise typer.Exit(1)
    if as_json:
        import dataclasses
        import json

        rows = [{**dataclasses.asdict(r), "path": str(r.path), "verified": r.verified, "ranked": r.ranked}
                for r in runs]
        print(json.dumps({"runs": rows, "participants": [dataclasses.asdict(p) for p in participants(runs)]},
                         indent=2, default=str))
        render_html(runs, output)
        return
    for table in summary_table(runs, width=console.width):
        console.print(table)
    render_html(runs, output)
    console.print(f"[bold]report[/] {output.resolve()} ({len(runs)} runs, {time.monotonic() - t0:.1f} s)",
                  soft_wrap=True)


def export(
    paths: list[Path] = typer.Argument(..., help="Trajectory notebooks, or folders of runs (nbdojo run --out)."),
    fmt: str = typer.Option("sft", "--format", "-f", help="sft (chat with tool calls), rl (steps and rewards), or "
                                                          "hf (a Hugging Face dataset of the sft chats and grades)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="The JSON-lines file to write (default "
                                          "trajectories.jsonl), or with hf the dataset's folder (default "
                                          "trajectories-dataset)."),
    min_human_rank: float = typer.Option(0.0, min=0.0, max=1.0, help="Keep episodes with HumanRank at least this."),
    submitted_only: bool = typer.Option(False, "--submitted-only", help="Keep only episodes that submitted."),
    verified_only: bool = typer.Option(False, "--verified-only",
                                       help="Keep only episodes whose grade nbdojo signed (metadata.verified)."),
    best_per_competition: bool = typer.Option(False, "--best-per-competition",
                                              help="Keep each competition's best-graded episode only."),
    dedup: bool = typer.Option(True, "--dedup/--keep-duplicates", help="Keep identical episodes once."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1,
                                             help="Drop (never cut) episodes whose sft chat is longer than this "
                                                  "many tokens (estimated at 4 characters a token)."),
) -> None:
    """Trajectories as training data: one JSON line or dataset row per episode, rebuilt from the notebooks."""
    from nbdojo.tools.export import export as export_runs

    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        err_console.print(f"[red]error:[/] not found: {', '.join(missing)}", soft_wrap=True, highlight=False)
        raise typer.Exit(1)
    output = output or Path("trajectories-dataset" if fmt == "hf" else "trajectories.jsonl")
    counts = export_runs(paths, output, fmt=fmt, min_human_rank=min_human_rank, submitted_only=submitted_only,
                         verified_only=verified_only, dedup=dedup, max_tokens=max_tokens,
                         best_per_competition=best_per_competition)
    console.print(f"[bold]{counts['written']} episodes[/] written to {output.resolve()} ({fmt}) · "
                  f"{counts['filtered']} filtered out · {counts['skipped']} notebooks skipped "
                  "(not trajectories with kept observations)", soft_wrap=True, highlight=False)
    if counts["unverified"]:
        err_console.print(f"[yellow]warning:[/] {counts['unverified']} of them unverified (a grade nbdojo did not "
                          "sign for its notebook: metadata.verified is false); --verified-only drops them.",
                          soft_wrap=True, highlight=False)


def doctor(
    kernel: bool = typer.Option(True, "--kernel/--no-kernel", help="Also start a sandboxed kernel and probe it."),
    gpus: Optional[str] = typer.Option(None, help="GPU indices to give the probe kernel, e.g. '0,1' "
                                                  "(default: all; '' for none)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """What this machine gives an agent's kernel: sandbox, caps, GPUs, and a probe from inside a real kernel."""
    from nbdojo.cli.app import _parse_gpus
    from nbdojo.tools.doctor import host_checks, kernel_checks, probe_kernel

    checks = host_checks()
    found = None
    if kernel and all(c.ok is not False for c in checks if c.name == "sandbox"):
        with console.status("starting a sandboxed kernel and probing it"):
            found = probe_kernel(gpus=_parse_gpus(gpus))
        checks += kernel_checks(found)
    if as_json:
        console.print_json(json.dumps({"checks": [c.__dict__ for c in checks], "kernel": found}))
    else:
        table = Table(show_header=False, box=None, pad_edge=False)
        for check in checks:
            mark = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[yellow]note[/]"}[check.ok]
            table.add_row(mark, f"[bold]{check.name}[/]", check.detail)
        console.print(table)
    if any(c.ok is False for c in checks):
        raise typer.Exit(1)


def runs(
    args: Optional[list[str]] = typer.Argument(None, metavar="[clean] [DIR]",
                                               help="The runs folder (default runs/); `clean` first removes what "
                                                    "dead runs left behind (kernel folders, cgroups) and, with a "
                                                    "folder, marks their running cells interrupted."),
) -> None:
    """The runs under a folder, each live, finished, abandoned (its host died) or failed, with score and path."""
    import nbformat

    from nbdojo.errors import ConfigError
    from nbdojo.runstate import run_state
    from nbdojo.trajectory import find_notebooks, read_notebook

    args = list(args or [])
    clean = bool(args) and args[0] == "clean"
    if clean:
        from nbdojo.kernel.leftovers import sweep

        removed = sweep()
        console.print(f"removed {len(removed)} leftovers of dead runs" + "".join(f"\n  {p}" for p in removed))
        args = args[1:]
        if not args:
            return
    if len(args) > 1:
        raise typer.BadParameter("give at most one folder (and `clean` before it).")
    root = Path(args[0] if args else "runs")
    if not root.exists():
        raise ConfigError(f"{root} does not exist; give the folder of `nbdojo run --out`.")
    table = Table(title=f"runs in {root}")
    for name, style in (("state", {"no_wrap": True}), ("competition", {"overflow": "fold"}),
                        ("agent", {"overflow": "fold"}), ("score", {"no_wrap": True, "justify": "right"}),
                        ("path", {"overflow": "fold"})):
        table.add_column(name, **style)
    for path in find_notebooks(root):
        try:
            meta = nbdojo_meta(read_notebook(path))
        except (OSError, ValueError, nbformat.ValidationError):
            continue
        if not meta.get("competition") or path.name.endswith(".replay.ipynb"):
            continue
        if clean and run_state(meta) == "abandoned":
            from nbdojo.trajectory.live import settle_abandoned

            try:
                settled = settle_abandoned(path)  # a cell its killed host left "running" becomes "interrupted"
            except (OSError, ValueError, nbformat.ValidationError) as exc:
                settled = 0
                err_console.print(f"could not mark the running cells of {path} interrupted: {exc}", highlight=False)
            if settled:
                console.print(f"marked {settled} running cell{'s' * (settled > 1)} interrupted in {path}")
        final = meta.get("final") if isinstance(meta.get("final"), dict) else {}
        score = final.get("score")
        table.add_row(run_state(meta), str(meta.get("competition")), str(meta.get("agent") or "?"),
                      f"{score:.6g}" if isinstance(score, (int, float)) else "-", str(path.parent))
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to nbdojo's typer app (once)."""
    existing = {c.name for c in app.registered_commands}
    for name in COMMANDS:
        if name not in existing:
            app.command(name)(globals()[name])


