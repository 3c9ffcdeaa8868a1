"""Trajectory notebooks as training data: SFT conversations and RL episodes, one JSON line each.

A trajectory keeps, on each step's cell, the observation the agent got back, the budget left
and the action's arguments (code is the cell's source, reasoning the markdown cell above it);
its metadata keeps the first observation, the competition as the agent was shown it and the
budget at the start. From these an episode is rebuilt turn by turn:

- `sft`: the conversation as nbdojo's LLM agent holds it (its system prompt, the tools, each
  thought and tool call, each observation with its budget footer), in the chat format with
  `tools` that OpenAI-compatible fine-tuning takes;
- `rl`: the prompt, then per step the action, observation, status and reward (as the env gave it
  under the episode's reward mode, `nbdojo.grading.rewards`: by default 0 until the last step, then
  HumanRank), with the episode's return, reward mode and final grade;
- `hf`: the `sft` conversations and their grades as a Hugging Face dataset (`nbdojo.tools.export_hf`).

Identical episodes are exported once; a token cap drops whole episodes and `best_per_competition`
keeps each competition's best (`nbdojo.tools.export_filters`).

Notebooks written before nbdojo kept observations, and people's notebooks, are skipped and counted.
Every record's metadata says whether it is `verified`: its grade signed by nbdojo for that notebook (see
`nbdojo.grading.signing`) and its transcript and rewards as nbdojo sealed them (`nbdojo.grading.rewards.seal`);
`verified_only` keeps only those.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from nbdojo.grading.rewards import episode_return, mode_of, sealed
from nbdojo.notebook import nbdojo_meta
from nbdojo.trajectory import VERIFIED, find_notebooks, notebook_identity, read_notebook, verification

FORMATS = ("sft", "rl", "hf")
#: Why an episode with a signed grade is not verified: its transcript (thoughts, observations, arguments,
#: first observation) and rewards are not as nbdojo sealed them when the episode ended (nbdojo.grading.rewards).
UNSEALED = "transcript or rewards not as nbdojo sealed them (edited, or from before nbdojo sealed them)"


@dataclass
class Step:
    step: int
    action: dict[str, Any]  # {"action": name, **arguments}, code included
    thought: str | None
    observation: str
    status: str
    budget: dict[str, Any] = field(default_factory=dict)
    reward: float | None = None  # under the episode's reward mode; None in notebooks from before the modes


@dataclass
class Episode:
    path: Path
    meta: dict[str, Any]
    first_observation: str
    steps: list[Step]
    trust: str = VERIFIED  # or why the grade is not believed (nbdojo.trajectory.verification)
    rewards_signed: bool = False  # whether nbdojo signed the mode, return and step rewards (rewards.sealed)

    @property
    def verified(self) -> bool:
        return self.trust == VERIFIED

    @property
    def final(self) -> dict[str, Any]:
        final = self.meta.get("final")
        return dict(final) if isinstance(final, Mapping) else {}

    def summary(self) -> dict[str, Any]:
        final = self.final
        return {"competition": self.meta.get("competition"), "agent": self.meta.get("agent"),
                "model": self.meta.get("model"), "seed": self.meta.get("seed"), "score": final.get("score"),
                "human_rank": final.get("human_rank"), "medal": final.get("medal"), "how": final.get("how"),
                "normalized_score": final.get("normalized_score"), "standard_error": final.get("standard_error"),
                "steps": len(self.steps), "verified": self.verified, "notebook": str(self.path)}


def _mapping(value: Any) -> dict[str, Any]:
    """A notebook's value where a mapping belongs (a notebook handed in may hold anything there)."""
    return {str(k): v for k, v in value.items()} if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _number(value: Any) -> float:
    """A grade's number, 0 unless it is a finite real number (a string or a bool in a forged notebook is none)."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else 0.0


def read_episode(path: Path) -> Episode | None:
    """The agent's side of a trajectory notebook; None if it is not one with kept observations."""
    nb = read_notebook(path)
    meta = dict(nbdojo_meta(nb))
    if "reset_observation" not in meta:
        return None
    steps: dict[int, Step] = {}
    thoughts: dict[int, str] = {}
    for cell in nb.cells:
        cell_meta = nbdojo_meta(cell)
        step, name = cell_meta.get("step"), cell_meta.get("action")
        if not isinstance(step, int) or step < 1:
            continue
        if name == "thought":
            thoughts[step] = cell.source
        elif "observation" in cell_meta:
            action = {"action": name, **_mapping(cell_meta.get("args"))}
            if name == "execute_code":
                action["code"] = cell.source
            elif name == "invalid":
                action = {"action": "invalid", "raw": cell_meta.get("raw")}
            reward = cell_meta.get("reward")
            steps[step] = Step(step, action, thoughts.get(step), _text(cell_meta["observation"]),
                               str(cell_meta.get("status", "ok")), _mapping(cell_meta.get("budget")),
                               float(reward) if isinstance(reward, (int, float)) else None)
    trust, signed = verification(nb), sealed(meta, nb.cells, notebook_identity(nb))
    if trust == VERIFIED and not signed:  # the grade is nbdojo's, but not the thoughts, observations or prompt
        trust = UNSEALED
    return Episode(path, meta, _text(meta["reset_observation"]), [steps[k] for k in sorted(steps)], trust, signed)


