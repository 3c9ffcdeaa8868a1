"""The warm kernel pool with real sandboxed kernels: fresh kernels, the run's workspace, refills, no leftovers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
import types

import psutil
import pytest

from nbdojo.env import DojoEnv
from nbdojo.kernel.leftovers import POOL_MARKER as MARKER
from nbdojo.kernel.leftovers import sweep_reserved
from nbdojo.kernel.pool import KernelPool
from nbdojo.tools.watch import KernelFinder

pytestmark = pytest.mark.kernel

COMP = "loan-default"
START_S = 120  # a kernel start on a loaded 2-core machine


def code(src: str) -> dict:
    return {"action": "execute_code", "code": src}


#: What a kernel's processes run: nbdojo's launcher, bubblewrap, ipykernel.
KERNEL_PARTS = ("nbdojo.kernel", "bwrap", "ipykernel")


def kernel_processes() -> list[psutil.Process]:
    """This process's kernels: the processes it started for them, not helpers that earlier tests left
    behind in this process (multiprocessing's resource tracker, say)."""
    return [proc for proc in psutil.Process().children(recursive=True)
            if any(part in cmdline(proc) for part in KERNEL_PARTS)]


def cmdline(proc: psutil.Process) -> str:
    """A process's command line; empty once it is gone or a zombie (episode 1's kernel, being shut down)."""
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def running(procs: list[psutil.Process], wait_s: float = 10.0) -> list[psutil.Process]:
    """Those still running (not gone, not a zombie) after up to `wait_s` seconds."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = []
        for proc in procs:
            try:
                if proc.status() != psutil.STATUS_ZOMBIE:
                    alive.append(proc)
            except psutil.Error:
                pass
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


def eventually(check, timeout: float = 30.0) -> bool:
    """Whether `check()` comes true within `timeout` seconds (the pool shuts kernels down in its thread)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_warm_reset_gets_a_fresh_kernel_working_in_the_runs_own_folder(loan_default_data, tmp_path):
    runs = tmp_path / "runs"
    before = {p.pid for p in kernel_processes()}
    with DojoEnv(COMP, out_dir=runs, agent="test", pool_size=1) as env:
        env.reset(seed=1)  # cold: the pool fills for this episode's key from now on
        first = env.run_dir
        assert "-s1-" in first.name
        env.step(code("secret = 41\nopen('episode1.txt', 'w').write('one')"))
        assert (env.workspace / "episode1.txt").is_file()
        assert env._pool.wait_ready(timeout=START_S)

        env.reset(seed=2)  # warm
        assert env.run_dir.name.startswith(f"{COMP}-test-w") and env.run_dir != first
        assert not (env.run_dir / MARKER).exists()  # an episode's folder now, never swept
        obs, *_ = env.step(code("import os\nprint(globals().get('secret'), sorted(os.listdir('.')), "
                                "os.getcwd() == WORKSPACE, WORKSPACE, SEED)"))
        assert f"None [] True {env.workspace} 2" in obs  # no state, no file of episode 1; the run's workspace
        env.step(code("open('episode2.txt', 'w').write('two')"))
        assert (env.workspace / "episode2.txt").read_text() == "two"  # writes land in the run folder
        assert not (first / "workspace" / "episode2.txt").exists()
        meta = json.loads(env.notebook_path.read_text())["metadata"]["nbdojo"]
        assert meta["seed"] == 2 and meta["workspace"] == str(env.workspace)
        env.step({"action": "restart_kernel"})  # a pool-started kernel restarts in the same sandbox
        obs, *_ = env.step(code("print(open('episode2.txt').read(), SEED)"))
        assert "two 2" in obs

        assert env._pool.wait_ready(timeout=START_S)  # refilled while the episode runs
        assert env._pool.started == 2
        # `nbdojo watch` lists the episode's kernel, not the pooled one no episode has taken (nor, once the
        # pool's thread has shut it down after the refill, episode 1's)
        assert eventually(lambda: [k.run_dir for k in KernelFinder(runs).find()] == [env.run_dir])
        kernels = [p for p in kernel_processes() if p.pid not in before]
        assert len([p for p in kernels if "ipykernel" in cmdline(p)]) >= 2  # the episode's + the pool's
    assert running(kernels) == []  # closing the env closed the pool it made
    assert sorted(p.name for p in runs.iterdir()) == sorted([first.name, env.run_dir.name])  # reserved one gone


def test_a_reset_with_another_key_starts_cold_and_a_shared_pool_outlives_its_envs(loan_default_data, tmp_path):
    runs = tmp_path / "runs"
    pool = KernelPool(1)
    try:
        with DojoEnv(COMP, out_dir=runs, agent="test", pool=pool) as env:
            env.reset(seed=0)
            assert pool.wait_ready(timeout=START_S)
        assert pool.ready() == 1  # the env did not own the pool: it stays open, its kernel ready
        reserved = [p for p in runs.iterdir() if (p / MARKER).exists()]
        assert len(reserved) == 1

        with DojoEnv(COMP, out_dir=runs, agent="test", pool=pool, memory_bytes=3 * 1024**3) as env:
            env.reset(seed=5)  # another memory cap: another key
            assert "-s5-" in env.run_dir.name and env.kernel.caps.memory_bytes == 3 * 1024**3
            assert pool.wait_ready(timeout=START_S)  # refilled for the new key, the old kernel discarded
            assert eventually(lambda: not reserved[0].exists())
            kernels = kernel_processes()
    finally:
        pool.close()
    assert running(kernels) == []
    assert not [p for p in runs.iterdir() if (p / MARKER).exists()]


HOST = textwrap.dedent("""
    import json, sys, time
    import psutil
    from nbdojo.env import DojoEnv
    from nbdojo.kernel.pool import KernelPool
    pool = KernelPool(1)
    env = DojoEnv("loan-default", out_dir=sys.argv[1], agent="test", pool=pool)
    env.reset(seed=0)
    assert pool.wait_ready(timeout=120)
    print(json.dumps([p.pid for p in psutil.Process().children(recursive=True)]), flush=True)
    sys.stdin.readline()  # until the test holds its kernels: it must not race their shutdown
    if sys.argv[2] == "sleep":
        time.sleep(600)
""")  # "exit": leaves without closing anything (atexit must)


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_a_host_that_exits_or_is_killed_leaves_no_kernel(loan_default_data, tmp_path, ending):
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-c", HOST, str(runs), "sleep" if ending == "sigkill" else "exit"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        line = proc.stdout.readline()
        assert line, "the host did not start its pool"
        kernels = []  # the host waits for a line: its kernels are alive while they are looked up
        for pid in json.loads(line):
            try:
                kernels.append(psutil.Process(pid))
            except psutil.NoSuchProcess:  # a short-lived child of the host, gone already
                continue
        assert len(kernels) >= 2  # the episode's kernel and the pooled one, with their sandboxes
        proc.stdin.write("go\n")
        proc.stdin.flush()
        if ending == "sigkill":
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    assert running(kernels) == []
    reserved = [p for p in runs.iterdir() if (p / MARKER).exists()]
    if ending == "exit":
        assert reserved == []  # the pool was closed at exit
    else:  # a killed host cannot clean up: the next pool on the folder removes what it reserved
        assert len(reserved) == 1
        sweep_reserved.cache_clear()
        assert sweep_reserved(str(runs)) == reserved and not reserved[0].exists()


def test_a_batch_worker_keeps_a_pool_and_leaves_nothing_behind(loan_default_data, tmp_path):
    import nbformat

    from nbdojo import run_episodes
    from nbdojo.limits import Limits

    notebook = tmp_path / "copy.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(  # outlasts a kernel start
        "import shutil, time\ntime.sleep(4)\nshutil.copy(f'{DATA_DIR}/sample_submission.csv', SUBMISSION_PATH)")]),
        str(notebook))
    runs = tmp_path / "runs"
    outcomes = run_episodes(COMP, agent=f"replay:{notebook}", seeds=[0, 1, 2], workers=1, out_dir=runs,
                            limits=Limits(max_steps=4), pool_size=1)
    assert [type(o).__name__ for o in outcomes] == ["EpisodeResult"] * 3, outcomes
    names = sorted(p.name for p in runs.iterdir())
    assert len(names) == 3 and sum(bool(re.search(r"-w[0-9a-f]{6}-", n)) for n in names) == 2  # 1 cold, 2 warm
    seeds = sorted(json.loads((runs / n / "trajectory.ipynb").read_text())["metadata"]["nbdojo"]["seed"] for n in names)
    assert seeds == [0, 1, 2]  # the worker's last pooled kernel and its folder went with the worker


