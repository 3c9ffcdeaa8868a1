"""Which episodes become training data: duplicates out, over-long episodes out whole, the best per competition.

An episode is kept or dropped as a whole: nothing here ever cuts a conversation short, which
would teach a model to stop in the middle of its work.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from typing import Any

#: An `nbdojo.tools.export.Episode` (that module calls this one: naming the class here would be an import cycle).
Episode = Any

#: Characters per token when no tokenizer is given: about what BPE tokenizers give on English and code.
CHARS_PER_TOKEN = 4.0

TokenCounter = Callable[[Episode], int]  # an episode -> the length of its SFT conversation in tokens


def content_key(episode: Episode) -> str:
    """A hash of what the agent saw and did (competition, first observation, every action, thought,
    observation and status): two episodes with the same key teach a model the same thing."""
    steps = [[s.action, s.thought, s.observation, s.status] for s in episode.steps]
    text = json.dumps([episode.meta.get("competition"), episode.first_observation, steps],
                      sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def estimate_tokens(record: dict[str, Any], chars_per_token: float = CHARS_PER_TOKEN) -> int:
    """The SFT record's length in tokens, estimated from its characters (messages, tool calls and tool schemas)."""
    from nbdojo.agents.context import message_chars

    chars = sum(message_chars(m) for m in record["messages"]) + len(json.dumps(record.get("tools") or []))
    return math.ceil(chars / chars_per_token)


def drop_duplicates(episodes: list[Episode]) -> list[Episode]:
    """One of each set of identical episodes (see `content_key`), in its place in the given order: the first
    verified one, else the first (a copy claiming another grade never displaces the verified original)."""
    chosen: dict[str, Episode] = {}
    for episode in episodes:
        key = content_key(episode)
        if key not in chosen or (episode.verified and not chosen[key].verified):
            chosen[key] = episode
    kept = {id(e) for e in chosen.values()}
    return [e for e in episodes if id(e) in kept]


def within_tokens(episodes: list[Episode], max_tokens: int, count: TokenCounter) -> list[Episode]:
    """The episodes whose whole SFT conversation fits in `max_tokens`; longer ones are dropped, never cut."""
    return [e for e in episodes if count(e) <= max_tokens]


def _number(value: Any, default: float) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok else default


def _rank(episode: Episode) -> tuple[bool, float, float]:
    final = episode.final
    graded = final.get("score") is not None
    return (episode.verified, _number(final.get("normalized_score"), -math.inf) if graded else -math.inf,
            _number(final.get("human_rank"), 0.0) if graded else -1.0)


def best_per_competition(episodes: list[Episode]) -> list[Episode]:
    """Per competition, the episode with the best grade: a verified grade before any unverified one (a
    notebook handed in may claim any grade), then normalized score, then HumanRank, then the first found;
    competitions keep their first-found order."""
    best: dict[Any, Episode] = {}
    for episode in episodes:
        competition = episode.meta.get("competition")
        if competition not in best or _rank(episode) > _rank(best[competition]):
            best[competition] = episode
    return list(best.values())


def select(episodes: list[Episode], *, count_tokens: TokenCounter, dedup: bool = True,
           max_tokens: int | None = None, best_only: bool = False) -> list[Episode]:
    """Apply the filters in order: duplicates out, then over-long episodes, then the best per competition
    (so a competition whose best episode is too long keeps its best one that fits)."""
    if dedup:
        episodes = drop_duplicates(episodes)
    if max_tokens is not None:
        episodes = within_tokens(episodes, max_tokens, count_tokens)
    if best_only:
        episodes = best_per_competition(episodes)
    return episodes
