"""The baseline agent: a fixed, sensible sequence of cells for any competition. No LLM.

It reads the files and surveys what they hold (tables, free text, images, `.npy` signals,
extra tables, the target's type), then fits what a generic Kaggler would: gradient boosting
on tabular features and per-channel signal summaries, TF-IDF with a linear model on text, a
small CNN on images, past answer rates for ranking. It scores the model on a holdout, fits
on all of train, writes `submission.csv`, validates and submits. The survey cell prints the
recipe it found (`recipe: images` or `recipe: features`) and the agent plays that recipe's
cells. The cells come from `baseline_cells`, which the leaderboard script also runs, so the
baseline is a real entry on each ladder; they live in `baseline_data`, `baseline_models`,
`baseline_images` and `baseline_ranking`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from nbdojo.agents import baseline_data, baseline_images, baseline_models
from nbdojo.agents.baseline_ranking import ranking_cells

if TYPE_CHECKING:
    import pandas as pd

RECIPES = ("features", "images")
_RECIPE_LINE = re.compile(r"^recipe: (\w+)$", re.MULTILINE)


def survey_cells(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """The cells every recipe starts with: load the files, then survey them (ranking: all of its cells)."""
    load = ("Load the data, find the target and what to write.", baseline_data.load_cell(spec))
    if spec["task"] == "ranking" or spec["prediction"] == "ranking":
        return [load, *ranking_cells(spec)]
    return [load, ("Survey the files: images, arrays, free text, extra tables, missing values, the target.",
                   baseline_data.SURVEY)]


def recipe_cells(spec: dict[str, Any], recipe: str) -> list[tuple[str, str]]:
    """The cells after the survey for the recipe it printed: "features" (tables, text, signals) or "images"."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {', '.join(RECIPES)}, not {recipe!r}.")
    if spec["task"] == "ranking" or spec["prediction"] == "ranking":
        return []
    split = ("Set aside a fifth of train to score on; say what to write for each kind of target.",
             baseline_models.TARGETS)
    if recipe == "images":
        return [split,
                ("Load the images small, on a capped sample of train.", baseline_images.LOAD_IMAGES),
                ("Train a small CNN on the CPU and score it on the holdout.", baseline_images.CNN),
                ("Predict the test images and write the submission.", baseline_images.WRITE_IMAGES)]
    return [split,
            ("Build features: dates split, categories, counts for many-valued columns, signal summaries, TF-IDF.",
             baseline_models.FEATURES),
            ("Fit on four fifths and score the holdout: a linear model on text, gradient boosting otherwise.",
             baseline_models.FIT),
            ("Fit on all of train and write the submission.", baseline_models.WRITE)]


def baseline_cells(spec: dict[str, Any], recipe: str = "features") -> list[tuple[str, str]]:
    """(thought, code) pairs for a competition spec (`info["spec"]`: id_column, target_columns, task, ...)."""
    return [*survey_cells(spec), *recipe_cells(spec, recipe)]


def recipe_in(output: str) -> str:
    """The recipe the survey cell printed ("features" when it printed none it knows)."""
    found = _RECIPE_LINE.findall(output or "")
    return found[-1] if found and found[-1] in RECIPES else "features"


class BaselineAgent:
    """Plays the survey cells, then the cells of the recipe the survey printed, then validates and submits."""

    name = "baseline"
    model: str | None = None

    def __init__(self) -> None:
        self._plan: list[dict[str, Any]] = []
        self._spec: dict[str, Any] = {}
        self._fell_back = False

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self._spec = info["spec"]
        self._fell_back = False
        self._plan = [{"action": "request_info", "topic": "data",
                       "thought": "Read what the data files hold before touching them."}]
        self._plan += [{"action": "execute_code", "code": code, "thought": thought}
                       for thought, code in survey_cells(self._spec)]
        self._plan.append({"action": "recipe"})  # a marker: the survey's output picks the next cells
        self._plan += [
            {"action": "validate", "thought": "Check the file's format and its public score."},
            {"action": "submit", "thought": "Submit the file for the final, private score."},
        ]

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        if info.get("action") in ("validate", "submit") and info.get("status") != "ok" and not self._fell_back:
            # The model's file is broken: fall back to the sample submission, a valid (if weak) answer.
            self._fell_back = True
            self._plan = [
                {"action": "execute_code", "thought": "The submission is not valid; fall back to the sample file.",
                 "code": 'import shutil\nshutil.copy(f"{DATA_DIR}/sample_submission.csv", SUBMISSION_PATH)'},
                {"action": "submit"},
            ]
        if self._plan and self._plan[0]["action"] == "recipe":
            self._plan[:1] = [{"action": "execute_code", "code": code, "thought": thought}
                              for thought, code in recipe_cells(self._spec, recipe_in(observation))]
        if not self._plan:
            return {"action": "get_history", "thought": "Nothing left to try."}
        return self._plan.pop(0)

    def usage(self) -> dict[str, Any] | None:
        return None


def baseline_submission(data_dir: str, spec: dict[str, Any], *, seed: int = 0) -> pd.DataFrame:
    """Run the baseline's cells in-process (no kernel) and return its submission: its leaderboard entry."""
    import contextlib
    import io
    import os
    import tempfile

    import pandas as pd

    with tempfile.TemporaryDirectory(prefix="nbdojo-baseline-") as workspace:
        namespace: dict[str, Any] = {"DATA_DIR": data_dir, "WORKSPACE": workspace, "SEED": seed,
                                     "SUBMISSION_PATH": os.path.join(workspace, "submission.csv")}
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            for _, code in survey_cells(spec):
                exec(compile(code, "<baseline>", "exec"), namespace)
            for _, code in recipe_cells(spec, recipe_in(printed.getvalue())):
                exec(compile(code, "<baseline>", "exec"), namespace)
        return pd.read_csv(namespace["SUBMISSION_PATH"], dtype={spec["id_column"]: str})