def test_the_pool_starts_no_kernel_while_the_machine_is_short_of_memory(tmp_path, monkeypatch):
    from nbdojo.kernel import pool as pool_module

    starts: list[object] = []
    started = types.SimpleNamespace(discard=lambda: None)  # what a start hands the pool
    monkeypatch.setattr(pool_module, "_reserve_and_start", lambda key: starts.append(key) or started)
    key = pool_module.KernelKey(str(tmp_path), COMP, "test", (), (), (None, None, None, 1000), True, (), "nbdojo", "", "")
    with KernelPool(1, min_free_bytes=1 << 62) as pool:  # more memory than any machine has available
        assert pool.take(key) is None  # the pool fills for this key from now on, when it can
        assert not pool.wait_ready(timeout=2.5)
    assert starts == []
    with KernelPool(1, min_free_bytes=0) as pool:  # the same with memory to spare: it starts one
        pool.take(key)
        deadline = time.monotonic() + 10
        while not starts and time.monotonic() < deadline:
            time.sleep(0.05)
    assert starts == [key]


def test_data_rebuilt_since_a_kernel_started_is_another_key(tmp_path):
    """The sandbox binds the data folder itself: a kernel started before a rebuild would see the old data."""
    from nbdojo.kernel.pool import KernelKey
    from nbdojo.limits import Limits

    data = tmp_path / "public"
    data.mkdir()
    (tmp_path / "rebuilt").mkdir()

    def key() -> KernelKey:
        return KernelKey.for_episode(out_dir=tmp_path, competition=COMP, agent="test", readonly=[data],
                                     limits=Limits(), sandbox=True, gpus=[], kernel_name="nbdojo",
                                     kernel_env=tmp_path)

    before = key()
    assert key() == before
    os.rename(data, tmp_path / "old")
    os.rename(tmp_path / "rebuilt", data)  # prepared again: a new folder at the same path
    assert key() != before and key().readonly == before.readonly


