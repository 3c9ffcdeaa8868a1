"""The run list of `nbdojo watch`: `/nbdojo/runs`, a page of the runs under the watched folder, live ones first,
each linking to its trajectory in JupyterLab (which opens it following the newest cell).

A Jupyter server extension (`watch` enables it). A run is live while its kernel is published in `<root>/.kernels/`
(`nbdojo.tools.watch.KernelPublisher` keeps that folder in step with the live episode kernels). The runs are found
without following a symbolic link and without looking into workspaces (agents write there, trajectories too);
every name shown is escaped, since run folders sit next to what agents write.
"""

from __future__ import annotations

import html
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web

from nbdojo.tools.watch import KERNELS_DIR, TRAJECTORY

WORKSPACE = "workspace"
MAX_DEPTH = 4  # runs/, batches of runs, and a little room


@dataclass(frozen=True)
class RunEntry:
    path: str  # relative to the root, with "/"
    live: bool
    modified: float


def _live_runs(root: Path) -> set[Path]:
    """The run folders whose kernel is published (the connection files name them in `nbdojo_run`)."""
    live = set()
    folder = root / KERNELS_DIR
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return live
    for entry in entries:
        if not entry.name.endswith(".json") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            run = json.loads(Path(entry.path).read_text()).get("nbdojo_run")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(run, str):
            live.add(Path(run))
    return live


def list_runs(root: str | Path) -> list[RunEntry]:
    """The runs under `root` (folders holding a trajectory notebook and a workspace), live first, newest first."""
    root = Path(root).resolve()
    live = _live_runs(root)
    found: list[RunEntry] = []

    def walk(folder: Path, depth: int) -> None:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return
        names = {e.name: e for e in entries}
        notebook, workspace = names.get(TRAJECTORY), names.get(WORKSPACE)
        if notebook is not None and workspace is not None and folder != root:
            info = notebook.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and workspace.is_dir(follow_symlinks=False):
                found.append(RunEntry(folder.relative_to(root).as_posix(), folder in live, info.st_mtime))
                return  # nothing below a run is another run
        if depth >= MAX_DEPTH:
            return
        for entry in entries:  # never into a workspace: what an agent writes there is not a run
            if entry.name != WORKSPACE and not entry.name.startswith(".") and entry.is_dir(follow_symlinks=False):
                walk(Path(entry.path), depth + 1)

    walk(root, 0)
    return sorted(found, key=lambda r: (not r.live, -r.modified, r.path))


def render(runs: list[RunEntry], base_url: str) -> str:
    rows = []
    for run in runs:
        href = url_path_join(base_url, "lab/tree", quote(f"{run.path}/{TRAJECTORY}"))
        state = '<b class="live">live</b>' if run.live else '<span class="done">finished</span>'
        rows.append(f'<tr data-run="{html.escape(run.path)}" data-live="{str(run.live).lower()}"><td>{state}</td>'
                    f'<td><a href="{html.escape(href)}">{html.escape(run.path)}</a></td></tr>')
    body = "\n".join(rows) or '<tr><td colspan="2">No runs yet.</td></tr>'
    lab = html.escape(url_path_join(base_url, "lab"))
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>nbdojo runs</title>
<style>body{{font-family:sans-serif;margin:2em}} td{{padding:.2em 1em}} .live{{color:#1a7f37}} .done{{color:#777}}</style>
</head><body><h1>nbdojo runs</h1>
<p>A live run's trajectory follows its newest cell as the agent works; its kernel is under Running Kernels in
<a href="{lab}">JupyterLab</a>. This page refreshes every 5 seconds.</p>
<table>
{body}
</table></body></html>"""


class RunsHandler(JupyterHandler):  # type: ignore[misc]
    """GET /nbdojo/runs: the run list, for whoever holds the server's token."""

    @web.authenticated
    def get(self) -> None:
        root = Path(self.settings["server_root_dir"]).expanduser()
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(render(list_runs(root), self.base_url))


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    web_app = serverapp.web_app
    web_app.add_handlers(".*$", [(url_path_join(web_app.settings["base_url"], "nbdojo/runs"), RunsHandler)])
