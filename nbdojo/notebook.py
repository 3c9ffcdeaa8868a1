"""The metadata nbdojo keeps in a notebook, defined once: every reader and writer goes through here.

A trajectory (or a person's play) keeps a run-level record in `metadata.nbdojo` and a
step-level record in each cell's `metadata.nbdojo`. Both are plain JSON in the file; the
types below say which keys exist and what they hold. A notebook handed to nbdojo is
untrusted: `nbdojo_meta` never fails on a missing or malformed record, it reads `{}`.

A leaf: it imports nothing of nbdojo.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any, TypedDict

__all__ = ["KEY", "CellMeta", "Final", "RunMeta", "Status", "Usage", "nbdojo_meta", "set_nbdojo_meta"]

#: The metadata key, on the notebook and on each cell.
KEY = "nbdojo"


class Status(str, Enum):
    """What became of a step (a cell's `status`)."""

    OK = "ok"
    ERROR = "error"
    TIMEOUT = "timeout"
    DIED = "died"
    OOM = "oom"
    INVALID = "invalid"
    INTERRUPTED = "interrupted"
    RUNNING = "running"  # the cell of a step still running (nbdojo.trajectory.live); read as interrupted once its run is not live
    TRUNCATED = "truncated"
    CLOSED = "closed"
    NOT_RUN = "not run"


class Usage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    cost: float


class Final(TypedDict, total=False):
    """The grade that ended the episode (signed: see nbdojo.grading.signing), or why there is none."""

    how: str  # "submitted", "truncated: <reason>", "scored", "replayed"
    competition: str
    metric: str
    higher_is_better: bool
    score: float | None
    part: str
    position: int | None
    leaderboard_size: int
    human_rank: float
    medal: str
    # Since the normalized score (0 = sample submission, 1 = ceiling) and the bootstrap error; absent in older notebooks.
    normalized_score: float
    standard_error: float
    dummy_score: float
    ceiling_score: float
    ceiling: str  # "oracle" or "best reference entry"


class RunMeta(TypedDict, total=False):
    """`metadata.nbdojo` of a notebook."""

    version: str
    run_id: str  # a uuid made with the notebook; part of what its signature binds
    competition: str
    agent: str
    model: str | None
    participant: str  # a person's name in a play
    seed: int | None
    limits: dict[str, Any]  # nbdojo.env.Limits as a dict
    kernel: str
    data_dir: str
    workspace: str
    sandbox: bool
    allow_interrupt: bool  # people watching may interrupt its kernel (nbdojo.tools.lab_server); absent: no
    caps: str  # how memory and process caps were held: "cgroup v1", "cgroup v2" or "watchdog"
    host: dict[str, Any]  # {pid, start_time, hostname} of the process running the episode
    started: str  # ISO-8601 UTC
    ended: str | None  # None while the episode runs (or its host died: see nbdojo.runstate)
    final: Final | None
    usage: Usage
    signature: dict[str, str]  # {alg, key, value}
    reset_observation: str
    reset_info: dict[str, Any]
    reward: dict[str, Any]  # {mode: "final" | "public_delta" | "shaped", return: the rewards' sum} (grading.rewards)
    replay_of: str


class CellMeta(TypedDict, total=False):
    """`metadata.nbdojo` of a cell: one step of the episode (or the header, or the scorer)."""

    role: str  # "header" for the title cell
    step: int
    action: str  # an action name, or "setup", "thought", "invalid", "truncated", "closed", "interrupted"
    status: str  # a Status value
    started: str
    duration_s: float  # so far, while the cell runs
    updated: str  # while the cell runs: when the notebook last got its outputs (ISO-8601 UTC)
    observation: str  # exactly what the agent got back
    args: dict[str, Any]  # the action's arguments but its code and thought
    budget: dict[str, Any]
    reward: float  # the step's reward under the episode's reward mode (nbdojo.grading.rewards)
    usage: Usage
    restarted: bool
    truncated_bytes: int
    grader: str  # "trusted" on the scorer cell
    grade: Final


def nbdojo_meta(node: Any) -> dict[str, Any]:
    """`metadata.nbdojo` of a notebook or a cell, as a dict; `{}` when missing or malformed."""
    metadata = node.get("metadata") if isinstance(node, Mapping) else getattr(node, "metadata", None)
    if not isinstance(metadata, Mapping):
        return {}
    record = metadata.get(KEY)
    return record if isinstance(record, dict) else {}


def set_nbdojo_meta(node: Any, record: Mapping[str, Any]) -> None:
    """Write `metadata.nbdojo` of a notebook or a cell."""
    node.metadata[KEY] = dict(record)
