"""How an episode's steps are rewarded: the reward mode a `DojoEnv` is made with (`reward=`).

- `final` (the default): 0 at every step but the last, which gets the episode's HumanRank (the
  fraction of the leaderboard beaten; 0 without a valid submission). An episode's return is in [0, 1].
- `public_delta`: `final`, plus, at each `validate` that reports a public score, the improvement of the
  best public score so far, normalized as a grade is (0 = the sample submission, 1 = the ceiling; see
  `nbdojo.grading.ceiling`) and clipped to [0, 1]: `max(0, min(1, n) - best)`, `best` starting at 0.
  The improvements telescope to the best clipped public score reached, so they sum to at most 1: the
  return is in [0, 2]. Validating the same file again, or a worse file and then the best one again,
  earns nothing. A competition without a scale (its normalized score is n/a) earns no improvements.
- `shaped`: `public_delta`, plus small penalties by a step's status: `invalid` (an invalid action, or
  a submission that fails validation) -0.01, `error` (the cell raised, or nbdojo could not carry the
  action out) -0.01, `timeout`, `died` and `oom` -0.02. Penalties stop at -0.25 per episode: the return
  is in [-0.25, 2].

Each step's reward is kept on its cell (`metadata.nbdojo.reward`) and the mode and return on the
notebook (`metadata.nbdojo.reward = {mode, return, signature}`); `nbdojo export --format rl` carries both.
The grade's signature covers only `final` and the code: when the episode ends the env also signs its rewards
and transcript (`seal`: the mode, the return, every cell's reward, thoughts, observations and arguments, the
first observation; bound to the notebook as a grade is). A reader believes a notebook's rewards only when
`sealed` says so (else they read as `final`'s, from the signed grade), and `export` calls an episode whose
transcript is not sealed unverified.
A leaf but for nbdojo's errors and signing.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from typing import Any

from nbdojo.errors import ConfigError
from nbdojo.grading import signing

__all__ = ["DEFAULT_MODE", "MODES", "PENALTIES", "PENALTY_CAP", "EpisodeRewards", "check_mode", "episode_return",
           "mode_of", "seal", "sealed"]

MODES = ("final", "public_delta", "shaped")
DEFAULT_MODE = "final"
#: The `shaped` mode's penalty for a step, by its status.
PENALTIES = {"invalid": 0.01, "error": 0.01, "timeout": 0.02, "died": 0.02, "oom": 0.02}
#: The most the penalties take from one episode, all together.
PENALTY_CAP = 0.25


def check_mode(mode: Any) -> str:
    """The mode, or a one-line ConfigError naming the valid ones."""
    if mode not in MODES:
        raise ConfigError(f"Unknown reward mode {mode!r}; use one of: {', '.join(MODES)}.")
    return mode


class EpisodeRewards:
    """One episode's rewards under a mode: the env reports each step, this says what it earns."""

    def __init__(self, mode: str = DEFAULT_MODE):
        self.mode = check_mode(mode)
        self.best_public = 0.0  # the best clipped public normalized score so far; the sample submission's is 0
        self.penalties = 0.0
        self.total = 0.0

    def step(self, *, status: str, final: float = 0.0, public_normalized: float | None = None) -> float:
        """The reward of one step. `final`: the episode's terminal reward (HumanRank) when this step ended
        it, else 0; `public_normalized`: the public normalized score a `validate` reported, if any."""
        reward = float(final)
        if self.mode != "final" and public_normalized is not None and math.isfinite(public_normalized):
            level = min(1.0, max(0.0, float(public_normalized)))
            if level > self.best_public:
                reward += level - self.best_public
                self.best_public = level
        if self.mode == "shaped":
            cost = min(PENALTIES.get(status, 0.0), PENALTY_CAP - self.penalties)
            self.penalties += cost
            reward -= cost
        self.total += reward
        return reward

    def record(self) -> dict[str, Any]:
        """What the notebook keeps: the mode and the return so far."""
        return {"mode": self.mode, "return": self.total}


def episode_return(meta: Mapping[str, Any]) -> float:
    """An episode's return as its notebook's metadata keeps it (`metadata.nbdojo`): the sum of its rewards
    under its mode; a notebook from before the modes has only `final`'s, its HumanRank."""
    record = meta.get("reward")
    if isinstance(record, Mapping) and isinstance(record.get("return"), (int, float)):
        return float(record["return"])
    final = meta.get("final")
    rank = final.get("human_rank") if isinstance(final, Mapping) else None
    ok = isinstance(rank, (int, float)) and not isinstance(rank, bool) and math.isfinite(rank)
    return float(rank) if ok else 0.0


def mode_of(meta: Mapping[str, Any]) -> str:
    """The reward mode a notebook's episode ran under (`final` for notebooks from before the modes)."""
    record = meta.get("reward")
    mode = record.get("mode") if isinstance(record, Mapping) else None
    return mode if mode in MODES else DEFAULT_MODE


def _cell_rewards(cells: Any) -> list[list[Any]]:
    """Every cell's kept reward, as [step, reward], in the notebook's order."""
    kept = []
    for cell in cells if isinstance(cells, list) else []:
        meta = cell.get("metadata") if isinstance(cell, Mapping) else None
        meta = meta.get("nbdojo") if isinstance(meta, Mapping) else None
        if isinstance(meta, Mapping) and "reward" in meta:
            kept.append([meta.get("step"), meta.get("reward")])
    return kept


def _transcript(meta: Mapping[str, Any], cells: Any) -> dict[str, Any]:
    """What an export takes from a notebook besides the signed grade and code: the first observation and
    briefing, and every cell's type, source and nbdojo metadata (thoughts, observations, arguments, budgets)."""
    digest = hashlib.sha256()
    for cell in cells if isinstance(cells, list) else []:
        cell = cell if isinstance(cell, Mapping) else {}
        meta_ = cell.get("metadata") if isinstance(cell.get("metadata"), Mapping) else {}
        source = cell.get("source", "")
        source = "".join(map(str, source)) if isinstance(source, list) else source
        digest.update(signing.canonical([cell.get("cell_type"), source, meta_.get("nbdojo")]) + b"\n")
    return {"reset_observation": meta.get("reset_observation"), "reset_info": meta.get("reset_info"),
            "cells_sha256": digest.hexdigest()}


def _sealed_content(record: Mapping[str, Any], meta: Mapping[str, Any], cells: Any) -> dict[str, Any]:
    return {"rewards": {"mode": record.get("mode"), "return": record.get("return"), "steps": _cell_rewards(cells)},
            "transcript": _transcript(meta, cells)}


def seal(record: Mapping[str, Any], meta: Mapping[str, Any], cells: Any, identity: Mapping[str, Any]) -> dict[str, Any]:
    """The reward record with a signature over it, the cells' rewards and the episode's transcript, bound to
    the notebook's identity (`nbdojo.trajectory.notebook_identity`); made by the env once the episode has ended."""
    kept = {key: value for key, value in record.items() if key != "signature"}
    return {**kept, "signature": signing.sign(_sealed_content(kept, meta, cells), identity)}


def sealed(meta: Mapping[str, Any], cells: Any, identity: Mapping[str, Any]) -> bool:
    """Whether this home's key signed the notebook's rewards and transcript as they are (its
    `metadata.nbdojo.reward`, its cells' rewards, thoughts, observations and arguments, its first observation)."""
    record = meta.get("reward")
    if not isinstance(record, Mapping):
        return False
    try:
        content = _sealed_content(record, meta, cells)
    except (TypeError, ValueError):  # not JSON (a hand-made notebook): nothing nbdojo signed
        return False
    return signing.verify(content, identity, record.get("signature"))
