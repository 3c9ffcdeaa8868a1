"""Where a grade's normalized score puts 0 and 1: the dummy and the ceiling of a competition.

- The dummy (0) is the sample submission's score on the same part (public or private): the constant or
  trivial entry every competition ships, so it exists for synthetic, real and added competitions alike.
- The ceiling (1) of a synthetic competition is the oracle's score: `private/oracle.csv`, written by its
  prepare.py from the generator's own truth (true probabilities, noise-free values, the true ranking or
  labels). A real competition (or one built without an oracle) takes its ladder's best reference entry.

Scoring the sample and oracle files costs as much as grading them, so their scores are kept, per part,
in `nbdojo_home()/scales/<id>.json`, keyed by a digest of the answers, sample and oracle files: a
rebuilt competition is scored afresh, and grading never re-scores the oracle otherwise.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from nbdojo.competitions.prepare_kit import ORACLE_FILE
from nbdojo.competitions.spec import CompetitionData
from nbdojo.config import nbdojo_home
from nbdojo.errors import NbdojoError

logger = logging.getLogger(__name__)

__all__ = ["BEST_ENTRY", "ORACLE", "anchor_scores", "oracle_path", "scale"]

ORACLE = "oracle"
BEST_ENTRY = "best reference entry"
#: Scores a trusted file (the sample or the oracle submission) on some parts: (path, parts) -> {part: score}.
Scorer = Callable[[Path, Sequence[str]], Mapping[str, float]]

_memo: dict[tuple[Path, str], dict[str, dict[str, float]]] = {}


def oracle_path(data: CompetitionData) -> Path | None:
    """The oracle submission of a synthetic competition, or None (a real one, or built without it)."""
    path = data.private_dir / ORACLE_FILE
    return path if data.spec.origin == "synthetic" and path.is_file() else None


def _digest(paths: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def _store(spec_id: str) -> Path:
    return nbdojo_home() / "scales" / f"{spec_id}.json"


def _read(path: Path, key: str) -> dict[str, dict[str, float]] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("digest") != key or not isinstance(record.get("parts"), dict):
        return None
    return record["parts"]


def _write(path: Path, key: str, parts: dict[str, dict[str, float]]) -> None:
    """Atomically, and never fatally: a read-only home only means scoring again next time."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"digest": key, "parts": parts}, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        logger.warning("could not keep the dummy and oracle scores in %s: %s", path, exc)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _safe(score: Scorer, path: Path | None, parts: Sequence[str]) -> dict[str, float]:
    if path is None:
        return {part: math.nan for part in parts}
    try:
        scores = score(path, parts)
        return {part: float(scores[part]) for part in parts}
    except (NbdojoError, OSError, ValueError, KeyError) as exc:  # a broken sample or oracle never stops a grade
        logger.warning("could not score %s: %s", path, exc)
        return {part: math.nan for part in parts}


def anchor_scores(data: CompetitionData, score: Scorer, parts: Sequence[str] = ("public", "private"),
                  ) -> dict[str, dict[str, float]]:
    """{part: {"dummy": sample's score, "oracle": oracle's score (NaN without one)}}, scored once and kept."""
    oracle = oracle_path(data)
    files = [p for p in (data.answers_path, data.sample_submission_path, oracle) if p is not None and p.is_file()]
    key = _digest(files)
    memo_key = (data.answers_path, key)
    if memo_key in _memo:
        return _memo[memo_key]
    store = _store(data.spec.id)
    parts_scores = _read(store, key)
    if parts_scores is None or any(p not in parts_scores for p in parts):
        dummy, best = _safe(score, data.sample_submission_path, parts), _safe(score, oracle, parts)
        parts_scores = {part: {"dummy": dummy[part], ORACLE: best[part]} for part in parts}
        _write(store, key, parts_scores)
    _memo[memo_key] = parts_scores
    return parts_scores


def _best(scores: np.ndarray, higher_is_better: bool) -> float:
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return math.nan
    return float(finite.max() if higher_is_better else finite.min())


def scale(data: CompetitionData, part: str, board_scores: Sequence[float] | np.ndarray, score: Scorer,
          ) -> tuple[float, float, str]:
    """(dummy, ceiling, where the ceiling comes from) for a grade on `part`.

    The ceiling is the oracle's score where the competition has an oracle, else the best of
    `board_scores` (the leaderboard the grade is placed on); NaN and "" when neither exists.
    """
    anchors = anchor_scores(data, score).get(part, {})
    dummy = float(anchors.get("dummy", math.nan))
    oracle = float(anchors.get(ORACLE, math.nan))
    if math.isfinite(oracle):
        return dummy, oracle, ORACLE
    best = _best(np.asarray(board_scores, dtype=float), data.spec.higher_is_better)
    return dummy, best, BEST_ENTRY if math.isfinite(best) else ""
