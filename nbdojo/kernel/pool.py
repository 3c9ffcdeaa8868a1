"""Warm kernels: sandboxed kernels started ahead of time, so `DojoEnv.reset()` need not wait for one.

A pooled kernel is started exactly as a cold one (`KernelKey.kernel`: the same sandbox, cgroup
caps and toolbox), for one `KernelKey`: everything its start depends on. A reset whose key
differs starts cold, and the pool fills for that key from then on.

The workspace: the sandbox binds it when the kernel starts, before the episode is known. The
pool therefore reserves the run folder then, `<out>/<competition>-<agent>-w<id>-<time>/`, and
the kernel sees its workspace at the same path as the host does, as a cold kernel sees its own
(its cwd, its WORKSPACE, `nbdojo watch` and the cgroup all name the run). What a reserved name
cannot carry is the seed, which the notebook's metadata holds. (Renaming a pool folder into the
run keeps the kernel's view as well, since a bind mount follows the folder and not its name,
but the kernel would go on seeing its workspace under the old name.)

Rules:
- A kernel serves one episode: `take` hands it over and forgets it; the pool starts the next one
  in the background, one at a time.
- A pooled kernel runs under its own episode caps from the start (cgroup memory and process caps,
  or the watchdog), and the pool starts one only while the machine has `min_free_bytes` of memory
  available: idle kernels never crowd out the running ones.
- `close()`, the interpreter's exit, and a host killed outright (PDEATHSIG, see
  nbdojo.kernel._pdeathsig) leave no kernel behind. A reserved folder carries a marker naming its
  machine and host process; the first pool on the same out folder removes those of this machine
  whose host is dead (nbdojo.kernel.leftovers).
- A finished episode's kernel can be handed back (`retire`): the pool's thread shuts it down, so
  the next reset does not wait most of a second for a graceful shutdown.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import secrets
import shutil
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from nbdojo import records
from nbdojo.kernel import leftovers
from nbdojo.kernel.agent import AgentKernel
from nbdojo.kernel.caps import cgroup_parents, cgroups_wanted
from nbdojo.kernel.gpus import checked_gpus
from nbdojo.kernel.sandbox import KEPT_ENV
from nbdojo.limits import Limits

__all__ = ["KernelKey", "KernelPool", "shared_pool"]

log = logging.getLogger(__name__)

#: Seconds between looks at the machine's free memory while the pool waits for some.
MEMORY_POLL_S = 1.0
#: After a kernel is taken, the pool's thread waits this long before it starts or shuts down another: the
#: reset that took it runs its setup cells meanwhile, and a kernel starting beside them costs them a CPU.
QUIET_S = 0.3
#: After a failed start the pool waits this long (doubled at each failure in a row, up to a minute).
RETRY_S = 2.0


@dataclass(frozen=True)
class KernelKey:
    """Everything a kernel's start depends on: two episodes with equal keys can use each other's warm kernel."""

    out_dir: str
    competition: str
    agent: str  # part of the run folder's name
    readonly: tuple[str, ...]  # the competition's public data
    data_stamp: tuple[tuple[int, int], ...]  # each one's inode and mtime: data rebuilt since is another key
    caps: tuple[int | None, int | None, int | None, int]  # memory, processes, disk, output bytes
    sandbox: bool
    gpus: tuple[int, ...]
    kernel_name: str
    kernel_env: str
    host_env: str  # what the kernel inherits from this process (variables, CPUs, cgroups on or off)

    @classmethod
    def for_episode(cls, *, out_dir: Path, competition: str, agent: str, readonly: list[Path], limits: Limits,
                    sandbox: bool, gpus: list[int] | None, kernel_name: str, kernel_env: Path) -> KernelKey:
        return cls(str(out_dir), competition, agent, tuple(str(p) for p in readonly), _stamps(readonly),
                   (limits.memory_bytes, limits.max_processes, limits.disk_bytes, limits.output_bytes),
                   sandbox, tuple(checked_gpus(gpus)), kernel_name, str(kernel_env), _host_env(sandbox))

    @property
    def limits(self) -> Limits:
        """The caps as `Limits` (the kernel reads only these four)."""
        memory, processes, disk, output = self.caps
        return Limits(memory_bytes=memory, max_processes=processes, disk_bytes=disk, output_bytes=output)

    def run_folder(self, run: str) -> Path:
        """A new run folder with an empty workspace (`<out>/<competition>-<agent>-<run>-<time>/workspace`)."""
        run_dir = records.new_run_folder(self.out_dir, self.competition, self.agent, run)
        (run_dir / "workspace").mkdir()
        return run_dir

    def kernel(self, run_dir: Path) -> AgentKernel:
        """The run's kernel, not started yet: cold starts and the pool build it the same way."""
        return AgentKernel(workspace=run_dir / "workspace", readonly=[Path(p) for p in self.readonly],
                           caps=self.limits, sandbox=self.sandbox, gpus=list(self.gpus),
                           kernel_name=self.kernel_name, name=run_dir.name, kernel_env=self.kernel_env)


