"""What a dead host leaves behind, and the sweep that removes it: kernel folders, cgroups, reserved run folders.

A kernel's connection folder (`/tmp/nbk-<pid>-<start>-XXXXXXXX`: its sockets and key) and its
cgroup (`nbdojo-<pid>-<start>-<run>`) carry their host's pid and start time in their names
from the moment they exist. A host that is killed (SIGKILL, a lost container) cannot remove
them; the next host on the machine does, once per process, when it makes its first kernel
folder. Only what a provably dead host made goes: names of a live host (another process
running episodes now) and names with no host (older nbdojo versions) are kept, and a cgroup
that still holds processes cannot be removed at all.

The kernel pool (nbdojo.kernel.pool) reserves a run folder for each kernel it starts, marked
with a file beside the workspace (no kernel sees it) that names its host; the first pool on an
out folder removes the reserved folders of dead hosts there.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

from nbdojo.kernel.caps import PREFIX as CGROUP_PREFIX
from nbdojo.kernel.caps import cgroup_parents
from nbdojo.runstate import host_tag, is_alive

log = logging.getLogger(__name__)

TMP = Path("/tmp")
CONNECTION_PREFIX = "nbk-"
#: In a run folder the kernel pool reserved and no episode has taken yet: its host's tag.
POOL_MARKER = ".nbdojo-pool"
_HOST = re.compile(r"(\d+)-(\d+)-")  # <pid>-<start>- after the prefix


def connection_dir() -> Path:
    """A new kernel connection folder named after this host (short: unix socket paths stay < 100 chars)."""
    sweep_once()
    return Path(tempfile.mkdtemp(prefix=f"{CONNECTION_PREFIX}{host_tag()}-", dir=TMP if os.name == "posix" else None))


def cgroup_name(name: str) -> str:
    """A kernel's cgroup name (after limits.PREFIX) that says which host made it."""
    return f"{host_tag()}-{name}"


def _made_by_dead_host(name: str, prefix: str) -> bool:
    match = _HOST.match(name, len(prefix)) if name.startswith(prefix) else None
    return match is not None and not is_alive(int(match[1]), int(match[2]))


def stale_connection_dirs(tmp: Path = TMP) -> list[Path]:
    """Connection folders in `tmp` whose host is dead (only this user's, or any as root)."""
    try:
        entries = list(os.scandir(tmp))
    except OSError:
        return []
    uid = os.geteuid()
    stale = []
    for entry in entries:
        if not _made_by_dead_host(entry.name, CONNECTION_PREFIX):  # the name first: /tmp may hold many files
            continue
        try:
            if entry.is_dir(follow_symlinks=False) and (uid == 0 or entry.stat(follow_symlinks=False).st_uid == uid):
                stale.append(Path(entry.path))
        except OSError:
            continue
    return stale


def stale_cgroups() -> list[Path]:
    """nbdojo cgroups beside the ones this process would make, whose host is dead."""
    _version, parents = cgroup_parents()
    stale = []
    for parent in set(parents.values()):
        try:
            names = [e.name for e in os.scandir(parent) if e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        stale += [parent / name for name in names if _made_by_dead_host(name, CGROUP_PREFIX)]
    return stale


def sweep(tmp: Path = TMP) -> list[Path]:
    """Remove what dead hosts left: their connection folders, and their cgroups once empty. Returns what went."""
    removed = []
    for path in stale_connection_dirs(tmp):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    for path in stale_cgroups():
        try:
            path.rmdir()  # the kernel refuses while the cgroup holds a process
        except OSError as exc:
            log.info("kept the cgroup %s of a dead host: %s", path, exc)
            continue
        removed.append(path)
    if removed:
        log.info("removed %d leftovers of dead nbdojo hosts: %s", len(removed), ", ".join(map(str, removed)))
    return removed


@functools.cache
def sweep_once() -> None:
    """`sweep()`, the first time this process asks (when it makes its first kernel folder)."""
    try:
        sweep()
    except Exception:  # a sweep must never stop a kernel from starting
        log.warning("sweeping the leftovers of dead hosts failed", exc_info=True)


@functools.cache
def machine() -> str:
    """Where this host's pids mean something: hostname, boot id and pid namespace. Two containers may share a
    hostname (and an out folder); a pid of one is not a pid of the other, so one must not sweep the other's."""
    def read(how: Callable[[], str]) -> str:
        try:
            return "".join(how().split()) or "-"
        except OSError:
            return "-"

    boot = read(lambda: Path("/proc/sys/kernel/random/boot_id").read_text())
    pidns = read(lambda: os.readlink("/proc/self/ns/pid"))
    return f"{socket.gethostname()} {boot} {pidns}"


def mark_reserved(run_dir: Path) -> None:
    """Mark a run folder as reserved by this host's kernel pool (its machine too: an out folder may be shared)."""
    (Path(run_dir) / POOL_MARKER).write_text(f"{machine()} {host_tag()}")


def unmark_reserved(run_dir: Path) -> None:
    """An episode took the folder's kernel: it is a run now, never swept."""
    (Path(run_dir) / POOL_MARKER).unlink(missing_ok=True)


def is_reserved(run_dir: Path) -> bool:
    """A run folder whose pooled kernel no episode has taken (no run yet: `nbdojo watch` leaves it out)."""
    return (Path(run_dir) / POOL_MARKER).is_file()


@functools.cache
def sweep_reserved(out_dir: str) -> list[Path]:
    """Remove the reserved run folders of dead hosts in `out_dir` (once per process and folder); only
    this machine's (same boot and pid namespace), since whether another one's host lives cannot be told here."""
    removed = []
    try:
        entries = [e for e in os.scandir(out_dir) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return removed
    for entry in entries:
        try:
            where, _, tag = Path(entry.path, POOL_MARKER).read_text().strip().rpartition(" ")
            pid, _, start = tag.partition("-")
            dead = where == machine() and not is_alive(int(pid), int(start) if start != "None" else None)
        except (OSError, ValueError):
            continue
        if dead:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    if removed:
        log.info("removed %d run folders reserved by dead hosts in %s", len(removed), out_dir)
    return removed
