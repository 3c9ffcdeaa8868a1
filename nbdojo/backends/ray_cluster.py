"""The Ray backend: each episode an actor on a Ray cluster, declaring the CPUs, GPUs and memory it needs.

Ray places the actor on a node that has them, and the episode's sandboxed kernel runs on that node. The
actor first says where it is (node id, host), then runs the plan with `nbdojo.batch.run_plan`: GPUs are
the ones Ray assigned it (`ray.get_gpu_ids()`), never the host's choice. Notebooks either come back to the
driver (the episode runs in a scratch folder on its node, and its notebook is sent back and written into
the plan's out folder; the workspace is deleted there) or, with `shared_out`, are written straight to a
folder every node mounts. A node that dies takes its running episodes with it: each comes back as an
`EpisodeFailure` naming the node, so the batch reports it and retries it when asked (nbdojo.backends.retry);
finished episodes were already back and are never lost. A stop signal (Ctrl-C, SIGTERM) stops the
running episodes as a local batch does: each actor's process is sent SIGTERM on its node (Ray's workers
block SIGINT), again every second as one just starting may not listen yet, so its episode closes its
notebook as interrupted (by SIGTERM, its notebook says) and sends it back. One that has not answered
within `nbdojo.batch.STOP_GRACE_S` is killed with its actor; its notebook, never closed, stays where it
was written and reads as abandoned.

Ray is imported only here (and in nbdojo.backends.remote), lazily: nbdojo works without the extra.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from nbdojo.batch import STOP_GRACE_S, BatchInterrupted, EpisodeFailure, EpisodePlan, Outcome, run_plan
from nbdojo.errors import ConfigError
from nbdojo.runner import EpisodeResult, ignore_stop_signals, interrupting_signal, stop_signals_interrupt
from nbdojo.runstate import process_start, signal_if_alive

RAY_MISSING = "the Ray backend needs Ray: pip install 'nbdojo[ray]'"


def import_ray() -> Any:
    """The `ray` module, or a one-line ConfigError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def connect(address: str | None) -> bool:
    """Connect this process to the Ray cluster at `address` (None: $RAY_ADDRESS, else a new local Ray);
    True when this call connected (the caller then disconnects), False when already connected."""
    ray = import_ray()
    if ray.is_initialized():
        return False
    ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    return True


@dataclass
class NodeResult(EpisodeResult):
    """An episode finished on a Ray node: `node` is the Ray node id, `host` its hostname."""

    node: str | None = None
    host: str | None = None


@dataclass
class NodeFailure(EpisodeFailure):
    """An episode that failed on (or with) a Ray node."""

    node: str | None = None
    host: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "node": self.node, "host": self.host}


def episode_options(plan: EpisodePlan, *, cpus: float = 1.0, gpus: int | None = None) -> dict[str, Any]:
    """The Ray actor options of one episode: its CPUs, its GPUs (`gpus`, else as many as the plan names,
    else none) and its memory cap (Limits.memory_bytes, Ray's logical `memory` resource); never restarted
    by Ray (a lost episode is reported, and retried by nbdojo only when asked)."""
    count = gpus if gpus is not None else (len(plan.gpus) if plan.gpus is not None else 0)
    options: dict[str, Any] = {"num_cpus": cpus, "num_gpus": count, "max_restarts": 0, "max_task_retries": 0}
    if plan.limits.memory_bytes is not None:
        options["memory"] = int(plan.limits.memory_bytes)
    return options


def scratch_root() -> Path:
    """Where a node keeps the run folders of episodes whose notebooks go back to the driver."""
    return Path(os.environ.get("NBDOJO_RAY_SCRATCH") or Path(tempfile.gettempdir()) / "nbdojo-ray")


