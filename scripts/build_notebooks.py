#!/usr/bin/env python
"""Build the reference notebooks `notebooks/<id>.ipynb` from their readable sources `notebooks/src/<id>.py`.

    python scripts/build_notebooks.py               # every source
    python scripts/build_notebooks.py penguins      # just these

A source is plain Python in the "percent" layout that Jupytext, VS Code and Spyder read: a line
`# %% [markdown]` opens a markdown cell (its lines are comments, `# ` taken off), `# %%` opens a
code cell, and `# %% tags=["parameters"]` gives the cell tags. The notebooks are written as
nbformat v4 with no outputs, and validated; their metadata names the author, which `nbdojo run
--agent replay:notebooks/<id>.ipynb` records as the participant.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "notebooks" / "src"
OUT = ROOT / "notebooks"
AUTHOR = "nbdojo reference notebook"
_MARKER = re.compile(r"^# %%(?P<kind> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> list[nbformat.NotebookNode]:
    """The cells of a percent-format source; text before the first marker is ignored (a file docstring)."""
    cells: list[nbformat.NotebookNode] = []
    kind, tags, lines = None, [], []

    def flush() -> None:
        body = "\n".join(lines).strip("\n")
        if kind is None or not body.strip():
            return
        if kind == "markdown":
            body = "\n".join(line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.splitlines())
            cells.append(new_markdown_cell(body))
        else:
            cells.append(new_code_cell(body, metadata={"tags": tags} if tags else {}))

    for line in text.splitlines():
        match = _MARKER.match(line)
        if match:
            flush()
            kind = "markdown" if match.group("kind") else "code"
            tags, lines = json.loads(match.group("tags")) if match.group("tags") else [], []
        else:
            lines.append(line)
    flush()
    return cells


def build(source: Path) -> Path:
    """Write `notebooks/<stem>.ipynb` from one source and return its path."""
    nb = new_notebook(cells=parse(source.read_text(encoding="utf-8")))
    for number, cell in enumerate(nb.cells):  # ids from the content, so an unchanged cell keeps its id in diffs
        cell.id = hashlib.sha256(f"{source.stem}/{number}/{cell.source}".encode()).hexdigest()[:8]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["authors"] = [{"name": AUTHOR}]
    nbformat.validate(nb)
    path = OUT / f"{source.stem}.ipynb"
    nbformat.write(nb, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="competition ids (default: every source in notebooks/src)")
    args = parser.parse_args(argv)
    sources = [SOURCES / f"{i}.py" for i in args.ids] if args.ids else sorted(SOURCES.glob("*.py"))
    missing = [s for s in sources if not s.is_file()]
    if missing:
        print(f"no source {', '.join(str(s) for s in missing)}", file=sys.stderr)
        return 1
    for source in sources:
        print(build(source).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
