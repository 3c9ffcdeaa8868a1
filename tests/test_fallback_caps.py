"""The caps hold without a cgroup, as on hosts that give none (NBDOJO_CGROUPS=0 forces that path here).

RLIMIT_NPROC stops a fork or thread bomb and the watchdog kills the kernel's tree past
its memory (PSS) or task cap; each cell below runs in a real sandboxed kernel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import nbformat
import pytest

from nbdojo.env import DojoEnv
from nbdojo.kernel.caps import CGROUP_ROOT, PREFIX, tasks_of_uid

pytestmark = pytest.mark.kernel

MiB = 1024**2


@pytest.fixture(scope="module")
def fallback(loan_default_data, tmp_path_factory):
    os.environ["NBDOJO_CGROUPS"] = "0"
    try:
        env = DojoEnv("loan-default", out_dir=tmp_path_factory.mktemp("fallback"), agent="fallback",
                      cell_timeout_s=8, memory_bytes=768 * MiB, max_processes=96, max_steps=100)
        env.reset(seed=0)
    finally:
        os.environ.pop("NBDOJO_CGROUPS")
    yield env
    env.close()


def run(env: DojoEnv, code: str):
    obs, _reward, terminated, truncated, info = env.step({"action": "execute_code", "code": textwrap.dedent(code)})
    assert not terminated and not truncated
    return obs, info


def still_works(env: DojoEnv) -> None:
    obs, info = run(env, "print('alive', 6 * 7)")
    assert info["status"] == "ok" and "alive 42" in obs, obs


def test_the_watchdog_holds_the_caps_and_no_cgroup_is_made(fallback):
    assert fallback.trajectory.meta["caps"] == "watchdog"
    saved = nbformat.read(str(fallback.notebook_path), as_version=4)
    assert saved.metadata["nbdojo"]["caps"] == "watchdog"
    leftovers = [p for p in CGROUP_ROOT.glob(f"**/{PREFIX}*-{fallback.run_dir.name}")] if CGROUP_ROOT.is_dir() else []
    assert leftovers == []


def test_memory_bomb_is_oom_and_the_kernel_comes_back(fallback):
    obs, info = run(fallback, "import time\nhog = []\nwhile True:\n    hog.append(b'x' * (64 * 1024**2))\n"
                              "    time.sleep(0.02)")
    assert info["status"] == "oom" and info["restarted"], obs
    assert "memory cap" in obs
    still_works(fallback)


def test_forked_children_sharing_pages_are_not_counted_twice(fallback):
    """Twenty forks of a kernel holding 200 MB: the RSS sum is 4 GB, the real use about 200 MB."""
    obs, info = run(fallback, """
        import os, time
        block = bytearray(200 * 1024**2)
        pids = []
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                time.sleep(1.5)
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        print('children done', len(pids))
    """)
    assert info["status"] == "ok" and "children done 20" in obs, obs
    obs, _ = run(fallback, "print(len(block))")
    assert "209715200" in obs  # same kernel: nothing was killed


@pytest.mark.parametrize("bomb", [
    "while True:\n    if os.fork() == 0:\n        time.sleep(30)\n        os._exit(0)",
    "while True:\n    threading.Thread(target=time.sleep, args=(30,), daemon=True).start()",
], ids=["fork-bomb", "thread-bomb"])
def test_bombs_end_as_a_process_limit_and_a_fresh_kernel(fallback, bomb):
    run(fallback, "kept = 1")
    obs, info = run(fallback, "import os, time, threading\n" + bomb)
    assert info["status"] == "error" and info["restarted"], obs
    assert "ProcessLimit" in obs and "96" in obs
    obs, _ = run(fallback, "print('kept' in globals())")
    assert "False" in obs
    still_works(fallback)


def test_many_short_subprocesses_in_a_row_are_fine(fallback):
    obs, info = run(fallback, "import subprocess\nfor _ in range(150):\n    subprocess.run(['true'], check=True)\n"
                              "print('ran 150')")
    assert info["status"] == "ok" and "ran 150" in obs, obs


def test_tasks_of_uid_counts_this_process_threads():
    """It counts every task of the uid, other processes' too: 50 threads of ours must show, give or take
    the 10 that other processes of this uid (a kernel shutting down, a bomb's children) may end meanwhile."""
    import threading

    before = tasks_of_uid(os.getuid())
    stop = threading.Event()
    threads = [threading.Thread(target=stop.wait) for _ in range(50)]
    for t in threads:
        t.start()
    try:
        assert tasks_of_uid(os.getuid()) >= before + 40
    finally:
        stop.set()
        for t in threads:
            t.join()


def test_nproc_rlimit_is_the_uids_tasks_now_plus_the_cap():
    code = textwrap.dedent("""
        import os, resource
        from nbdojo.kernel.caps import set_rlimits, tasks_of_uid
        now = tasks_of_uid(os.getuid())
        set_rlimits(max_file_bytes=None, nproc=(os.getuid(), 40))
        soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        assert soft == hard and now - 5 <= soft - 40 <= now + 5, (now, soft, hard)  # the uid's other tasks come and go
        print('ok')
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"