def _stamps(paths: list[Path]) -> tuple[tuple[int, int], ...]:
    """A folder's identity as a bind mount sees it: the sandbox binds the folder itself, so a folder
    replaced since (prepared data rebuilt) would go on showing the old one to a kernel started before."""
    stats = [os.stat(p) for p in paths]
    return tuple((st.st_ino, st.st_mtime_ns) for st in stats)


def _host_env(sandbox: bool) -> str:
    """A digest of what a kernel takes from this process: the variables the sandbox keeps (all of them
    unsandboxed), the CPUs it may run on, and whether it gets a cgroup."""
    kept = sorted(os.environ.items()) if not sandbox else [(k, os.environ.get(k)) for k in KEPT_ENV]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return hashlib.sha256(repr((kept, cpus, cgroups_wanted())).encode()).hexdigest()[:16]


@dataclass
class _Warm:
    """A started kernel and the run folder reserved for it (None: an episode's, kept when the kernel goes)."""

    run_dir: Path | None
    kernel: AgentKernel

    def discard(self) -> None:
        """Shut the kernel down and remove the reserved folder; never raises (the pool's thread must go on)."""
        try:
            self.kernel.shutdown()
        except Exception:  # shutdown already tolerates a dead kernel: this is the unforeseen
            log.warning("the kernel pool could not shut a kernel down", exc_info=True)
        finally:
            if self.run_dir is not None:  # reserved, and no episode ran: nothing in it is anyone's
                shutil.rmtree(self.run_dir, ignore_errors=True)


def _reserve_and_start(key: KernelKey) -> _Warm:
    leftovers.sweep_reserved(key.out_dir)
    run_dir = key.run_folder(f"w{secrets.token_hex(3)}")
    leftovers.mark_reserved(run_dir)
    warm = _Warm(run_dir, key.kernel(run_dir))
    try:
        warm.kernel.start()
        warm.kernel.session.warm_up()  # the first cell's extra cost, paid here
    except BaseException:
        warm.discard()
        raise
    return warm


