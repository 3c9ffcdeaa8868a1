"""The Ray backend and remote envs on a real multi-node Ray cluster that this module starts on this machine.

`ray.cluster_utils.Cluster`: a head node and one worker node, each with one CPU, 2 GiB of Ray `memory`, a
small object store and a custom resource of its own; the worker also declares one (fake) GPU, so an
episode that asks for a GPU can only be placed there. No real GPU is used: an episode given Ray's GPU 0
fails at the kernel, which finds no such device on this machine. Episodes are cheap replays (one cell
that copies the sample submission); the kill test's episodes wait in their cell for a go-file the test
writes, so it can choose when each ends and kill the worker node while one of them runs there.
The cluster is shut down at the end, leaving no raylet behind.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import nbformat
import pytest
from test_signals import kernels_of

from nbdojo.backends import run_plans_on
from nbdojo.backends.ray_cluster import NodeFailure, NodeResult, RayBackend, episode_options
from nbdojo.batch import EpisodePlan
from nbdojo.limits import Limits

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(600)]

MiB, GiB = 1024**2, 1024**3
COPY = "import shutil\nshutil.copy(f'{DATA_DIR}/sample_submission.csv', SUBMISSION_PATH)"
WAIT_FOR_GO = ("import pathlib, time\npathlib.Path('started').write_text('yes')\nt0 = time.time()\n"
               "while not pathlib.Path('go').exists() and time.time() - t0 < 240:\n    time.sleep(0.2)\n" + COPY)
LIMITS = Limits(max_steps=4, memory_bytes=GiB)


def write_notebook(path: Path, *sources: str) -> Path:
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), str(path))
    return path


@pytest.fixture(scope="module")
def cluster(prepared_home, tmp_path_factory):
    """(cluster, head node, worker node, scratch folder of the nodes' episodes)."""
    import os

    import ray
    from ray.cluster_utils import Cluster

    scratch = tmp_path_factory.mktemp("ray-scratch")
    os.environ["NBDOJO_RAY_SCRATCH"] = str(scratch)  # the nodes' workers inherit it
    node = {"num_cpus": 1, "object_store_memory": 80 * MiB, "memory": 2 * GiB}
    cluster = Cluster()
    try:
        # Ray gives a node 30 s to register: on a loaded 2-core machine that can pass; try again then
        _add_node(cluster, **node, resources={"head_node": 1}, include_dashboard=False)
        worker = _add_node(cluster, **node, num_gpus=1, resources={"worker_node": 1})
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        yield cluster, cluster.head_node, worker, scratch
    finally:
        ray.shutdown()
        cluster.shutdown()
        os.environ.pop("NBDOJO_RAY_SCRATCH", None)


def _add_node(cluster, **args):
    for attempt in range(3):
        try:
            return cluster.add_node(**args)
        except Exception as exc:  # noqa: BLE001 - "The current node timed out during startup"
            if "timed out during startup" not in str(exc) or attempt == 2:
                raise


def test_episodes_run_on_both_nodes_and_their_notebooks_come_back(cluster, tmp_path):
    _, head, worker, scratch = cluster
    agent = f"replay:{write_notebook(tmp_path / 'copy.ipynb', COPY)}"
    out = tmp_path / "runs"
    plans = [EpisodePlan(comp, seed, agent, out_dir=str(out), limits=LIMITS)
             for comp, seed in (("loan-default", 0), ("penguins", 0), ("loan-default", 1), ("penguins", 1))]
    started = []
    backend = RayBackend()
    outcomes = backend.run_plans(plans, on_start=lambda plan: started.append(plan.seed))
    backend.close()  # the backend did not connect (this test did): the cluster stays up
    assert all(isinstance(o, NodeResult) and o.score is not None for o in outcomes), outcomes
    assert {o.node for o in outcomes} == {head.node_id, worker.node_id}  # both nodes ran episodes
    assert [(o.competition, o.seed) for o in outcomes] == [(p.competition, p.seed) for p in plans]
    assert sorted(started) == [0, 0, 1, 1]
    for outcome in outcomes:  # each notebook came back to the driver's out folder, complete
        assert outcome.notebook.parent.parent == out
        nb = nbformat.read(str(outcome.notebook), as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["nbdojo"]["final"]["score"] == outcome.score
        assert nb.metadata["nbdojo"]["competition"] == outcome.competition
        assert outcome.to_dict()["node"] == outcome.node
    assert not list(scratch.iterdir())  # the nodes' scratch folders were deleted once sent back

    shared = tmp_path / "shared"  # with a shared path, notebooks are written there by the nodes directly
    (outcome,) = run_plans_on(plans[:1], backend="ray", shared_out=shared)
    assert isinstance(outcome, NodeResult) and outcome.notebook.parent.parent == shared
    assert outcome.notebook.is_file() and not list(scratch.iterdir())


def test_an_episode_asking_for_a_gpu_is_placed_on_the_node_that_declares_one(cluster, tmp_path):
    """Only the worker declares a GPU (a fake one): Ray places the episode there and hands it GPU 0, which
    the episode gives its kernel; on this GPU-less machine the kernel then finds no GPU 0. Never ran on a GPU."""
    _, head, worker, _ = cluster
    plan = EpisodePlan("penguins", 0, "baseline", out_dir=str(tmp_path), limits=LIMITS)
    assert episode_options(plan, gpus=1) == {"num_cpus": 1.0, "num_gpus": 1, "max_restarts": 0,
                                             "max_task_retries": 0, "memory": GiB}
    assert episode_options(EpisodePlan("penguins", 0, gpus=(0, 1), limits=Limits(memory_bytes=None)),
                           cpus=4) == {"num_cpus": 4, "num_gpus": 2, "max_restarts": 0, "max_task_retries": 0}
    (outcome,) = run_plans_on([plan], backend="ray", gpus_per_episode=1)
    assert isinstance(outcome, NodeFailure) and outcome.node == worker.node_id
    assert "GPU" in outcome.error and "0" in outcome.error, outcome.error


def test_the_cli_runs_a_batch_on_the_cluster(cluster, tmp_path):
    """`nbdojo run ... --backend ray --address A`, as a user types it, from a driver of its own."""
    import json
    import os
    import re
    import subprocess
    import sys

    raycluster, head, worker, _ = cluster
    out = tmp_path / "runs"
    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "penguins", "--episodes", "2", "--agent",
                           f"replay:{write_notebook(tmp_path / 'copy.ipynb', COPY)}", "--max-steps", "4",
                           "--memory-gb", "1", "--backend", "ray", "--address", raycluster.address,
                           "--cpus-per-episode", "1", "--out", str(out)],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "250"}, timeout=400)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2/2 episodes finished" in proc.stdout
    rows = [json.loads(line) for line in
            Path(re.search(r"summary (\S+\.jsonl)", proc.stdout).group(1)).read_text().splitlines()]
    assert {r["node"] for r in rows} == {head.node_id, worker.node_id}
    assert all(Path(r["notebook"]).parent.parent == out and Path(r["notebook"]).is_file() for r in rows)


