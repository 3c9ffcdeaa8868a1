"""Which process hosts a run, and whether it still does: live, finished, abandoned or failed.

A host is identified by its pid *and* its start time (clock ticks since boot, read from
/proc), so a pid the system has since given to another process does not count as alive.
An error in that reading can only make a dead host look alive, never the reverse: a live
host's leftovers are never taken for a dead one's. A leaf: imports nothing of nbdojo.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any, Literal

RunState = Literal["live", "finished", "abandoned", "failed"]

#: For notebooks written before hosts were recorded: past its wall clock by this much, a run is over.
LEGACY_GRACE_S = 3600.0


def _stat(pid: int) -> tuple[bytes, int] | None:
    """(state, start time) of a process; the start in clock ticks since boot (exact), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rpartition(b")")[2].split()  # the name before ")" may hold spaces
    except FileNotFoundError:
        return None
    except OSError:  # no /proc (not Linux): psutil's clock, in hundredths of a second
        import psutil

        try:
            return b"R", round(psutil.Process(pid).create_time() * 100)
        except psutil.Error:
            return None
    return fields[0], int(fields[19])  # fields 3 and 22 of proc(5): state, starttime


def process_start(pid: int) -> int | None:
    """When a process started (an exact clock reading), or None if there is no such process."""
    stat = _stat(pid)
    return stat[1] if stat else None


def signal_if_alive(pid: int, start_time: int | None, signum: int) -> bool:
    """Send `signum` to `pid` if it still runs and is the process that started at `start_time` (not another
    that took its pid since); whether it was sent."""
    if not is_alive(pid, start_time):
        return False
    try:
        os.kill(pid, signum)
    except OSError:  # it ended just now
        return False
    return True


def host_record() -> dict[str, Any]:
    """This process as a run's host: {pid, start_time, hostname} (metadata.nbdojo.host)."""
    pid = os.getpid()
    return {"pid": pid, "start_time": process_start(pid), "hostname": socket.gethostname()}


def host_tag() -> str:
    """'<pid>-<start_time>' of this process: names of folders and cgroups carry their host in it."""
    pid = os.getpid()
    return f"{pid}-{process_start(pid)}"


def is_alive(pid: int, start_time: int | None) -> bool:
    """True while process `pid` runs and is the one that started at `start_time` (any, if None)."""
    stat = _stat(pid) if pid > 0 else None
    if stat is None or stat[0] in (b"Z", b"X"):  # gone, or a zombie: it has ended
        return False
    return start_time is None or stat[1] == start_time  # else the pid now belongs to another process


def host_alive(host: Any) -> bool | None:
    """Whether a recorded host (host_record()) runs now; None when it cannot be told (another machine,
    or nothing usable recorded)."""
    if not isinstance(host, dict) or not isinstance(host.get("pid"), int):
        return None
    if host.get("hostname") not in (None, socket.gethostname()):
        return None
    start = host.get("start_time")
    return is_alive(host["pid"], start if isinstance(start, int) else None)


def run_state(meta: dict[str, Any], *, now: float | None = None) -> RunState:
    """A run's state from its notebook's `metadata.nbdojo`.

    finished: ended (submitted, out of budget, closed or interrupted); failed: ended with an error
    (the kernel never came up); live: not ended and its host runs, or cannot be checked (another
    machine); abandoned: not ended and its host is gone. A notebook with no recorded host counts as
    abandoned once it is past its wall-clock budget by LEGACY_GRACE_S.
    """
    final = meta.get("final")
    if meta.get("ended"):
        return "failed" if isinstance(final, dict) and final.get("error") else "finished"
    alive = host_alive(meta.get("host"))
    if alive is False:
        return "abandoned"
    if alive is None and "host" not in meta and _past_wall_clock(meta, time.time() if now is None else now):
        return "abandoned"
    return "live"


def _past_wall_clock(meta: dict[str, Any], now: float) -> bool:
    limits = meta.get("limits") if isinstance(meta.get("limits"), dict) else {}
    wall = limits.get("wall_clock_s")
    try:
        started = datetime.fromisoformat(str(meta.get("started")).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return False
    return isinstance(wall, (int, float)) and now > started + wall + LEGACY_GRACE_S
