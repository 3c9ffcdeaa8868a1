"""An agent that replays a notebook: its code cells as `execute_code` actions, then `validate` and `submit`.

Any notebook works: a person's, or an earlier nbdojo trajectory. Cells nbdojo
writes itself are skipped (the parameters, setup and scorer cells), as is a
person's `parameters` / `injected-parameters` cell: the env defines `DATA_DIR`,
`WORKSPACE`, `SUBMISSION_PATH` and `SEED` itself. A person's notebook that names its author
(`metadata.authors`) is recorded as that participant's run. Markdown that led to a cell (an
nbdojo thought, or a person's notes) is replayed as that cell's thought, and a
recorded `restart_kernel` step is replayed too, so the new notebook reads like the old one.
A submission the grader refuses ends the replay with `AgentError` (the notebook is saved up to there).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat

from nbdojo.notebook import nbdojo_meta
from nbdojo.actions import DEFAULT_SUBMISSION
from nbdojo.errors import AgentError, ConfigError

SKIPPED_TAGS = {"parameters", "injected-parameters", "nbdojo-scorer"}
SKIPPED_ACTIONS = {"setup", "score"}
_SUBMIT_PATH = re.compile(r"\*\*submit\*\* `([^`]+)`")


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def replay_plan(nb: nbformat.NotebookNode) -> tuple[list[dict[str, Any]], str]:
    """The actions a notebook's cells stand for, and the submission path to validate and submit."""
    is_trajectory = "nbdojo" in nb.metadata
    plan: list[dict[str, Any]] = []
    thoughts: list[str] = []
    submit_path = DEFAULT_SUBMISSION
    for cell in nb.cells:
        meta = nbdojo_meta(cell)
        action = meta.get("action")
        tags = set(cell.metadata.get("tags") or [])
        source = _source(cell).strip()
        if cell.cell_type == "markdown":
            if action == "thought" or (not is_trajectory and not meta and source):
                thoughts.append(source)
            elif action == "restart_kernel":
                plan.append(_with_thought({"action": "restart_kernel"}, thoughts))
            else:
                if action == "submit" and (match := _SUBMIT_PATH.search(source)):
                    submit_path = match.group(1)
                if action:
                    thoughts.clear()  # what led to an action that is not replayed (request_info, validate, ...)
            continue
        if cell.cell_type != "code" or tags & SKIPPED_TAGS or action in SKIPPED_ACTIONS or not source:
            continue
        plan.append(_with_thought({"action": "execute_code", "code": _source(cell)}, thoughts))
    if not any(step["action"] == "execute_code" for step in plan):
        raise ConfigError("The notebook has no code cells to replay.")
    return plan, submit_path


def notebook_author(nb: nbformat.NotebookNode) -> str | None:
    """The first author named in nbformat's `metadata.authors` ([{"name": ...}]), cut to 80 characters."""
    authors = nb.metadata.get("authors")
    first = authors[0] if isinstance(authors, list) and authors else None
    name = first.get("name") if isinstance(first, dict) else None
    return name.strip()[:80] or None if isinstance(name, str) else None


def _with_thought(action: dict[str, Any], thoughts: list[str]) -> dict[str, Any]:
    if thoughts:
        action["thought"] = "\n\n".join(thoughts)
        thoughts.clear()
    return action


class ReplayAgent:
    """Plays a notebook's cells in order, then validates and submits (`--agent replay:PATH`)."""

    name = "replay"
    model: str | None = None

    def __init__(self, notebook_path: str | Path):
        self.notebook_path = Path(notebook_path)
        try:
            nb = nbformat.read(str(self.notebook_path), as_version=4)
        except FileNotFoundError:
            raise ConfigError(f"No notebook to replay at {self.notebook_path}.") from None
        except Exception as exc:  # nbformat raises several kinds for a file that is not a notebook
            raise ConfigError(f"Cannot read {self.notebook_path} as a notebook: {exc}") from None
        self.cells, self.submit_path = replay_plan(nb)
        #: A person's notebook (not an nbdojo trajectory) names its author in nbformat's `metadata.authors`;
        #: the run records it as the participant, and `compare` lists the run as that person's.
        self.participant = None if "nbdojo" in nb.metadata else notebook_author(nb)
        self._plan: list[dict[str, Any]] = []

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self._plan = [dict(step) for step in self.cells]
        self._plan += [{"action": "validate", "path": self.submit_path},
                       {"action": "submit", "path": self.submit_path}]

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        if (info.get("action") == "submit" and info.get("status") != "ok") or not self._plan:
            # A replay cannot fix its file; burning the step budget on retries would only hide that.
            raise AgentError(f"The replayed notebook's submission was not accepted: {observation.strip()}")
        return self._plan.pop(0)

    def usage(self) -> dict[str, Any] | None:
        return None