class KernelPool:
    """Up to `size` started kernels for the key of the latest `take`; closed with its owner.

    `DojoEnv(..., pool_size=N)` makes one the env owns (closed by `env.close()`); a pool passed as
    `DojoEnv(..., pool=KernelPool(N))` can serve many envs one after another and is closed by its
    maker (`close()`, a `with` block) or at the interpreter's exit.
    """

    def __init__(self, size: int = 1, *, min_free_bytes: int = 1024**3):
        if size < 1:
            raise ValueError(f"a kernel pool holds at least one kernel, not {size!r}.")
        self.size, self.min_free_bytes = size, min_free_bytes
        self.started = 0  # kernels this pool has started
        self._cond = threading.Condition()
        self._ready: list[_Warm] = []
        self._doomed: list[_Warm] = []  # shut down by the pool's thread, off the caller's path
        self._key: KernelKey | None = None
        self._starting: KernelKey | None = None
        self._retry_at = 0.0
        self._quiet_until = 0.0
        self._failures = 0
        self._closed = False
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        _open_pools.add(self)

    def take(self, key: KernelKey) -> tuple[Path, AgentKernel] | None:
        """A started kernel for `key` and its run folder, now the caller's; None: start one cold.

        A kernel whose start is under way for this key is waited for (it is ready sooner than a cold one)."""
        with self._cond:
            if self._closed or os.getpid() != self._pid:
                return None
            if key != self._key:  # fill for the new key; the old kernels go
                self._doomed += self._ready
                self._ready, self._key, self._failures, self._retry_at = [], key, 0, 0.0
                self._wake()
                return None
            while not self._ready and self._starting == key and not self._closed:
                self._cond.wait()
            warm = None
            while self._ready and warm is None:
                candidate = self._ready.pop(0)
                if candidate.kernel.is_alive():
                    warm = candidate
                else:
                    self._doomed.append(candidate)
            if warm is not None:
                self._quiet_until = time.monotonic() + QUIET_S
            self._wake()
        if warm is None:
            return None
        leftovers.unmark_reserved(warm.run_dir)  # an episode's folder now
        return warm.run_dir, warm.kernel

    def retire(self, kernel: AgentKernel) -> None:
        """Shut down a finished episode's kernel in the pool's thread, so the next reset need not wait for it
        (a graceful shutdown takes most of a second). Closing the pool shuts down what is left."""
        with self._cond:
            if not self._closed and os.getpid() == self._pid:
                self._doomed.append(_Warm(None, kernel))
                self._wake()
                return
        kernel.shutdown()

    def ready(self) -> int:
        """Kernels ready to be taken now."""
        with self._cond:
            return len(self._ready)

    def wait_ready(self, count: int | None = None, timeout: float = 60.0) -> bool:
        """Wait until `count` (default: `size`) kernels are ready; False on timeout."""
        want = self.size if count is None else count
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._ready) < want and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return len(self._ready) >= want

    def close(self) -> None:
        """Shut every pooled kernel down and remove its reserved folder; safe to repeat."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            doomed, self._ready, self._doomed = self._ready + self._doomed, [], []
            self._cond.notify_all()
            thread = self._thread
        _open_pools.discard(self)
        if os.getpid() != self._pid:  # a forked child: the kernels are its parent's
            return
        for warm in doomed:
            warm.discard()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=30)  # a start under way ends, then its kernel is discarded

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- the pool's thread -----------------------------------------------------------------

    def _wake(self) -> None:
        """Start the pool's thread if need be and let it look again (call with the lock held)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nbdojo-kernel-pool", daemon=True)
            self._thread.start()
        self._cond.notify_all()

    def _doomed_now(self) -> bool:
        """Kernels to shut down, and no reset under way to be kept quiet for."""
        return bool(self._doomed) and time.monotonic() >= self._quiet_until

    def _next_start(self) -> KernelKey | None:
        """The key to start a kernel for now, or None (full, waiting after a failure, or short of memory)."""
        if self._key is None or len(self._ready) >= self.size:
            return None
        if time.monotonic() < max(self._retry_at, self._quiet_until):
            return None
        return self._key if _free_memory() >= self.min_free_bytes else None

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and not self._doomed_now() and self._next_start() is None:
                    quiet = self._quiet_until - time.monotonic()
                    self._cond.wait(min(MEMORY_POLL_S, quiet) if quiet > 0 else MEMORY_POLL_S)
                key = None if self._closed else self._next_start()
                doomed, self._doomed = self._doomed, []
                self._starting = key
            if key is not None:  # the next episode's kernel first: a shutdown can wait, a reset may not
                self._start(key)
            for warm in doomed:
                warm.discard()
            with self._cond:
                if self._closed and not self._doomed:
                    return

    def _start(self, key: KernelKey) -> None:
        warm, error = None, None
        try:
            warm = _reserve_and_start(key)
        except Exception as exc:  # noqa: BLE001 - logged; a reset then starts cold
            error = exc
        with self._cond:
            self._starting = None
            if error is not None:
                self._failures += 1
                self._retry_at = time.monotonic() + min(60.0, RETRY_S * 2 ** (self._failures - 1))
                log.warning("the kernel pool could not start a kernel: %s", error)
            elif self._closed or key != self._key:
                self._doomed.append(warm)
            else:
                self.started += 1
                self._failures = 0
                self._ready.append(warm)
            self._cond.notify_all()


def _free_memory() -> int:
    """Memory available to this process's kernels: the machine's, or less where this process's own
    cgroup (a container, a Slurm job) caps its tree lower."""
    import psutil

    free = int(psutil.virtual_memory().available)
    version, parents = cgroup_parents()
    folder = parents.get("memory")
    limit_file, usage_file = ("memory.limit_in_bytes", "memory.usage_in_bytes") if version == 1 else \
        ("memory.max", "memory.current")
    try:
        limit, usage = (int((folder / name).read_text()) for name in (limit_file, usage_file)) if folder else (0, 0)
    except (OSError, ValueError):  # no such files, or "max": no cap of its own
        return free
    return min(free, limit - usage) if limit else free


_open_pools: weakref.WeakSet[KernelPool] = weakref.WeakSet()
_shared: dict[int, KernelPool] = {}


def shared_pool(size: int) -> KernelPool:
    """This process's pool for a batch worker's episodes (one per process, made on first use)."""
    pool = _shared.get(os.getpid())
    if pool is None or pool._closed or pool.size != size:
        if pool is not None:
            pool.close()
        pool = _shared[os.getpid()] = KernelPool(size)
    return pool


@atexit.register
def _close_all() -> None:
    for pool in list(_open_pools):
        pool.close()
