"""Rollouts to a training set in a few lines: 4 baseline episodes on 2 small competitions, exported as a
Hugging Face dataset of chats with tool calls and their grades (`pip install 'nbdojo[hf]'`).

    python examples/rollouts_to_dataset.py [FOLDER]    # runs in FOLDER/runs, the dataset in FOLDER/dataset
"""

import sys
from pathlib import Path

import nbdojo

folder = Path(sys.argv[1] if len(sys.argv) > 1 else "example")
nbdojo.run_episodes(["penguins", "diabetes-progression"], agent="baseline", seeds=[0, 1], workers=2,
                    out_dir=folder / "runs")
counts = nbdojo.export([folder / "runs"], folder / "dataset", fmt="hf", submitted_only=True)
print(f"{counts['written']} episodes in {folder / 'dataset'}; load it with datasets.load_from_disk")