def test_four_remote_envs_step_at_once(cluster):
    import nbdojo

    _, head, worker, _ = cluster
    envs = [nbdojo.remote_env("penguins", num_cpus=0.5, limits=Limits(max_steps=5, memory_bytes=512 * MiB))
            for _ in range(4)]
    try:
        assert {env.where()["node"] for env in envs} == {head.node_id, worker.node_id}

        async def episode() -> list[tuple]:
            await asyncio.gather(*(env.areset(seed=i) for i, env in enumerate(envs)))
            cell = {"action": "execute_code", "code": f"import time\nt0 = time.time()\ntime.sleep(4)\n{COPY}\nprint(t0)"}
            t0 = time.monotonic()
            steps = await asyncio.gather(*(env.astep(cell) for env in envs))
            return steps, time.monotonic() - t0

        steps, took = asyncio.run(episode())
        assert all(info["status"] == "ok" for _, _, _, _, info in steps), steps
        starts = sorted(float(obs.split()[-1]) for obs, *_ in steps if obs.split())
        assert len(starts) == 4 and starts[-1] - starts[0] < 4.0, starts  # all four cells were asleep at once
        assert took < 14.0, took  # one after another: at least 16 s
        obs, reward, terminated, truncated, info = envs[0].step({"action": "submit"})  # the blocking form
        assert terminated and "score" in info["final"]
        path, text = envs[0].notebook()
        assert path and "nbdojo-scorer" in text
    finally:
        for env in envs:
            env.close()