class EpisodeHost:
    """The actor of one episode (wrapped with `ray.remote` by RayBackend).

    Stop signals are ignored but while its episode runs (`run_plan` listens to them): a stop that comes
    before the episode starts, or as it sends its notebook back, must not kill the actor and lose it."""

    def __init__(self) -> None:
        ignore_stop_signals()

    def where(self) -> dict[str, Any]:
        import ray

        pid = os.getpid()
        return {"node": ray.get_runtime_context().get_node_id(), "host": socket.gethostname(),
                "gpus": [int(g) for g in ray.get_gpu_ids()], "pid": pid, "start": process_start(pid)}

    def run(self, plan: EpisodePlan, bring_back: bool) -> tuple[Outcome, dict[str, bytes]]:
        """Run the plan here with the GPUs Ray gave this actor; with `bring_back`, in a scratch folder whose
        notebooks are returned ({path under the scratch folder: bytes}) and which is then deleted."""
        spot = self.where()
        plan = replace(plan, gpus=tuple(spot["gpus"]), pool_size=0)  # an actor runs one episode: no pool
        if not bring_back:
            return run_plan(plan), {}
        scratch_root().mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"episode-{spot['node'][:12]}-", dir=scratch_root()))
        try:
            outcome = run_plan(replace(plan, out_dir=str(scratch)))
            files = {str(p.relative_to(scratch)): p.read_bytes() for p in scratch.glob("*/trajectory.ipynb")}
            return outcome, files
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


