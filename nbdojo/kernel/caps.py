"""Resource caps on a kernel's whole process tree: memory and process count.

A cgroup (v1 or v2, nested under the host's own cgroup) caps memory without breaking
torch or CUDA (RLIMIT_AS would), and caps processes so a fork bomb ends as a failed
cell. Where no cgroup can be made (an unprivileged host without delegation, a
read-only /sys/fs/cgroup, or NBDOJO_CGROUPS=0), RLIMIT_NPROC bounds the tasks and a
watchdog thread totals the tree's memory and tasks and kills it past a cap.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "nbdojo-"


def _own_path(controller: str) -> str | None:
    """This process's cgroup path for a v1 controller ('' for v2's unified line)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (controller == "" and controllers == ""):
            return path
    return None


def cgroup_parents() -> tuple[int, dict[str, Path]]:
    """The cgroup version (0: none) and, per controller, the folder this process's episode cgroups go in."""
    if (CGROUP_ROOT / "memory" / "memory.limit_in_bytes").exists():
        parents = {}
        for controller in ("memory", "pids"):
            own = _own_path(controller)
            if own is not None and (CGROUP_ROOT / controller).is_dir():
                parents[controller] = CGROUP_ROOT / controller / own.lstrip("/")
        return 1, parents
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        own = _own_path("")
        if own is None:
            return 2, {}
        parent = CGROUP_ROOT / own.lstrip("/")
        return 2, {"memory": parent, "pids": parent}  # one unified tree
    return 0, {}


class Cgroup:
    """One episode's cgroup(s): `create()` on the host side of the launcher, `oom_kills()` for the env."""

    def __init__(self, name: str):
        self.name = PREFIX + name
        self.version, parents = cgroup_parents()
        self.dirs: dict[str, Path] = {controller: parent / self.name for controller, parent in parents.items()}

    def create(self, *, memory_bytes: int | None, max_processes: int | None) -> bool:
        """Make the cgroup(s) and set the caps; False (and nothing left behind) if this host does not allow it."""
        try:
            for path in self.dirs.values():
                if self.version == 2:
                    self._delegate(path.parent)
                path.mkdir(exist_ok=True)
            if self.version == 1:
                if memory_bytes and "memory" in self.dirs:
                    (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
                    swap = self.dirs["memory"] / "memory.memsw.limit_in_bytes"
                    if swap.exists():
                        swap.write_text(str(memory_bytes))
                if max_processes and "pids" in self.dirs:
                    (self.dirs["pids"] / "pids.max").write_text(str(max_processes))
            elif self.version == 2:
                path = self.dirs["memory"]
                if memory_bytes:
                    (path / "memory.max").write_text(str(memory_bytes))
                    if (path / "memory.swap.max").exists():
                        (path / "memory.swap.max").write_text("0")
                if max_processes:
                    (path / "pids.max").write_text(str(max_processes))
        except OSError as exc:
            log.info("no cgroup for the kernel (%s); the watchdog holds the caps", exc)
            self.remove()
            return False
        return bool(self.dirs)

    @staticmethod
    def _delegate(parent: Path) -> None:
        """cgroup v2: a child gets memory/pids files only if its parent enables them for its subtree."""
        control = parent / "cgroup.subtree_control"
        try:
            enabled = control.read_text().split()
        except OSError:
            return
        for name in ("memory", "pids"):
            if name not in enabled:
                try:
                    control.write_text(f"+{name}")
                except OSError:
                    pass  # e.g. the parent holds processes itself (v2's no-internal-process rule)

    def capped(self) -> set[str]:
        """Controllers ('memory', 'pids') whose cap file exists now in this cgroup."""
        files = {1: {"memory": "memory.limit_in_bytes", "pids": "pids.max"},
                 2: {"memory": "memory.max", "pids": "pids.max"}}.get(self.version, {})
        return {name for name, path in self.dirs.items() if (path / files[name]).is_file()}

    def join(self, pid: int) -> None:
        for path in set(self.dirs.values()):
            (path / "cgroup.procs").write_text(str(pid))

    def _counter(self, controller: str, filename: str, key: str) -> int:
        """One `key value` line of a cgroup events file (0 if absent or unreadable)."""
        path = self.dirs.get(controller)
        if path is None:
            return 0
        try:
            for line in (path / filename).read_text().splitlines():
                name, _, value = line.partition(" ")
                if name == key:
                    return int(value)
        except OSError:
            pass
        return 0

    def oom_kills(self) -> int:
        """How many processes the memory cap has killed so far."""
        return self._counter("memory", "memory.oom_control" if self.version == 1 else "memory.events", "oom_kill")

    def pids_max_hits(self) -> int:
        """How many times a fork or thread start was refused by the process cap."""
        return self._counter("pids", "pids.events", "max")

    def remove(self) -> None:
        """Remove the cgroup dirs (only possible once their processes are gone)."""
        for path in set(self.dirs.values()):
            try:
                path.rmdir()
            except OSError:
                pass


def _charged_bytes(proc: Any) -> int:
    """A process's proportional memory (PSS): forked children sharing pages are not counted twice."""
    import psutil

    try:
        return int(proc.memory_full_info().pss)
    except (psutil.AccessDenied, AttributeError):
        return int(proc.memory_info().rss)


class TreeWatchdog:
    """Fallback caps: every `interval` s, total a process tree's memory (PSS) and tasks; kill it past a cap."""

    def __init__(self, root_pid: Callable[[], int | None], *, memory_bytes: int | None = None,
                 max_tasks: int | None = None, interval: float = 0.25):
        self._root_pid, self.memory_bytes, self.max_tasks = root_pid, memory_bytes, max_tasks
        self.interval = interval
        self.memory_kills = 0
        self.task_kills = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="nbdojo-watchdog", daemon=True)

    def start(self) -> TreeWatchdog:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.check()

    def check(self) -> bool:
        """One pass: True if it killed the tree (also called by the host right after a cell)."""
        import psutil

        with self._lock:
            pid = self._root_pid()
            if pid is None:
                return False
            try:
                root = psutil.Process(pid)
                procs = [root, *root.children(recursive=True)]
                rss = tasks = 0
                for proc in procs:
                    with proc.oneshot():
                        rss += proc.memory_info().rss
                        tasks += proc.num_threads()
                # RSS counts pages shared by forked children once per child; PSS (slower to read)
                # splits them, so it decides once the cheap sum is over the cap.
                used = sum(_charged_bytes(p) for p in procs) if self.memory_bytes and rss > self.memory_bytes else rss
            except psutil.Error:
                return False
            if self.memory_bytes and used > self.memory_bytes:
                log.warning("kernel tree uses %d bytes > cap %d: killing it", used, self.memory_bytes)
                self.memory_kills += 1
            elif self.max_tasks and tasks >= self.max_tasks:
                log.warning("kernel tree runs %d tasks >= cap %d: killing it", tasks, self.max_tasks)
                self.task_kills += 1
            else:
                return False
            for proc in reversed(procs):
                try:
                    proc.kill()
                except psutil.Error:
                    pass
            psutil.wait_procs(procs, timeout=5)
            return True


