"""Grading: validating a submission, scoring it on the hidden answers, placing it on the leaderboard, signing it.

grader       validation and scoring of nbdojo's competitions; `grade` (the scorer cell's entry point)
submission   the one trusted reader from a workspace to the grader
leaderboard  position, HumanRank, medals and the normalized score (a leaf); metrics: the metric table (a leaf)
noise        the bootstrap standard error of a score
ceiling      the dummy (0) and ceiling (1) of the normalized score: the sample submission, the oracle or best entry
external     competitions added in the MLE-bench / MLE-Dojo layouts, graded by their own graders
signing      HMAC signatures over grades
rewards      an episode's step rewards under its reward mode (final, public_delta, shaped), from its grades

Names are imported on first use, so `nbdojo.grading.metrics` stays a leaf that the competition
specs can import without loading the grader.
"""

from __future__ import annotations

from nbdojo._package import lazy_getattr

_EXPORTS = {
    "Grade": "nbdojo.grading.leaderboard",
    "MEDALS": "nbdojo.grading.leaderboard",
    "human_rank": "nbdojo.grading.leaderboard",
    "medal": "nbdojo.grading.leaderboard",
    "medal_thresholds": "nbdojo.grading.leaderboard",
    "normalized": "nbdojo.grading.leaderboard",
    "bootstrap_se": "nbdojo.grading.noise",
    "position": "nbdojo.grading.leaderboard",
    "METRICS": "nbdojo.grading.metrics",
    "Metric": "nbdojo.grading.metrics",
    "average_precision_at_k": "nbdojo.grading.metrics",
    "ranked_items": "nbdojo.grading.metrics",
    "grade": "nbdojo.grading.grader",
    "grade_workspace_file": "nbdojo.grading.grader",
    "load_leaderboard": "nbdojo.grading.grader",
    "score_submission": "nbdojo.grading.grader",
    "validate_submission": "nbdojo.grading.grader",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr("nbdojo.grading", _EXPORTS, globals())