class RayBackend:
    """Runs plans on a Ray cluster; `close()` disconnects when this backend connected."""

    def __init__(self, *, address: str | None = None, shared_out: str | Path | None = None,
                 cpus_per_episode: float = 1.0, gpus_per_episode: int | None = None):
        self.ray = import_ray()
        self.shared_out = str(Path(shared_out).expanduser().resolve()) if shared_out is not None else None
        self.cpus, self.gpus = cpus_per_episode, gpus_per_episode
        self._connected = connect(address)
        self._host_class = self.ray.remote(EpisodeHost)
        self._signal = self.ray.remote(num_cpus=0, max_retries=0)(signal_if_alive)  # run on the episode's node

    def close(self) -> None:
        if self._connected:
            self._connected = False
            self.ray.shutdown()

    def run_plans(self, plans: list[EpisodePlan], *, on_start: Callable[[EpisodePlan], None] | None = None,
                  on_done: Callable[[EpisodePlan, Outcome], None] | None = None) -> list[Outcome]:
        """Every plan as an actor at once (Ray queues what does not fit); outcomes in plan order."""
        ray = self.ray
        if self.shared_out is not None:
            plans_run = [replace(p, out_dir=self.shared_out) for p in plans]
        else:
            plans_run = list(plans)
        outcomes: dict[int, Outcome] = {}
        hosts = {i: self._host_class.options(**episode_options(p, cpus=self.cpus, gpus=self.gpus)).remote()
                 for i, p in enumerate(plans_run)}
        placing = {hosts[i].where.remote(): i for i in hosts}
        running: dict[Any, int] = {}
        where: dict[int, dict[str, Any]] = {}

        def finish(index: int, outcome: Outcome) -> None:
            outcomes[index] = outcome
            actor = hosts.pop(index, None)
            if actor is not None:
                ray.kill(actor)
            if on_done is not None:
                on_done(plans[index], outcome)

        with stop_signals_interrupt():
            try:
                while placing or running:
                    ready, _ = ray.wait([*placing, *running], num_returns=1, timeout=1.0)
                    for ref in ready:
                        if ref in placing:
                            index = placing.pop(ref)
                            try:
                                where[index] = ray.get(ref)
                            except ray.exceptions.RayError as exc:
                                finish(index, self._lost(plans[index], None, exc))
                                continue
                            running[hosts[index].run.remote(plans_run[index], self.shared_out is None)] = index
                            if on_start is not None:
                                on_start(plans[index])
                        else:  # still `running` while it is fetched: a stop meanwhile collects it again
                            index = running[ref]
                            outcome = self._collect(plans[index], ref, where[index])
                            del running[ref]
                            finish(index, outcome)
            except KeyboardInterrupt as exc:  # more stop signals are ignored until this returns
                name = interrupting_signal(exc)
                for index, outcome in self._stop(running, plans, where, name).items():
                    finish(index, outcome)
                for actor in hosts.values():  # episodes not yet placed never started: not reported
                    ray.kill(actor)
                raise BatchInterrupted(name, [outcomes[i] for i in sorted(outcomes)]) from None
        return [outcomes[i] for i in range(len(plans))]

    def _stop(self, running: dict[Any, int], plans: list[EpisodePlan], where: dict[int, dict[str, Any]],
              name: str) -> dict[int, Outcome]:
        """Send each running episode's process SIGTERM, on its node, every second until all have answered
        or STOP_GRACE_S has passed. An episode cut short comes back as `interrupted (name)`
        with its notebook, one that had just finished keeps its result, one whose node died says so, and
        one that did not answer in time is reported as interrupted without a notebook."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        deadline, answered = time.monotonic() + STOP_GRACE_S, set()
        while len(answered) < len(running) and time.monotonic() < deadline:
            for ref, index in running.items():
                if ref not in answered:
                    spot = where[index]
                    strategy = NodeAffinitySchedulingStrategy(spot["node"], soft=False)
                    self._signal.options(scheduling_strategy=strategy).remote(spot["pid"], spot["start"],
                                                                              signal.SIGTERM)
            waiting = [ref for ref in running if ref not in answered]
            ready, _ = ray.wait(waiting, num_returns=len(waiting), timeout=1.0)
            answered.update(ready)
        stopped: dict[int, Outcome] = {}
        for ref, index in running.items():
            plan, spot = plans[index], where[index]
            outcome = self._collect(plan, ref, spot) if ref in answered else None
            lost = isinstance(outcome, NodeFailure) and outcome.error.startswith("lost:")
            if outcome is None or (lost and self._node_alive(spot["node"])):  # killed in time, or its actor was
                outcome = NodeFailure(plan.competition, plan.seed, plan.agent, f"interrupted ({name})",
                                      node=spot["node"], host=spot["host"])
            elif isinstance(outcome, NodeFailure) and outcome.error.startswith("interrupted"):
                outcome = replace(outcome, error=f"interrupted ({name})")  # the batch's signal, not the SIGTERM
            stopped[index] = outcome
        return stopped

    def _collect(self, plan: EpisodePlan, ref: Any, spot: dict[str, Any]) -> Outcome:
        """The episode's outcome, with where it ran; its notebook written into the plan's out folder."""
        ray = self.ray
        try:
            outcome, files = ray.get(ref)
        except ray.exceptions.RayError as exc:
            return self._lost(plan, spot, exc)
        notebook = self._bring_back(plan, files) if files else None
        if isinstance(outcome, EpisodeResult):
            data = {**vars(outcome), "notebook": notebook or outcome.notebook}
            return NodeResult(**data, node=spot["node"], host=spot["host"])
        data = {**vars(outcome), "notebook": str(notebook) if notebook else outcome.notebook}
        return NodeFailure(**data, node=spot["node"], host=spot["host"])

    def _bring_back(self, plan: EpisodePlan, files: dict[str, bytes]) -> Path | None:
        """Write the notebook an episode sent back into the plan's out folder, in a run folder of the name it
        had on its node (a new stamped one if that is taken here); the notebook's path."""
        from nbdojo.records import new_run_folder

        notebook = None
        for relative, data in files.items():
            run_name = relative.partition("/")[0]
            folder = Path(plan.out_dir) / run_name
            try:
                folder.mkdir(parents=True)
            except FileExistsError:
                folder = new_run_folder(plan.out_dir, run_name)
            notebook = folder / "trajectory.ipynb"
            notebook.write_bytes(data)
        return notebook

    def _lost(self, plan: EpisodePlan, spot: dict[str, Any] | None, exc: Exception) -> NodeFailure:
        """An episode whose actor died (its node lost, or the actor killed), or that Ray could not run."""
        node = (spot or {}).get("node")
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if isinstance(exc, self.ray.exceptions.RayActorError):
            if node is None:  # placed on a node that died before the episode began, or never placed
                what = "its Ray actor died before the episode started"
            else:
                what = f"node {node} died" if not self._node_alive(node) else f"its Ray actor died (node {node})"
            error = f"lost: {what}: {type(exc).__name__}: {first}"
        else:
            error = f"{type(exc).__name__}: {first}"
        return NodeFailure(plan.competition, plan.seed, plan.agent, error, node=node, host=(spot or {}).get("host"))

    def _node_alive(self, node: str) -> bool:
        try:
            return any(n.get("NodeID") == node and n.get("Alive") for n in self.ray.nodes())
        except Exception:  # noqa: BLE001 - the cluster's state is unknown: say nothing of the node
            return True
