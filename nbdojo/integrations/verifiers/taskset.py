"""The verifiers taskset: one task per (competition, seed), scored from the episode's signed notebook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import verifiers.v1 as vf
from pydantic import Field, model_validator

from nbdojo.integrations.verifiers.settings import check_settings
from nbdojo.notebook import nbdojo_meta
from nbdojo.grading.rewards import DEFAULT_MODE, episode_return, sealed
from nbdojo.trajectory import VERIFIED, notebook_identity, verification

__all__ = ["EpisodeData", "EpisodeTask", "NbdojoTaskset", "NbdojoTasksetConfig", "notebook_outcome"]


class EpisodeData(vf.TaskData):
    """One nbdojo episode to play: what a rollout needs to make its `DojoEnv`."""

    competition: str
    seed: int | None = None
    reward: str = DEFAULT_MODE
    limits: dict[str, Any] = Field(default_factory=dict)  # `Limits` fields
    out_dir: str = "runs"
    sandbox: bool = True
    kernel_env: str | None = None


def notebook_outcome(path: str | Path) -> dict[str, float]:
    """The episode's return (its reward under its mode) and grade, from its notebook; 0 unless the grade
    is signed by nbdojo for this notebook (`verified`)."""
    nb = nbformat.read(str(path), as_version=4)
    meta = nbdojo_meta(nb)
    final = meta.get("final") or {}
    verified = verification(nb) == VERIFIED
    grade = {key: float(final[key]) for key in ("human_rank", "normalized_score", "score")
             if isinstance(final.get(key), (int, float)) and not isinstance(final.get(key), bool)}
    if not sealed(meta, nb.cells, notebook_identity(nb)):  # rewards nbdojo did not sign: `final`'s, from the grade
        meta = {"final": final}
    return {"reward": episode_return(meta) if verified else 0.0, "verified": float(verified), **grade}


class EpisodeTask(vf.Task[EpisodeData]):
    """Scored by the notebook the rollout's harness wrote (`trace.info["nbdojo"]["notebook"]`)."""

    @property
    def key(self) -> str:
        return self.data.id or self.hash  # "competition/s<seed>": stable whatever the task's position

    @staticmethod
    def _outcome(trace: vf.Trace) -> dict[str, float] | None:
        notebook = (trace.info.get("nbdojo") or {}).get("notebook")
        return notebook_outcome(notebook) if notebook and Path(notebook).is_file() else None

    @vf.reward
    async def nbdojo(self, trace: vf.Trace) -> float:
        """The episode's return: HumanRank under the `final` mode."""
        outcome = self._outcome(trace)
        return outcome["reward"] if outcome else 0.0

    @vf.metric
    async def grade(self, trace: vf.Trace) -> dict[str, float]:
        """HumanRank, normalized and raw score of the final grade (absent without one), and whether it is signed."""
        outcome = self._outcome(trace) or {"verified": 0.0}
        return {key: value for key, value in outcome.items() if key != "reward"}


class NbdojoTasksetConfig(vf.TasksetConfig):
    """`--env.taskset.*`: which episodes, under which reward mode and limits."""

    competitions: list[str] = Field(default_factory=lambda: ["loan-default"])
    seeds: list[int] = Field(default_factory=lambda: [0])
    reward: str = DEFAULT_MODE
    limits: dict[str, Any] = Field(default_factory=dict)
    out_dir: str = "runs"
    sandbox: bool = True
    kernel_env: str | None = None

    @model_validator(mode="after")
    def _checked(self) -> NbdojoTasksetConfig:
        self.limits = check_settings(self.competitions, self.seeds, self.reward, self.limits)
        self.out_dir = str(Path(self.out_dir).resolve())
        return self


class NbdojoTaskset(vf.Taskset[EpisodeTask, NbdojoTasksetConfig]):
    """One task per (competition, seed), in that order; each competition's data prepared here, before any
    rollout (rollouts of one competition run at once and must not build its data together)."""

    def load(self) -> list[EpisodeTask]:
        from nbdojo.competitions import get_competition, is_prepared, prepare

        config = self.config
        tasks = []
        for competition in config.competitions:
            spec = get_competition(competition)
            if not is_prepared(spec):
                prepare(spec)
            for seed in config.seeds:
                data = EpisodeData(
                    id=f"{competition}/s{seed}", name=f"{competition} (seed {seed})", description=spec.title,
                    prompt=f"Solve the nbdojo competition {spec.title!r} ({competition}, seed {seed}).",
                    competition=competition, seed=seed, reward=config.reward, limits=config.limits,
                    out_dir=config.out_dir, sandbox=config.sandbox, kernel_env=config.kernel_env)
                tasks.append(EpisodeTask(data, config.task))
        return tasks
