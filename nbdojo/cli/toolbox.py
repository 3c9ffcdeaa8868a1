"""`nbdojo toolbox`: the agent's own Python environment (see nbdojo.kernel.toolbox)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

toolbox_app = typer.Typer(help="The agent's toolbox: the Python environment its kernel runs in.",
                          no_args_is_help=True)
console = Console()


@toolbox_app.command("build")
def build(
    path: Optional[Path] = typer.Option(None, help="Where to build it (default: NBDOJO_HOME/toolbox)."),
    torch: Optional[str] = typer.Option(None, help="pip requirement for torch (default: the host's torch release, "
                                                   "else the latest: a CUDA build on a GPU machine)."),
    cuda: bool = typer.Option(False, "--cuda", help="Take xgboost's CUDA build instead of its CPU build."),
    extra: list[str] = typer.Option([], "--extra", help="More pip requirements for the agent (repeatable)."),
) -> None:
    """Create or update the toolbox: numpy, pandas, scipy, scikit-learn, torch, lightgbm, xgboost, matplotlib."""
    from nbdojo.kernel.toolbox import build_toolbox

    box = build_toolbox(path, torch=torch, cuda=cuda, extra=extra, on_progress=console.print)
    console.print(f"[bold]toolbox[/] {box.path}")


@toolbox_app.command("show")
def show(path: Optional[Path] = typer.Option(None, "--kernel-env", help="A toolbox to show (default: the one "
                                                                         "episodes use).")) -> None:
    """Where the toolbox is and its main packages with their versions."""
    from nbdojo.kernel.toolbox import find_toolbox

    box = find_toolbox(path)
    console.print(f"[bold]toolbox[/] {box.path}")
    for name, version in box.main_packages().items():
        console.print(f"  {name:<14} {version}", highlight=False)