class CapGuard:
    """The host's side of one kernel's caps: the cgroup's counters, and a watchdog for what it does not cap.

    `arm` runs after every kernel (re)start, once the launcher has made the cgroup;
    `oom_kills` and `process_hits` only grow, so a caller compares them across a cell.
    """

    def __init__(self, cgroup_name: str | None, *, memory_bytes: int | None, max_processes: int | None):
        self.cgroup = Cgroup(cgroup_name) if cgroup_name else None
        self.memory_bytes, self.max_processes = memory_bytes, max_processes
        self.watchdog: TreeWatchdog | None = None

    def arm(self, root_pid: Callable[[], int | None]) -> None:
        if self.watchdog is not None:
            return
        capped = self.cgroup.capped() if self.cgroup is not None else set()
        memory = self.memory_bytes if "memory" not in capped else None
        tasks = self.max_processes if "pids" not in capped else None
        if memory or tasks:
            log.info("caps without a cgroup (%s): watching the kernel's tree",
                     ", ".join(n for n, v in (("memory", memory), ("processes", tasks)) if v))
            self.watchdog = TreeWatchdog(root_pid, memory_bytes=memory, max_tasks=tasks).start()

    def check(self) -> bool:
        """Run the watchdog's pass now; True if it killed the kernel's tree."""
        return self.watchdog.check() if self.watchdog is not None else False

    @property
    def mode(self) -> str:
        """How the caps are held: 'cgroup v1', 'cgroup v2', 'watchdog', or a mix."""
        capped = self.cgroup.capped() if self.cgroup is not None else set()
        parts = [f"cgroup v{self.cgroup.version}"] if capped and self.cgroup is not None else []
        if self.watchdog is not None:
            parts.append("watchdog")
        return " + ".join(parts) or "none"

    def oom_kills(self) -> int:
        kills = self.cgroup.oom_kills() if self.cgroup is not None else 0
        return kills + (self.watchdog.memory_kills if self.watchdog is not None else 0)

    def process_hits(self) -> int:
        hits = self.cgroup.pids_max_hits() if self.cgroup is not None else 0
        return hits + (self.watchdog.task_kills if self.watchdog is not None else 0)

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog = None
        if self.cgroup is not None:
            self.cgroup.remove()


def cgroups_wanted() -> bool:
    """False when NBDOJO_CGROUPS=0 (or off/no/false): caps then fall back to rlimits and the watchdog."""
    return os.environ.get("NBDOJO_CGROUPS", "1").strip().lower() not in ("0", "off", "no", "false")


def tasks_of_uid(uid: int) -> int:
    """Tasks (threads) running under a real uid now: what RLIMIT_NPROC counts."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            text = Path(entry.path, "status").read_text()
        except OSError:
            continue
        real = threads = None
        for line in text.splitlines():
            if line.startswith("Uid:"):
                real = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
        if real == uid and threads:
            total += threads
    return total


def set_rlimits(*, max_file_bytes: int | None, nproc: tuple[int, int] | None = None) -> None:
    """Caps applied in the launcher before exec: file size, no core dumps, and, where no cgroup caps
    processes, RLIMIT_NPROC for `nproc = (uid, max)`: the uid's tasks now plus `max` more (the
    limit counts every task of that uid, not only the kernel's)."""
    import resource

    if max_file_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_file_bytes, max_file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if nproc is not None:
        uid, most = nproc
        limit = tasks_of_uid(uid) + most
        _soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))  # hard too: the kernel cannot raise it
