"""Agents that play nbdojo episodes, found by name ("module:Class" entry points, imported on use)."""

from __future__ import annotations

import importlib
from typing import Any

from nbdojo.agents.base import Agent
from nbdojo.errors import ConfigError

AGENTS = {
    "baseline": "nbdojo.agents.baseline:BaselineAgent",
    "llm": "nbdojo.agents.llm:LLMAgent",
    "replay": "nbdojo.agents.replay:ReplayAgent",
}


def agent_class(name: str) -> type:
    """The class registered under `name` (imported now, so `openai` loads only for the llm agent)."""
    entry = AGENTS.get(name)
    if entry is None:
        raise ConfigError(f"Unknown agent {name!r}; available: {', '.join(sorted(AGENTS))}.")
    module, _, attr = entry.partition(":")
    return getattr(importlib.import_module(module), attr)


def make_agent(name: str, **options: Any) -> Agent:
    """An agent from its CLI name (e.g. "baseline")."""
    return agent_class(name)(**options)


def agent_from_spec(spec: str, **options: Any) -> Agent:
    """An agent from its `--agent` form: `baseline`, `llm` (options: model, base_url, ...) or `replay:NOTEBOOK`."""
    name, _, arg = spec.partition(":")
    if name == "replay":
        if not arg:
            raise ConfigError("Name the notebook to replay: --agent replay:PATH.")
        return make_agent("replay", notebook_path=arg)
    if arg:
        raise ConfigError(f"The {name!r} agent takes no ':' argument (only replay:PATH does).")
    if name == "llm" and not options.get("model"):
        raise ConfigError("--agent llm needs --model (e.g. --model gpt-4o-mini).")
    return make_agent(name, **options)


__all__ = ["AGENTS", "Agent", "agent_class", "agent_from_spec", "make_agent"]