def test_the_sweep_removes_only_this_machines_dead_hosts_reserved_folders(tmp_path):
    import socket

    from nbdojo.kernel.leftovers import machine, mark_reserved

    names = ("dead", "other-machine", "other-container", "other-boot", "older-marker", "live")
    dead, other_machine, other_container, other_boot, older, live = (tmp_path / name for name in names)
    for folder in (dead, other_machine, other_container, other_boot, older, live):
        folder.mkdir()
    host, boot, pidns = machine().split(" ")
    assert boot != "-" and pidns.startswith("pid:[")
    (dead / MARKER).write_text(f"{machine()} 999999999-1")  # no such process
    (other_machine / MARKER).write_text(f"elsewhere {boot} {pidns} 999999999-1")  # cannot be told from here: kept
    # a container with the same hostname (and boot): its pids are not ours, its live folder must stay
    (other_container / MARKER).write_text(f"{host} {boot} pid:[1] 999999999-1")
    (other_boot / MARKER).write_text(f"{host} another-boot {pidns} 999999999-1")
    (older / MARKER).write_text(f"{socket.gethostname()} 999999999-1")  # no boot id nor namespace: kept
    mark_reserved(live)  # this process: alive
    sweep_reserved.cache_clear()
    assert sweep_reserved(str(tmp_path)) == [dead]
    assert not dead.exists() and all(f.is_dir() for f in (other_machine, other_container, other_boot, older, live))


def test_free_memory_is_this_process_cgroups_where_it_caps_lower(tmp_path, monkeypatch):
    from nbdojo.kernel import pool as pool_module

    monkeypatch.setattr(pool_module, "cgroup_parents", lambda: (2, {"memory": tmp_path}))
    (tmp_path / "memory.max").write_text("1000\n")
    (tmp_path / "memory.current").write_text("400\n")
    assert pool_module._free_memory() == 600  # a container or job capped at 1000 bytes, 400 used
    (tmp_path / "memory.max").write_text("max\n")  # no cap of its own: the machine's
    assert pool_module._free_memory() == pytest.approx(psutil.virtual_memory().available, rel=0.1)