def episodes(paths: list[Path]) -> tuple[list[Episode], int]:
    """Every trajectory with kept observations under the paths, and how many notebooks were skipped."""
    found, skipped = [], 0
    for root in paths:
        for path in find_notebooks(Path(root)):
            try:
                episode = read_episode(path)
            except (OSError, ValueError, nbformat.ValidationError):
                episode = None
            if episode is not None and episode.meta.get("replay_of"):
                episode = None  # a replay re-runs an episode already exported: no duplicate training data
            if episode is None:
                skipped += 1
            else:
                found.append(episode)
    return found, skipped


def _prompt(episode: Episode) -> list[dict[str, Any]]:
    from nbdojo.agents.llm import system_prompt

    start = _mapping(episode.meta.get("reset_info"))
    system = system_prompt(_mapping(start.get("spec")), _mapping(start.get("budget")), "tools")
    return [{"role": "system", "content": system}, {"role": "user", "content": episode.first_observation}]


def sft_record(episode: Episode, *, observation_chars: int | None = None) -> dict[str, Any]:
    """The episode as the LLM agent's chat, tool calls and all (no summarised context: every turn verbatim).

    Observations are cut in the middle to `observation_chars`, as the agent cuts them (its default
    when None)."""
    from nbdojo.actions import tool_schemas
    from nbdojo.agents.llm import MAX_OUTPUT_CHARS, budget_footer
    from nbdojo.observation import truncate_middle

    limit = observation_chars or MAX_OUTPUT_CHARS
    messages = _prompt(episode)
    for step in episode.steps:
        call_id = f"call_{step.step}"
        content = truncate_middle(step.observation, limit)
        content += f"\n\n{budget_footer(step.budget)}" if step.budget else ""
        if step.action["action"] == "invalid":  # a reply with no usable action, answered as a user turn
            raw = step.action.get("raw")
            reply = raw.get("reply") if isinstance(raw, dict) and "reply" in raw else json.dumps(raw)
            messages += [{"role": "assistant", "content": step.thought or reply}, {"role": "user", "content": content}]
            continue
        arguments = {k: v for k, v in step.action.items() if k != "action"}
        messages.append({"role": "assistant", "content": step.thought,
                         "tool_calls": [{"id": call_id, "type": "function",
                                         "function": {"name": step.action["action"],
                                                      "arguments": json.dumps(arguments)}}]})
        messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
    return {"messages": messages, "tools": tool_schemas(), "metadata": episode.summary()}


def rl_record(episode: Episode) -> dict[str, Any]:
    """The episode as states, actions and rewards, each step's as the env gave it (kept on its cell) under the
    episode's reward mode; a notebook whose rewards nbdojo did not sign (from before the modes, or edited since)
    gets `final`'s: 0 per step, HumanRank on the last."""
    final = episode.final
    signed = episode.rewards_signed
    kept = signed and bool(episode.steps) and all(s.reward is not None for s in episode.steps)
    steps = [{"step": s.step, "thought": s.thought, "action": s.action, "observation": s.observation,
              "status": s.status, "reward": s.reward if kept else 0.0} for s in episode.steps]
    if steps and not kept:
        steps[-1]["reward"] = _number(final.get("human_rank"))
    meta = episode.meta if signed else {"final": final}
    return {"prompt": _prompt(episode), "steps": steps, "reward": episode_return(meta), "reward_mode": mode_of(meta),
            "terminated": final.get("how") == "submitted", "final": final, "metadata": episode.summary()}


def export(paths: list[str | Path], output: str | Path, *, fmt: str = "sft", min_human_rank: float = 0.0,
           submitted_only: bool = False, verified_only: bool = False, dedup: bool = True,
           max_tokens: int | None = None, best_per_competition: bool = False,
           count_tokens: Callable[[dict[str, Any]], int] | None = None) -> dict[str, int]:
    """Write the kept episodes: one JSON line each (`sft`, `rl`), or a Hugging Face dataset in the folder
    `output` (`hf`: the SFT conversation and the grade, see `nbdojo.tools.export_hf`). Identical episodes
    are kept once (`dedup`); `max_tokens` drops every episode whose SFT conversation is longer (counted by
    `count_tokens`, default an estimate from its characters), never cutting one; `best_per_competition`
    keeps each competition's best-graded episode. Returns the counts of written, filtered out and skipped
    notebooks, and how many of the written ones are unverified."""
    from nbdojo.tools.export_filters import estimate_tokens, select

    if fmt not in FORMATS:
        from nbdojo.errors import ConfigError

        raise ConfigError(f"Unknown export format {fmt!r}; use one of: {', '.join(FORMATS)}.")
    output = Path(output)
    found, skipped = episodes([Path(p) for p in paths])
    kept = [e for e in found if _number(e.final.get("human_rank")) >= min_human_rank
            and (not submitted_only or e.final.get("how") == "submitted") and (not verified_only or e.verified)]
    count = count_tokens or estimate_tokens
    kept = select(kept, count_tokens=lambda e: count(sft_record(e)), dedup=dedup, max_tokens=max_tokens,
                  best_only=best_per_competition)
    if fmt == "hf":
        from nbdojo.tools.export_hf import dataset_row, write_dataset

        write_dataset([dataset_row(r, count(r)) for r in map(sft_record, kept)], output)
    else:
        _write_lines(map(sft_record if fmt == "sft" else rl_record, kept), output)
    return {"written": len(kept), "filtered": len(found) - len(kept), "skipped": skipped,
            "unverified": sum(not e.verified for e in kept)}


def _write_lines(records: Iterable[dict[str, Any]], output: Path) -> None:
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(output)  # a reader never sees half a file
