#!/usr/bin/env python
"""Replay reference notebooks as nbdojo episodes and record their scores in `notebooks/scores.json`.

    python scripts/record_notebook_scores.py                # every notebooks/<id>.ipynb
    python scripts/record_notebook_scores.py penguins ...   # just these
    python scripts/record_notebook_scores.py --prepare ...  # rebuild their data first (it changed since)

Each notebook runs as `nbdojo run <id> --agent replay:notebooks/<id>.ipynb --seed 0`: a fresh sandboxed
kernel, the episode's own limits, graded by nbdojo. The private score (`score`) comes from the run's
final grade and the public one (`public_score`) from its `validate` step. Entries of other notebooks
in the file are kept; a notebook whose replay fails is reported and left as it was.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
SCORES = NOTEBOOKS / "scores.json"


def public_score(trajectory: Path) -> float | None:
    """The public score the run's `validate` step reported (the last one, if there were several)."""
    found = None
    for cell in nbformat.read(str(trajectory), as_version=4).cells:
        meta = cell.metadata.get("nbdojo") or {}
        if meta.get("action") == "validate" and isinstance(meta.get("public_score"), (int, float)):
            found = float(meta["public_score"])
    return found


def record(competition: str, out: Path, *, rebuild: bool = False) -> dict[str, Any]:
    """Replay one notebook; {"score", "public_score"} of its run, or {"error"}."""
    if rebuild:
        prep = subprocess.run([sys.executable, "-m", "nbdojo", "competitions", "prepare", competition, "--force"],
                              capture_output=True, text=True, cwd=ROOT)
        if prep.returncode:
            return {"error": "prepare failed: " + ((prep.stderr or prep.stdout).strip().splitlines() or ["?"])[-1]}
    cmd = [sys.executable, "-m", "nbdojo", "run", competition, "--agent", f"replay:{NOTEBOOKS / competition}.ipynb",
           "--seed", "0", "--out", str(out), "--json"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    try:
        result = json.loads(proc.stdout)
    except ValueError:
        return {"error": (proc.stderr.strip().splitlines() or ["no output"])[-1]}
    if result.get("score") is None:
        return {"error": result.get("error") or f"no score ({result.get('status')})"}
    return {"score": float(result["score"]), "public_score": public_score(Path(result["notebook"])),
            "notebook": result["notebook"], "duration_s": result.get("duration_s")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="competition ids (default: every notebook in notebooks/)")
    parser.add_argument("--prepare", action="store_true", help="rebuild each competition's data before its replay")
    parser.add_argument("--out", type=Path, default=None, help="folder for the runs (default: a temporary one)")
    args = parser.parse_args(argv)
    ids = args.ids or sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    out = args.out or Path(tempfile.mkdtemp(prefix="nbdojo-notebook-scores-"))
    failed = 0
    for competition in ids:
        got = record(competition, out, rebuild=args.prepare)
        if "error" in got:
            failed += 1
            print(f"{competition}: FAILED {got['error']}", file=sys.stderr)
            continue
        scores = json.loads(SCORES.read_text()) if SCORES.is_file() else {}  # as it is now: another run may have written
        scores[competition] = {"score": round(got["score"], 6), "public_score": None if got["public_score"] is None
                               else round(got["public_score"], 6)}
        SCORES.write_text(json.dumps(dict(sorted(scores.items())), indent=2) + "\n")
        print(f"{competition}: score {got['score']:.6f} public {got['public_score']} "
              f"({got.get('duration_s') or 0:.0f} s) {got['notebook']}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
