"""Answers to `request_info`: markdown about the competition, the data, the machine and the budget."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from nbdojo.actions import ACTION_HELP, DEFAULT_SUBMISSION, TOPICS


def _human_size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def section(markdown: str, *names: str) -> str | None:
    """The body of the first `## <name>` section of a markdown text (case-insensitive)."""
    for name in names:
        match = re.search(rf"^##\s+{re.escape(name)}[^\n]*\n(.*?)(?=^##\s|\Z)", markdown, re.I | re.M | re.S)
        if match:
            return match.group(1).strip()
    return None


def overview(description: str) -> str:
    """The description up to its first data/files section: what the task is."""
    cut = re.search(r"^##\s+(data|files|dataset)", description, re.I | re.M)
    return (description[: cut.start()] if cut else description).strip()


@lru_cache(maxsize=64)
def _csv_summary(path: str, mtime: float) -> str:
    import pandas as pd

    head = pd.read_csv(path, nrows=5)
    cols = ", ".join(f"`{c}` ({t})" for c, t in zip(head.columns, head.dtypes.astype(str)))
    return f"{len(head.columns)} columns: {cols}"


def data_listing(public_dir: Path) -> str:
    lines = ["| file | size | columns |", "| --- | --- | --- |"]
    for path in sorted(p for p in public_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(public_dir).as_posix()
        summary = _csv_summary(str(path), path.stat().st_mtime) if path.suffix == ".csv" else ""
        lines.append(f"| `{rel}` | {_human_size(path.stat().st_size)} | {summary} |")
        if len(lines) > 60:
            lines.append("| ... | | more files not listed |")
            break
    return "\n".join(lines)


def sample_submission(path: Path, rows: int = 5) -> str:
    if not path.exists():
        return "(this competition has no sample_submission.csv)"
    with path.open(encoding="utf-8") as fh:
        head = [next(fh, "") for _ in range(rows + 1)]
    return "```\n" + "".join(head).rstrip("\n") + "\n```"


def hardware(*, memory_cap: int | None = None, gpu_indices: list[int] | None = None,
             sandboxed: bool = True, packages: dict[str, str] | None = None) -> str:
    """What the agent's kernel may use: CPUs, memory (its cap, if lower than the machine's), GPUs, and
    the main packages of its Python environment (the toolbox) with their versions."""
    import psutil

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    total = psutil.virtual_memory().total
    mem = min(total, memory_cap) if memory_cap else total
    from nbdojo.kernel.gpus import chosen, gpu_indices as all_gpus

    names = tuple(g.label for g in chosen(all_gpus() if gpu_indices is None else gpu_indices))
    gpu_text = ", ".join(names) if names else "none (PyTorch runs on the CPU)"
    lines = [f"- CPUs: {cpus}", f"- Memory: {_human_size(mem)}" + (" (the kernel's cap)" if mem < total else ""),
             f"- GPUs: {gpu_text}"]
    lines.append("- Network: none (sandboxed kernel)" if sandboxed else "- Sandbox: OFF (debugging run)")
    if packages:
        lines.append("- Python packages: " + ", ".join(f"{name} {version}" for name, version in packages.items())
                     + " (nothing can be installed: there is no network)")
    return "\n".join(lines)


def budget(left: dict[str, Any]) -> str:
    rows = [f"- {key.replace('_', ' ')}: {value}" for key, value in left.items()]
    return "\n".join(rows)


def answer(topic: str, *, spec: Any, public_dir: Path, budget_left: dict[str, Any], hardware_text: str) -> str:
    """Markdown answer for one `request_info` topic ('all' joins every topic)."""
    description = spec.description
    parts: dict[str, Any] = {
        "overview": lambda: f"# {spec.title}\n\n{overview(description)}",
        "data": lambda: "## Data\n\n" + (section(description, "Data", "Files", "Dataset") or "")
        + "\n\nFiles in DATA_DIR:\n\n" + data_listing(public_dir),
        "sample_submission": lambda: "## Sample submission\n\n" + sample_submission(public_dir / "sample_submission.csv"),
        "metric": lambda: "## Metric\n\n" + (section(description, "Evaluation", "Metric") or f"`{spec.metric}`")
        + f"\n\nMetric: `{spec.metric}`, {'higher' if spec.higher_is_better else 'lower'} is better.",
        "hardware": lambda: "## Hardware\n\n" + hardware_text,
        "budget": lambda: "## Budget left\n\n" + budget(budget_left),
    }
    if topic == "all":
        return "\n\n".join(parts[t]() for t in TOPICS if t != "all")
    return parts[topic]()


def welcome(description: str, budget: str) -> str:
    """The reset observation: the competition page, how the episode works, the actions and the budget.

    Deterministic for a competition and its limits: no paths, no clock."""
    actions = "\n".join(f"- `{name}`: {text}" for name, text in ACTION_HELP.items())
    return "\n".join([
        overview(description),
        "",
        "## How this works",
        "You work in a persistent Jupyter kernel: each `execute_code` action runs one cell and state persists.",
        "In the kernel, `DATA_DIR` holds the public data (read-only), `WORKSPACE` is your folder and the "
        f"working directory, `SUBMISSION_PATH` is {DEFAULT_SUBMISSION!r} and `SEED` is the episode's seed.",
        f"Write your predictions to `{DEFAULT_SUBMISSION}` in the workspace, `validate` it, then `submit`.",
        "",
        "## Actions",
        actions,
        "",
        f"## Budget\n{budget}",
    ])
