"""A batch's jsonl (`<out>/batch-<stamp>.jsonl`): one row per episode, and what `--resume` reads back.

Rows are appended as episodes come back, so a batch killed outright (SIGKILL, a lost machine) still leaves
one for every episode that had finished; at the end the file is rewritten in plan order. A row is the
episode's record (`EpisodeResult.to_dict()` or `EpisodeFailure.to_dict()`) plus `plan`: the competition,
agent (as given: `replay:PATH`, not just `replay`), model and seed that name the episode, and `attempts`.
An episode is finished for `--resume` when a row of any batch in the folder says so and its notebook is
still on disk, closed (`ended` set) and of that competition and seed.
"""

from __future__ import annotations

import json
import os
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

from nbdojo.batch import EpisodePlan, Outcome
from nbdojo.runner import EpisodeResult


def plan_key(plan: EpisodePlan) -> str:
    return json.dumps(plan_record(plan), sort_keys=True)


def plan_record(plan: EpisodePlan) -> dict[str, Any]:
    return {"competition": plan.competition, "agent": plan.agent, "model": plan.agent_options.get("model"),
            "seed": plan.seed}


def row(plan: EpisodePlan, outcome: Outcome, attempts: int = 1) -> dict[str, Any]:
    return {**outcome.to_dict(), "plan": plan_record(plan), "attempts": attempts}


class Ledger:
    """The jsonl of one batch run: `append` as episodes come back, `finish` to write it in plan order."""

    def __init__(self, out: Path):
        out.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for n in range(1, 1000):
            path = out / (f"batch-{stamp}.jsonl" if n == 1 else f"batch-{stamp}-{n}.jsonl")
            try:
                path.touch(exist_ok=False)
                break
            except FileExistsError:
                continue
        self.path = path

    def append(self, data: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(data, sort_keys=True, default=str) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def finish(self, rows: list[dict[str, Any]]) -> None:
        temp = self.path.with_suffix(".jsonl.tmp")
        temp.write_text("".join(json.dumps(r, sort_keys=True, default=str) + "\n" for r in rows), encoding="utf-8")
        os.replace(temp, self.path)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of one jsonl (a torn last line, from a batch killed mid-write, is skipped)."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict):
            rows.append(data)
    return rows


def _notebook_closed(data: dict[str, Any]) -> bool:
    """The row's notebook is on disk, closed, and records the row's competition and seed."""
    import nbformat

    from nbdojo.notebook import nbdojo_meta

    path = Path(str(data.get("notebook") or ""))
    if not path.is_file():
        return False
    try:
        meta = nbdojo_meta(nbformat.read(str(path), as_version=4))
    except Exception:  # noqa: BLE001 - a damaged notebook is simply not finished
        return False
    return bool(meta.get("ended")) and meta.get("competition") == data.get("competition") \
        and meta.get("seed") == data.get("seed")


def finished_rows(out: Path) -> dict[str, dict[str, Any]]:
    """Finished episodes in an output folder, by plan key: the latest row of each (see the module's doc)."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(out.glob("batch-*.jsonl"), key=lambda p: p.stat().st_mtime):
        for data in read_rows(path):
            if "error" in data or not isinstance(data.get("plan"), dict):
                continue
            if _notebook_closed(data):
                found[json.dumps(data["plan"], sort_keys=True)] = data
    return found


def result_from_row(data: dict[str, Any]) -> EpisodeResult:
    """The EpisodeResult a row was written from (a resumed batch reports finished episodes as they were)."""
    names = {f.name for f in fields(EpisodeResult)}
    values = {k: v for k, v in data.items() if k in names}
    values["notebook"] = Path(values["notebook"])
    return EpisodeResult(**values)


def split_finished(plans: list[EpisodePlan], out: Path) -> tuple[list[int], dict[int, dict[str, Any]]]:
    """(indices of plans still to run, {index: row} of plans already finished in `out`)."""
    finished = finished_rows(out)
    todo, done = [], {}
    for index, plan in enumerate(plans):
        key = plan_key(plan)
        if key in finished:
            done[index] = finished[key]
        else:
            todo.append(index)
    return todo, done


