"""Finished ladder entries kept on disk, so an interrupted ladder build carries on where it stopped.

One folder per competition: each finished rung leaves `<name>.json` (its leaderboard row and a key
naming its recipe) and `<name>.npy` (its predictions for the test rows, which ensembles and the
noise estimate reuse). A `fingerprint` file names the data the entries were scored on; when the
data changes (a new generator, a bigger test set) the folder is emptied and everything is refitted.
A rung whose recipe changed (its key differs) is refitted too.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["EntryCache", "rung_key"]


def rung_key(*parts: object) -> str:
    """A short stable hash of a recipe's description (name, method, features, share, seed, ...)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) + "-" + hashlib.sha256(name.encode()).hexdigest()[:6]


class EntryCache:
    """Rows and predictions of finished entries under `folder`, valid for one data `fingerprint`."""

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = Path(folder)
        stamp = self.folder / "fingerprint"
        if self.folder.is_dir() and (not stamp.is_file() or stamp.read_text().strip() != fingerprint):
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not stamp.is_file():
            stamp.write_text(fingerprint + "\n")

    def _path(self, name: str, suffix: str) -> Path:
        """`name`'s file: the suffix is appended (`Path.with_suffix` would cut a name like `shrink_0.5` short)."""
        return self.folder / f"{_safe(name)}{suffix}"

    def get(self, name: str, key: str) -> dict[str, Any] | None:
        """The cached row of `name` if it was scored with the recipe `key`, else None."""
        path = self._path(name, ".json")
        if not path.is_file():
            return None
        record = json.loads(path.read_text())
        return record["row"] if record.get("key") == key else None

    def prediction(self, name: str) -> np.ndarray | None:
        """The cached test-row predictions of `name` (floats, or strings for labels and rankings)."""
        path = self._path(name, ".npy")
        return np.load(path, allow_pickle=False) if path.is_file() else None

    def put(self, name: str, key: str, row: dict[str, Any], prediction: np.ndarray | None) -> None:
        """Store a finished entry; the row is written last, so a half-written entry is never read."""
        if prediction is not None:
            values = np.asarray(prediction)
            if values.dtype.kind not in "fiub":
                values = values.astype(str)
            tmp = self._path(name, ".tmp.npy")
            np.save(tmp, values, allow_pickle=False)
            os.replace(tmp, self._path(name, ".npy"))
        tmp = self._path(name, ".json.tmp")
        tmp.write_text(json.dumps({"key": key, "row": _plain(row)}, allow_nan=True))
        os.replace(tmp, self._path(name, ".json"))

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
