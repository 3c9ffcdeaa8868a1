#!/usr/bin/env python
"""Fit diabetes-progression's model to scikit-learn's diabetes data and write it beside the competition.

    python scripts/fit_diabetes_copula.py

Run once, offline, on the host. The competition's prepare.py then samples patients from
`copula.json` alone: per sex, each fitted column's sorted real values (its empirical
distribution, no row kept) and the correlation matrix of their normal scores. So building
the competition needs no data-source package, and the agent's toolbox (which has
scikit-learn) holds nothing the competition's data comes from row by row.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from sklearn.datasets import load_diabetes

FOLDER = Path(__file__).resolve().parent.parent / "nbdojo" / "competitions" / "builtin" / "diabetes-progression"


def main() -> None:
    spec = importlib.util.spec_from_file_location("diabetes_prepare", FOLDER / "prepare.py")
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    real = load_diabetes(as_frame=True, scaled=False).frame  # sex is coded 1 and 2 in the source
    model = {"source": "scikit-learn's load_diabetes (Efron et al. 2004), unscaled",
             "male_share": float((real["sex"] == 2).mean()), "sexes": {}}
    for code, sex in ((1.0, "F"), (2.0, "M")):
        group = real.loc[real["sex"] == code, list(prepare.FITTED)]
        scores = np.column_stack([prepare.normal_scores(group[c].to_numpy()) for c in prepare.FITTED])
        model["sexes"][sex] = {
            "correlation": np.corrcoef(scores, rowvar=False).tolist(),
            "marginals": {c: np.sort(group[c].to_numpy(float)).tolist() for c in prepare.FITTED},
        }
    (FOLDER / "copula.json").write_text(json.dumps(model, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {FOLDER / 'copula.json'}")


if __name__ == "__main__":
    main()
