"""Where a batch's episodes run: worker processes on this machine (`local`, the default: nbdojo.batch) or a Ray
cluster (`ray`: nbdojo.backends.ray_cluster, with Ray as the optional extra `pip install nbdojo[ray]`),
with retries of failed episodes on either; and `run_episodes`, the public entry to both.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from nbdojo.backends.retry import run_with_retries
from nbdojo.batch import EpisodeFailure, EpisodePlan, Outcome, plan_episodes, run_plans
from nbdojo.errors import ConfigError
from nbdojo.limits import Limits

BACKENDS = ("local", "ray")


def run_plans_on(plans: list[EpisodePlan], *, backend: str = "local", workers: int = 2, address: str | None = None,
                 shared_out: str | Path | None = None, retries: int = 0, gpus_per_episode: int | None = None,
                 cpus_per_episode: float = 1.0,
                 on_start: Callable[[EpisodePlan], None] | None = None,
                 on_done: Callable[[EpisodePlan, Outcome], None] | None = None,
                 on_retry: Callable[[EpisodePlan, EpisodeFailure, int], None] | None = None) -> list[Outcome]:
    """Run the plans on a backend; outcomes in plan order. `local`: `workers` processes at a time, with
    `gpus_per_episode` GPUs of this machine given to episodes in turn. `ray`: each episode an actor that asks
    the cluster at `address` (None: $RAY_ADDRESS, else a Ray started here) for `cpus_per_episode` CPUs,
    `gpus_per_episode` GPUs and its memory cap; notebooks come back to each plan's out folder, or are written
    straight to `shared_out` (a folder every node sees). Failed episodes run again up to `retries` times."""
    if backend not in BACKENDS:
        raise ConfigError(f"Unknown backend {backend!r}: choose {' or '.join(BACKENDS)}.")
    if gpus_per_episode is not None and gpus_per_episode < 0:
        raise ConfigError("gpus_per_episode must be 0 or more.")
    if backend == "local":
        if address is not None or shared_out is not None:
            raise ConfigError("--address and --shared-out are for --backend ray.")
        with_gpus = list(plans)
        if gpus_per_episode is not None:
            from nbdojo.kernel.gpus import gpu_indices

            with_gpus = round_robin_gpus(plans, gpus_per_episode, gpu_indices())
        assigned = {id(p): q for p, q in zip(plans, with_gpus)}
        given = {id(q): p for p, q in zip(plans, with_gpus)}  # callbacks see the plans as the caller knows them

        def run(chunk: list[EpisodePlan], started: Any, done: Any) -> list[Outcome]:
            return run_plans([assigned[id(p)] for p in chunk], workers=workers,
                             on_start=started and (lambda q: started(given[id(q)])),
                             on_done=done and (lambda q, o: done(given[id(q)], o)))
    else:
        from nbdojo.backends.ray_cluster import RayBackend

        cluster = RayBackend(address=address, shared_out=shared_out, cpus_per_episode=cpus_per_episode,
                             gpus_per_episode=gpus_per_episode)

        def run(chunk: list[EpisodePlan], started: Any, done: Any) -> list[Outcome]:
            return cluster.run_plans(chunk, on_start=started, on_done=done)
    try:
        return run_with_retries(run, plans, retries=retries, on_start=on_start, on_done=on_done, on_retry=on_retry)
    finally:
        if backend == "ray":
            cluster.close()


def round_robin_gpus(plans: list[EpisodePlan], per_episode: int, available: list[int]) -> list[EpisodePlan]:
    """Each plan gets `per_episode` GPUs of its own group: the GPUs are cut into groups of that size, and
    episode i takes group i mod groups (0 GPUs: none at all). More episodes at once than groups share them."""
    if per_episode == 0:
        return [replace(plan, gpus=()) for plan in plans]
    groups = [available[i:i + per_episode] for i in range(0, len(available) - per_episode + 1, per_episode)]
    if not groups:
        raise ConfigError(f"--gpus-per-episode {per_episode}: this machine has {len(available)} GPU(s).")
    return [replace(plan, gpus=tuple(groups[i % len(groups)])) for i, plan in enumerate(plans)]


def run_episodes(competition: str | list[str], *, agent: str = "baseline", seeds: list[int] | range = range(4),
                 workers: int = 2, out_dir: str | Path = "runs", limits: Limits | None = None,
                 sandbox: bool = True, gpus: list[int] | None = None, kernel_env: str | Path | None = None,
                 reward: str = "final", pool_size: int = 0, backend: str = "local", address: str | None = None,
                 shared_out: str | Path | None = None, retries: int = 0, gpus_per_episode: int | None = None,
                 cpus_per_episode: float = 1.0, **agent_options: Any) -> list[Outcome]:
    """Run each competition once per seed; every episode gets its own kernel and notebook.

    `backend="local"` (default): `workers` processes on this machine; `pool_size=1` has each worker start
    its next episode's kernel while the current one runs (a warm reset: worth it when a worker runs several
    episodes and its CPUs are not busy all along, as with an LLM agent waiting on its model). `backend="ray"`:
    on the Ray cluster at `address` (see `run_plans_on`). Failed episodes run again up to `retries` times.
    Works from a plain script, with no `if __name__ == "__main__":` guard."""
    competitions = [competition] if isinstance(competition, str) else list(competition)
    plans = [plan for comp in competitions
             for plan in plan_episodes(comp, seeds, agent=agent, agent_options=agent_options, out_dir=out_dir,
                                       limits=limits, sandbox=sandbox, gpus=gpus, kernel_env=kernel_env,
                                       reward=reward, pool_size=pool_size)]
    return run_plans_on(plans, backend=backend, workers=workers, address=address, shared_out=shared_out,
                        retries=retries, gpus_per_episode=gpus_per_episode, cpus_per_episode=cpus_per_episode)