def test_ctrl_c_stops_a_ray_batch_and_brings_back_its_running_episodes_notebooks(cluster, tmp_path):
    """A real SIGINT to this (the driver's) process while two episodes wait in their cells, one per node: each is
    stopped as a local one is (by SIGTERM: Ray's workers block SIGINT), closes its notebook as interrupted and
    sends it back."""
    import os
    import signal

    from nbdojo.batch import BatchInterrupted

    _, head, worker, scratch = cluster
    agent = f"replay:{write_notebook(tmp_path / 'wait.ipynb', WAIT_FOR_GO)}"
    plans = [EpisodePlan("penguins", seed, agent, out_dir=str(tmp_path / "runs"), limits=LIMITS) for seed in range(3)]
    before = set(scratch.glob("*/*/workspace/started"))
    started: list[Path] = []  # the waiting episodes' workspaces, as they were when the signal went

    def interrupt() -> None:
        deadline = time.monotonic() + 240
        while len(set(scratch.glob("*/*/workspace/started")) - before) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        started.extend(p.parent for p in set(scratch.glob("*/*/workspace/started")) - before)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(BatchInterrupted) as caught:
        run_plans_on(plans, backend="ray")
    assert caught.value.signal_name == "SIGINT"
    outcomes = caught.value.outcomes  # the third episode never started: not reported
    assert len(outcomes) == 2 and len({o.seed for o in outcomes}) == 2
    assert all(isinstance(o, NodeFailure) and o.error == "interrupted (SIGINT)" for o in outcomes), outcomes
    assert {o.node for o in outcomes} == {head.node_id, worker.node_id}
    for outcome in outcomes:
        notebook = Path(outcome.notebook)
        assert notebook.parent.parent == tmp_path / "runs", "the notebook came back into the plan's out folder"
        nb = nbformat.read(str(notebook), as_version=4)
        nbformat.validate(nb)
        assert nb.metadata["nbdojo"]["ended"] and nb.metadata["nbdojo"]["final"] is None
        marker = [c.source for c in nb.cells if c.cell_type == "markdown" and "Episode interrupted" in c.source]
        assert marker and marker[0].startswith("**Episode interrupted** (SIGTERM) during step 1 (execute_code)")
    assert len(started) == 2 and not any(w.exists() for w in started), "the stopped actors deleted their scratch"
    deadline = time.monotonic() + 60
    while any(kernels_of(workspace) for workspace in started):
        assert time.monotonic() < deadline, "a kernel outlived its interrupted episode"
        time.sleep(0.5)


def test_a_worker_node_killed_mid_batch_is_reported_and_its_episode_retried(cluster, tmp_path):
    raycluster, head, worker, scratch = cluster
    agent = f"replay:{write_notebook(tmp_path / 'wait.ipynb', WAIT_FOR_GO)}"
    out = tmp_path / "runs"
    plans = [EpisodePlan("penguins", seed, agent, out_dir=str(out), limits=LIMITS) for seed in range(4)]
    done, retried, result = [], [], {}

    def batch() -> None:
        result["outcomes"] = run_plans_on(plans, backend="ray", retries=1, on_done=lambda p, o: done.append(o),
                                          on_retry=lambda p, failure, attempt: retried.append((p.seed, failure)))

    def started(node: str) -> list[Path]:
        return sorted(scratch.glob(f"episode-{node[:12]}-*/*/workspace/started"))

    def wait_until(what, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert thread.is_alive() or what(), "the batch ended early"
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.2)

    thread = threading.Thread(target=batch)
    thread.start()
    wait_until(lambda: started(head.node_id) and started(worker.node_id))
    first = started(worker.node_id)[0]
    (first.parent / "go").write_text("go")  # the worker's first episode finishes ...
    wait_until(lambda: any(o.node == worker.node_id for o in done))
    wait_until(lambda: any(p != first for p in started(worker.node_id)))  # ... and the next one starts there
    running = [p for p in started(worker.node_id) if p != first][0].parent
    raycluster.remove_node(worker, allow_graceful=False)  # the node dies mid-episode
    while thread.is_alive():  # let every episode on the head finish, the retried one too
        for path in started(head.node_id):
            (path.parent / "go").write_text("go")
        time.sleep(0.3)
    thread.join()
    outcomes = result["outcomes"]
    assert all(isinstance(o, NodeResult) and o.score is not None for o in outcomes), outcomes
    # the episode running on the dead node was reported, with its node, then run again (on the head); one
    # that Ray had queued there and never started may be reported too, with no node
    lost = [(seed, failure) for seed, failure in retried if failure.node is not None]
    assert len(lost) == 1 and lost[0][1].node == worker.node_id, retried
    assert all(isinstance(f, NodeFailure) and f.error.startswith("lost: ") and "died" in f.error
               for _, f in retried), retried
    assert all(outcomes[seed].node == head.node_id for seed, _ in retried)
    finished_on_worker = [o for o in outcomes if o.node == worker.node_id]
    assert len(finished_on_worker) == 1 and finished_on_worker[0].notebook.is_file()  # nothing finished was lost
    assert sorted(o.notebook.parent.parent for o in outcomes) == [out] * 4
    deadline = time.monotonic() + 30
    while kernels_of(running) and time.monotonic() < deadline:  # the dead node's kernel went with it
        time.sleep(0.5)
    assert not kernels_of(running)

