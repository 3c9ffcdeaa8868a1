"""Remote environments for trainers: `nbdojo.remote_env(competition)` is a DojoEnv living in a Ray actor.

The handle has the Gym contract (`reset`, `step`, `close`, a context manager) and asyncio versions
(`await env.areset()`, `await env.astep(action)`, `await env.aclose()`), so a trainer can hold N of them
across a cluster and step them concurrently (`asyncio.gather(*(env.astep(a) for env, a in ...))`). The actor
asks Ray for its CPUs, GPUs and the episode's memory cap, as batch episodes do; its kernel runs on the
actor's node, with the GPUs Ray gave it. The notebook is written on that node (`out_dir`, a node-local
scratch folder by default); `notebook()` returns its text wherever the trainer is.
"""

from __future__ import annotations

import socket
import tempfile
from pathlib import Path
from typing import Any

from nbdojo.backends.ray_cluster import connect, import_ray, scratch_root
from nbdojo.limits import Limits


class EnvHost:
    """The actor: one DojoEnv (wrapped with `ray.remote` by RemoteEnv)."""

    def __init__(self, competition: str, out_dir: str | None, env_kwargs: dict[str, Any]):
        import ray

        from nbdojo.env import DojoEnv

        if out_dir is None:
            scratch_root().mkdir(parents=True, exist_ok=True)
            out_dir = tempfile.mkdtemp(prefix="remote-env-", dir=scratch_root())
        gpus = [int(g) for g in ray.get_gpu_ids()]
        self.env = DojoEnv(competition, out_dir=out_dir, gpus=gpus, **env_kwargs)
        self.node = {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(), "gpus": gpus}

    def where(self) -> dict[str, Any]:
        return self.node

    def reset(self, seed: int | None, options: dict[str, Any] | None) -> tuple[str, dict]:
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        return self.env.step(action)

    def notebook(self) -> tuple[str | None, str | None]:
        """(the notebook's path on the actor's node, its text), or (None, None) before the first reset."""
        path = self.env.notebook_path
        return (str(path), Path(path).read_text(encoding="utf-8")) if path and Path(path).is_file() else (None, None)

    def close(self) -> None:
        self.env.close()


class RemoteEnv:
    """A handle to a DojoEnv in a Ray actor: the Gym contract, blocking or awaited."""

    def __init__(self, competition: str, *, address: str | None = None, num_cpus: float = 1.0, num_gpus: int = 0,
                 out_dir: str | Path | None = None, limits: Limits | None = None, **env_kwargs: Any):
        self._ray = import_ray()
        connect(address)
        limits = limits or Limits()
        options: dict[str, Any] = {"num_cpus": num_cpus, "num_gpus": num_gpus, "max_restarts": 0}
        if limits.memory_bytes is not None:
            options["memory"] = int(limits.memory_bytes)
        self.competition = competition
        self._actor = self._ray.remote(EnvHost).options(**options).remote(
            competition, str(out_dir) if out_dir is not None else None, {"limits": limits, **env_kwargs})
        self._closed = False

    def where(self) -> dict[str, Any]:
        """{node: Ray node id, host, gpus}: where the env and its kernel run (waits for the actor to start)."""
        return self._ray.get(self._actor.where.remote())

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return self._ray.get(self._actor.reset.remote(seed, options))

    def step(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        return self._ray.get(self._actor.step.remote(action))

    async def areset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        return await self._actor.reset.remote(seed, options)

    async def astep(self, action: Any) -> tuple[str, float, bool, bool, dict]:
        return await self._actor.step.remote(action)

    def notebook(self) -> tuple[str | None, str | None]:
        """(path on the actor's node, text) of the episode's notebook."""
        return self._ray.get(self._actor.notebook.remote())

    def close(self) -> None:
        """Close the env (its notebook is finalised, its kernel shut down), then end the actor. Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._ray.get(self._actor.close.remote())
        finally:
            self._ray.kill(self._actor)

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._actor.close.remote()
        finally:
            self._ray.kill(self._actor)

    def __enter__(self) -> RemoteEnv:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def remote_env(competition: str, **options: Any) -> RemoteEnv:
    """A DojoEnv for `competition` in a Ray actor: `address` (None: $RAY_ADDRESS, else a Ray started here),
    `num_cpus`, `num_gpus` and the `limits`' memory cap are what the actor asks the cluster for; `out_dir` is
    where its notebook goes on its node; the other options go to DojoEnv (agent, model, sandbox, reward...)."""
    return RemoteEnv(competition, **options)
