"""SFT records as a Hugging Face `datasets` dataset on disk (`datasets.load_from_disk` reads it back).

One row per episode: `messages` and `tools` as `nbdojo export --format sft` writes them (each message
and each tool schema a JSON value, so a row reads back exactly as the JSON line: no struct fills
absent keys with nulls that chat templates would trip on), and the episode's grade as plain columns
to filter and weigh on: competition, agent, model, seed, score, normalized_score, human_rank
(HumanRank), medal, verified, how it ended, steps, num_tokens, notebook.
Needs the `datasets` package: `pip install 'nbdojo[hf]'`.
"""

from __future__ import annotations

import math
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from nbdojo.errors import ConfigError
from nbdojo.integrations import require

#: Metadata columns and their `datasets.Value` types, in column order after `messages` and `tools`.
COLUMNS = {"competition": "string", "agent": "string", "model": "string", "seed": "int64", "score": "float64",
           "normalized_score": "float64", "human_rank": "float64", "medal": "string", "verified": "bool",
           "how": "string", "steps": "int64", "num_tokens": "int64", "notebook": "string"}
#: Files `Dataset.save_to_disk` writes: a folder holding them may be replaced; any other folder is refused.
DATASET_FILES = ("dataset_info.json", "state.json")


def _plain(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "float64":
        return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    if kind == "int64":
        ok = isinstance(value, int) and not isinstance(value, bool) and -2**63 <= value < 2**63
        return int(value) if ok else None
    if kind == "bool":
        return bool(value)
    return str(value)


def dataset_row(record: dict[str, Any], num_tokens: int) -> dict[str, Any]:
    """An SFT record (`nbdojo.tools.export.sft_record`) as a dataset row."""
    meta = {**record["metadata"], "num_tokens": num_tokens}
    return {"messages": record["messages"], "tools": record["tools"],
            **{name: _plain(meta.get(name), kind) for name, kind in COLUMNS.items()}}


def _replaceable(output: Path) -> bool:
    """An empty folder, or one holding a saved dataset and nothing else (a folder with a dataset's two files
    beside someone's own, a clone with its .git, notes, is never replaced: it would all be deleted)."""
    if output.is_symlink() or not output.is_dir():
        return False
    names = {entry.name for entry in output.iterdir()}
    shards = {name for name in names if re.fullmatch(r"data-\d{5}-of-\d{5}\.arrow", name)}
    return not names or (set(DATASET_FILES) <= names and not names - shards - set(DATASET_FILES))


def write_dataset(rows: list[dict[str, Any]], output: Path) -> None:
    """Save the rows as a dataset in the folder `output`, replacing a dataset saved there before (never
    another folder); written beside it first, so a reader never sees half a dataset."""
    datasets = require("datasets", "hf", feature="export --format hf")
    output = Path(output)
    if output.exists() and not _replaceable(output):
        raise ConfigError(f"{output} exists and is not a dataset nbdojo wrote; name a new or empty folder.")
    features = datasets.Features({"messages": datasets.List(datasets.Json()), "tools": datasets.List(datasets.Json()),
                                  **{name: datasets.Value(kind) for name, kind in COLUMNS.items()}})
    table = {name: [row[name] for row in rows] for name in features}
    dataset = datasets.Dataset.from_dict(table, features=features)
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        dataset.save_to_disk(str(staging / "data"))
        old = staging / "old"
        if output.exists():
            output.rename(old)
        (staging / "data").rename(output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
