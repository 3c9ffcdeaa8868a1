"""The agent's kernel: a `KernelSession` inside the sandbox, under the episode's resource caps.

It starts the kernel through `nbdojo.kernel.launcher` (bubblewrap, cgroup, rlimits) unless the
sandbox is turned off, maps a kill by the memory cap to status "oom" and a hit of the
process cap to a `ProcessLimit` error and a fresh kernel, and cleans up the connection
folder and cgroup when the episode ends.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from nbdojo.kernel import leftovers
from nbdojo.config import kernel_specs_dir
from nbdojo.kernel.session import CellResult, KernelSession, Progress
from nbdojo.kernel.gpus import checked_gpus, cuda_env, sandbox_grant
from nbdojo.kernel.caps import CapGuard, cgroups_wanted
from nbdojo.limits import Limits
from nbdojo.kernel.sandbox import SandboxPolicy, bwrap_path, launcher_argv
from nbdojo.kernel.toolbox import find_toolbox

log = logging.getLogger(__name__)


def _spec_argv(kernel_name: str, python: str) -> list[str]:
    spec = json.loads((kernel_specs_dir() / kernel_name / "kernel.json").read_text())
    argv = list(spec["argv"])
    if argv and argv[0] == "python":
        argv[0] = python
    return argv


class AgentKernel:
    """One episode's kernel, sandboxed by default; same `execute`/`restart`/`shutdown` as KernelSession."""

    def __init__(self, *, workspace: Path, readonly: list[Path], caps: Limits, sandbox: bool = True,
                 gpus: list[int] | None = None, kernel_name: str = "nbdojo", name: str | None = None,
                 kernel_env: str | os.PathLike[str] | None = None):
        self.workspace, self.caps, self.sandbox = Path(workspace), caps, sandbox
        self.toolbox = find_toolbox(kernel_env)  # the kernel's own Python: never nbdojo's environment
        self.gpus = checked_gpus(gpus)
        self._conn_dir = leftovers.connection_dir()  # named after this host: a dead host's is swept later
        self._oom_seen = 0
        self._disk_checked = (float("-inf"), 0.0)  # when the workspace was last measured, and how long it took
        self._pids_seen = 0
        env = None
        if sandbox:
            bwrap_path()  # a clear SandboxError before anything starts
            cgroup_name = leftovers.cgroup_name(name or uuid.uuid4().hex[:12]) if cgroups_wanted() else None
            policy = SandboxPolicy(
                workspace=str(self.workspace), readonly=tuple(str(p) for p in readonly),
                connection_dir=str(self._conn_dir), memory_bytes=caps.memory_bytes,
                max_processes=caps.max_processes, max_file_bytes=caps.disk_bytes, cgroup_name=cgroup_name,
                **self.toolbox.sandbox_fields(), **sandbox_grant(self.gpus),
            )
            argv = launcher_argv(policy, _spec_argv(kernel_name, self.toolbox.python))
        else:
            cgroup_name, argv = None, _spec_argv(kernel_name, self.toolbox.python)
            env = {k: v for k, v in os.environ.items()}
            env.update(cuda_env(self.gpus, sandboxed=False))
        # With no cgroup (unsandboxed, or NBDOJO_CGROUPS=0) the guard's watchdog holds the caps.
        self._guard = CapGuard(cgroup_name, memory_bytes=caps.memory_bytes, max_processes=caps.max_processes)
        self.session = KernelSession(
            cwd=self.workspace, kernel_name=kernel_name, argv=argv, env=env, connection_dir=self._conn_dir,
            max_output_bytes=caps.output_bytes, interrupt_mode="message" if sandbox else None,
        )

    @property
    def pid(self) -> int | None:
        return self.session.pid

    @property
    def connection_file(self) -> Path | None:
        return self.session.connection_file

    def start(self) -> None:
        self.session.start()
        self._guard.arm(lambda: self.session.pid)

    @property
    def caps_mode(self) -> str:
        """How the memory and process caps are held: 'cgroup v1' or 'v2', or 'watchdog' (no cgroup, or unsandboxed)."""
        return self._guard.mode

    def execute(self, code: str, timeout: float | None = None, progress: Progress | None = None) -> CellResult:
        result = self.session.execute(code, timeout=timeout, progress=progress)
        if self._guard.check() and not result.restarted:  # a cap hit is charged to the cell that made it
            self.session.restart()
            result.restarted = True
        self._check_process_cap(result)
        kills = self._guard.oom_kills()
        if kills > self._oom_seen:
            self._oom_seen = kills
            if result.status == "died" or result.restarted:
                cap = self.caps.memory_bytes or 0
                result.status = "oom"
                result.error = {
                    "ename": "OutOfMemory",
                    "evalue": f"the kernel went over its memory cap ({cap / 1024**3:.1f} GiB) and was killed; "
                              "a fresh kernel was started",
                    "traceback": [],
                }
        return result

    def _check_process_cap(self, result: CellResult) -> None:
        """A cell that hit the process cap leaves the kernel unable to start threads: restart it."""
        hits = self._guard.process_hits()
        if hits <= self._pids_seen:
            return
        self._pids_seen = hits
        if not result.restarted:
            self.session.restart()
            result.restarted = True
        result.error = {
            "ename": "ProcessLimit",
            "evalue": f"the cell went over the kernel's cap of {self.caps.max_processes} processes and threads; "
                      "the kernel was restarted",
            "traceback": (result.error or {}).get("traceback", []),
        }
        if result.status in ("ok", "died"):
            result.status = "error"

    def restart(self) -> None:
        self.session.restart()

    def is_alive(self) -> bool:
        return self.session.is_alive()

    def disk_overuse(self, cap: int | None, *, after_cell: bool = False) -> str | None:
        """A warning when the workspace is over its disk cap (validate and submit refuse until it is not).

        Validate and submit always measure. After a cell the measure is skipped while less than ten
        times its own last duration has passed, so a workspace of many files costs at most a tenth of
        the wall clock (a few hundred files take well under a millisecond, measured every step).
        """
        if not cap:
            return None
        now = time.monotonic()
        checked_at, took = self._disk_checked
        if after_cell and now - checked_at < 10 * took:
            return None
        used = self.workspace_bytes()
        self._disk_checked = (now, time.monotonic() - now)
        if used <= cap:
            return None
        return (f"The workspace uses {used / 1024**3:.2f} GiB, over its {cap / 1024**3:.2f} GiB cap: "
                "delete files before you validate or submit.")

    def workspace_bytes(self) -> int:
        """Bytes the workspace takes on disk (allocated blocks; links not followed)."""
        total = 0
        stack = [str(self.workspace)]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        else:
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        pass
        return total

    def shutdown(self) -> None:
        try:
            self.session.shutdown()
        finally:
            self._guard.close()
            shutil.rmtree(self._conn_dir, ignore_errors=True)
