"""One persistent Jupyter kernel per episode: start, run cells, interrupt, restart, shut down.

Built on jupyter_client's blocking API and ipykernel; nothing here knows about competitions.
A cell never raises on the agent's account: errors, timeouts and a dead kernel all come back
as a `CellResult`, so the episode can record them and go on.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import psutil
import zmq
from jupyter_client import KernelManager
from jupyter_client.blocking import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel

from nbdojo.kernel._pdeathsig import on_launcher_thread, preexec_fn
from nbdojo.config import kernel_specs_dir, startup_dir
from nbdojo.errors import ConfigError, KernelError, KernelStartError
from nbdojo.kernel.leftovers import connection_dir
from nbdojo.kernel.outputs import RICH_FACTOR, CellOutputs, capped_error

__all__ = ["CellResult", "KernelSession", "Progress", "install_kernelspec", "uninstall_kernelspec"]

log = logging.getLogger(__name__)

_LIVENESS_INTERVAL = 0.5  # seconds between is_alive() polls while a cell runs
_IOPUB_RCVHWM = 16  # messages the host queues; a lagging host leaves the backlog in the kernel
#: The largest message the host takes from the kernel, in multiples of the cell's output cap (twice the rich-output
#: cap): the host must not hold a 2 GB message in memory to find that it keeps 8 MB of it. Larger ones drop the
#: connection (zmq reconnects it) and the cell gets a marker.
_MESSAGE_FACTOR = 2 * RICH_FACTOR
_TOO_LARGE = "the kernel sent a message over the host's"
_OUTPUT_TYPES = {"stream", "display_data", "execute_result", "error", "clear_output", "update_display_data"}

#: Called while a cell runs with its outputs so far; returns the monotonic time it wants to be called again
#: (see nbdojo.trajectory.live.RunningCell.progress). First called as the cell starts.
Progress = Callable[[CellOutputs], float]


@dataclass
class CellResult:
    """What one cell did, in the form the trajectory notebook and the observation need."""

    status: str  # "ok" | "error" | "timeout" | "died"
    outputs: list[dict]  # nbformat v4 outputs, in the order the kernel sent them
    execution_count: int | None
    started: str  # ISO-8601 UTC
    duration_s: float
    error: dict | None  # {"ename", "evalue", "traceback"}; synthetic for timeout / died
    restarted: bool = False  # the kernel was restarted because of this cell: state lost
    truncated_bytes: int = 0  # stream bytes dropped by the output cap


# --- processes --------------------------------------------------------------------------------


def _descendants(pid: int | None) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True) if pid else []
    except psutil.Error:
        return []


def _kill_all(pgid: int | None, procs: list[psutil.Process]) -> None:
    """SIGKILL a process group, and the listed processes (some may have left it with setsid)."""
    if pgid and pgid != os.getpgrp():
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    for proc in procs:
        try:
            proc.kill()  # psutil refuses if the pid was reused
        except psutil.Error:
            pass
    deadline = time.monotonic() + 3
    while any(map(_running, procs)) and time.monotonic() < deadline:
        time.sleep(0.01)


def _running(proc: psutil.Process) -> bool:
    """Not gone and not a zombie (an orphan's zombie may never be reaped in a container)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


# --- kernel specs -----------------------------------------------------------------------------


class _OneSpec(KernelSpecManager):
    """Hands KernelManager the spec we loaded ourselves (argv possibly overridden)."""

    def __init__(self, spec: KernelSpec):
        super().__init__()
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return self._spec


def _load_spec(kernel_name: str, argv: list[str] | None, interrupt_mode: str | None = None) -> KernelSpec:
    ksm = KernelSpecManager()
    ksm.kernel_dirs = [str(kernel_specs_dir()), *ksm.kernel_dirs]  # nbdojo's own specs first
    try:
        spec = ksm.get_kernel_spec(kernel_name)
    except NoSuchKernel as exc:
        raise KernelStartError(f"No kernel spec named {kernel_name!r} in {ksm.kernel_dirs}") from exc
    if argv is not None:
        spec.argv = list(argv)
    if interrupt_mode is not None:
        spec.interrupt_mode = interrupt_mode
    return spec


def install_kernelspec(user: bool = True, prefix: str | None = None) -> Path:
    """Install the nbdojo spec for JupyterLab, its argv naming the agent's toolbox interpreter (so the
    kernel has the agent's packages, whichever environment JupyterLab runs from)."""
    from nbdojo.kernel.toolbox import find_toolbox

    source = kernel_specs_dir() / "nbdojo"
    spec = json.loads((source / "kernel.json").read_text())
    if spec["argv"][0] == "python":
        spec["argv"][0] = find_toolbox().python
    with tempfile.TemporaryDirectory(prefix="nbk-spec-") as tmp:
        staged = Path(tmp) / "nbdojo"
        shutil.copytree(source, staged)
        (staged / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
        return Path(KernelSpecManager().install_kernel_spec(str(staged), "nbdojo", user=user, prefix=prefix))


def uninstall_kernelspec(user: bool = True, prefix: str | None = None) -> Path | None:
    """Remove the spec `install_kernelspec` put there; the folder it was in, or None when there was none."""
    ksm = KernelSpecManager()
    if user:
        folder = Path(ksm.user_kernel_dir) / "nbdojo"
    else:
        folder = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / "nbdojo"
    if not (folder / "kernel.json").is_file():
        return None
    shutil.rmtree(folder)
    return folder


#: Files in nbdojo/kernel/startup/ that a Python kernel runs once at start (each in a throwaway namespace).
STARTUP_FILES = ("chunked_streams.py", "keep_on_exit.py")


@functools.cache
def _startup_code(name: str) -> str:
    """One startup file's code, comment lines dropped (see nbdojo/kernel/startup/chunked_streams.py, keep_on_exit.py)."""
    lines = (startup_dir() / name).read_text().splitlines()
    return "\n".join(line for line in lines if line.strip() and not line.lstrip().startswith("#"))


# --- the session ------------------------------------------------------------------------------


class KernelSession:
    """One Jupyter kernel for one episode. Not thread-safe, except `interrupt()` during `execute()`."""

    def __init__(
        self,
        *,
        cwd: str | Path,
        kernel_name: str = "nbdojo",
        argv: list[str] | None = None,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
        interrupt_grace: float = 5.0,
        iopub_drain_timeout: float = 2.0,
        max_output_bytes: int = 2_000_000,
        connection_dir: str | Path | None = None,
        interrupt_mode: str | None = None,
        max_message_bytes: int | None = None,
    ):
        """`interrupt_mode="message"` interrupts over the control channel: needed when the kernel runs
        in its own session (a sandbox), out of reach of a signal to the launcher's process group."""
        self.cwd = Path(cwd).resolve()
        self.interrupt_mode = interrupt_mode
        self.kernel_name = kernel_name
        self.argv = list(argv) if argv is not None else None
        self.env = dict(env) if env is not None else None
        self.startup_timeout = startup_timeout
        self.interrupt_grace = interrupt_grace
        self.iopub_drain_timeout = iopub_drain_timeout
        self.max_output_bytes = max_output_bytes
        self.max_message_bytes = max_message_bytes or max(_MESSAGE_FACTOR * max_output_bytes, 1 << 20)
        self.connection_dir = Path(connection_dir) if connection_dir is not None else None
        self._own_dir: Path | None = None  # a temp dir we made, removed on shutdown
        self._km: KernelManager | None = None
        self._kc: BlockingKernelClient | None = None
        self._monitors: dict[str, zmq.Socket] = {}  # channel -> says when it dropped its connection
        self._log: IO[bytes] | None = None  # the kernel's own stdout/stderr (crash messages)

    def start(self) -> None:
        """Launch the kernel and wait until it answers; KernelStartError if it does not."""
        if self._km is not None:
            return
        if not self.cwd.is_dir():
            raise KernelStartError(f"Kernel working directory does not exist: {self.cwd}")
        spec = _load_spec(self.kernel_name, self.argv, self.interrupt_mode)
        if self.connection_dir is not None:
            folder = self.connection_dir
            folder.mkdir(parents=True, exist_ok=True)
        else:  # unix socket paths must stay under ~100 characters
            folder = self._own_dir = connection_dir()  # named after this host
        self._log = open(folder / "kernel.log", "ab")  # noqa: SIM115 - reused by restarts
        self._km = km = KernelManager(
            kernel_name=self.kernel_name,
            kernel_spec_manager=_OneSpec(spec),
            transport="ipc",
            ip=str(folder / "k"),
            connection_file=str(folder / "kernel.json"),
        )
        km.shutdown_wait_time = 2.0
        # appended after argv, so an argv the sandbox wraps still passes it on to ipykernel
        startup = "; ".join(f"exec({_startup_code(name)!r}, {{'get_ipython': get_ipython}})" for name in STARTUP_FILES)
        patch = [f"--IPKernelApp.exec_lines={startup}"]
        launch: dict[str, Any] = {
            "cwd": str(self.cwd),
            "env": dict(self.env if self.env is not None else os.environ),
            "stdout": self._log,
            "stderr": self._log,
            "extra_arguments": patch if spec.language.lower() == "python" else [],
            "preexec_fn": preexec_fn(),  # the kernel dies with this process
        }
        try:
            on_launcher_thread(km.start_kernel, **launch)
            self._connect()
        except Exception as exc:
            detail = self._log_tail()
            self.shutdown()
            if isinstance(exc, KernelStartError):
                raise
            raise KernelStartError(f"Kernel {self.kernel_name!r} did not start: {exc}{detail}") from exc
        log.info("kernel started: pid %s, connection file %s", self.pid, self.connection_file)

    def _connect(self) -> None:
        assert self._km is not None
        context = zmq.Context()
        context.setsockopt(zmq.RCVHWM, _IOPUB_RCVHWM)
        context.setsockopt(zmq.MAXMSGSIZE, self.max_message_bytes)
        self._kc = kc = self._km.client(context=context)
        kc.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        self._monitors = {name: self._monitor(name) for name in ("iopub", "shell")}
        try:
            kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError as exc:
            raise KernelStartError(f"Kernel did not become ready: {exc}{self._log_tail()}") from exc

    def _monitor(self, name: str) -> zmq.Socket:
        assert self._kc is not None
        return getattr(self._kc, f"{name}_channel").socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)

    def _reopen(self, name: str) -> None:
        """A fresh socket for one channel: zmq does not reconnect after an oversized message (a protocol error).
        The shell socket keeps its identity (the session's), so the running cell's reply still finds it."""
        assert self._kc is not None
        self._monitors.pop(name).close(linger=0)
        getattr(self._kc, f"_{name}_channel").close()
        setattr(self._kc, f"_{name}_channel", None)
        getattr(self._kc, f"{name}_channel").start()
        self._monitors[name] = self._monitor(name)

    def _disconnect(self) -> None:
        kc, self._kc = self._kc, None
        monitors, self._monitors = self._monitors, {}
        for monitor in monitors.values():
            monitor.close(linger=0)
        if kc is not None:
            kc.stop_channels()
            kc.context.destroy(linger=0)

    def restart(self) -> None:
        """Kill the kernel and everything it started, then start a fresh one: all state is lost."""
        km = self._require_km()
        self._disconnect()
        old_pid, leftovers = self.pid, _descendants(self.pid)
        try:
            on_launcher_thread(km.restart_kernel, now=True)  # kills the old process group
        except Exception as exc:
            raise KernelStartError(f"Kernel restart failed: {exc}{self._log_tail()}") from exc
        _kill_all(None, leftovers)  # children that left the group
        self._connect()
        log.info("kernel restarted: pid %s -> %s", old_pid, self.pid)

    def shutdown(self) -> None:
        """Ask the kernel to exit, then kill what is left of its process tree. Safe to repeat."""
        km, self._km = self._km, None
        self._disconnect()
        if km is not None:
            pid = getattr(km.provisioner, "pid", None)
            leftovers = _descendants(pid)
            try:
                if km.has_kernel:
                    km.shutdown_kernel(now=not km.is_alive())
            except Exception:  # noqa: BLE001 - a dead or stuck kernel must not stop the cleanup
                log.debug("graceful kernel shutdown failed", exc_info=True)
            _kill_all(pid, leftovers)  # the kernel ran in its own session: pgid == pid
            with contextlib.suppress(Exception):
                km.cleanup_resources()  # connection file and sockets, also after a failed start
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_dir is not None:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = None

    def interrupt(self) -> None:
        """SIGINT to the kernel's process group: KeyboardInterrupt in the running cell."""
        self._require_km().interrupt_kernel()

    def is_alive(self) -> bool:
        return self._km is not None and self._km.has_kernel and self._km.is_alive()

    def warm_up(self) -> None:
        """Run an empty cell silently (no execution count, no history, no state): a kernel's first cell
        costs more than the next ones, and a kernel started ahead (nbdojo.kernel.pool) pays it early."""
        if self._kc is not None:
            self._kc.execute_interactive("pass", silent=True, store_history=False, timeout=self.startup_timeout,
                                         output_hook=lambda msg: None)

    @property
    def connection_file(self) -> Path | None:
        return Path(self._km.connection_file) if self._km is not None else None

    @property
    def pid(self) -> int | None:
        return getattr(self._km.provisioner, "pid", None) if self._km is not None else None

    def __enter__(self) -> KernelSession:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def execute(self, code: str, timeout: float | None = None, progress: Progress | None = None) -> CellResult:
        """Run one cell, waiting at most `timeout` seconds (None: no limit). Never raises for the cell.
        `progress` sees the outputs while the cell runs, when it asks to."""
        if timeout is not None and not timeout > 0:
            raise ConfigError(f"timeout must be positive or None, got {timeout!r}")
        restarted = not self._require_km().is_alive()
        if restarted:
            log.warning("the kernel was dead before the cell; restarting it (state lost)")
            self.restart()
        assert self._kc is not None
        started, t0 = datetime.now(timezone.utc).isoformat(timespec="milliseconds"), time.monotonic()
        msg_id = self._kc.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
        try:
            result = self._wait(msg_id, timeout, t0, progress)
        except BaseException:  # e.g. Ctrl-C in the host: do not leave the cell running
            if self.is_alive():
                self.interrupt()
            raise
        result.started, result.restarted = started, result.restarted or restarted
        return result

    def _wait(self, msg_id: str, timeout: float | None, t0: float, progress: Progress | None = None) -> CellResult:
        """Collect the cell's messages until idle and replied; enforce the timeout; watch liveness."""
        km, kc = self._require_km(), self._kc
        assert kc is not None
        iopub, shell, poller = self._poller()
        outputs = CellOutputs(self.max_output_bytes)
        result = CellResult("ok", [], None, "", 0.0, None)
        idle = replied = False
        settle_by = math.inf  # once idle or the reply is in, wait this long for the other
        deadline = t0 + timeout if timeout is not None else math.inf  # then the grace deadline
        next_check = t0 + _LIVENESS_INTERVAL
        next_progress = progress(outputs) if progress is not None else math.inf

        while not (idle and replied):
            now = time.monotonic()
            if now >= settle_by:
                log.debug("cell %s: no %s in time; going on", msg_id, "reply" if idle else "idle")
                break
            if now >= deadline and result.status != "timeout":
                log.info("cell ran past its %.3g s timeout; interrupting it", timeout)
                result.status, deadline = "timeout", now + self.interrupt_grace
                self.interrupt()
            elif now >= deadline:
                log.warning("the interrupt did not stop the cell within %.3g s; restarting", self.interrupt_grace)
                result.restarted = True
                self.restart()
                break
            if now >= next_check:
                next_check = now + _LIVENESS_INTERVAL
                if not km.is_alive():
                    result.status, result.error = "died", _died_error(km)
                    log.warning("the kernel died during a cell: %s", result.error["evalue"])
                    result.restarted = True
                    self.restart()
                    break
            if now >= next_progress:
                next_progress = progress(outputs)
            wait_s = max(0.0, min(settle_by, next_check, deadline, next_progress) - time.monotonic())
            events = dict(poller.poll(wait_s * 1000))
            while iopub.socket in events and iopub.msg_ready():
                msg = _read(iopub, outputs)
                kind, content, parent = msg.get("msg_type"), msg.get("content"), msg.get("parent_header")
                if not isinstance(parent, dict) or parent.get("msg_id") != msg_id or not isinstance(content, dict):
                    continue  # left over from an earlier cell or a background thread, or malformed
                if kind == "status" and content.get("execution_state") == "idle":
                    idle, settle_by = True, min(settle_by, time.monotonic() + self.iopub_drain_timeout)
                elif kind == "execute_input":
                    result.execution_count = _count(content.get("execution_count"), result.execution_count)
                elif kind in _OUTPUT_TYPES:
                    outputs.add(msg)
                    if kind == "error" and result.status == "ok":
                        result.status, result.error = "error", capped_error(content)
            while shell.socket in events and shell.msg_ready():
                reply = _read(shell, outputs)
                parent, reply_content = reply.get("parent_header"), reply.get("content")
                if isinstance(parent, dict) and parent.get("msg_id") == msg_id and isinstance(reply_content, dict):
                    replied, settle_by = True, min(settle_by, time.monotonic() + self.iopub_drain_timeout)
                    result.execution_count = _count(reply_content.get("execution_count"), result.execution_count)
                    if reply_content.get("status") == "error" and result.status == "ok":  # iopub error lost
                        result.status, result.error = "error", capped_error(reply_content)
            # A dropped connection is handled after what arrived before it is read: reopening discards the queue.
            if any(monitor in events for monitor in self._monitors.values()) and self._reopen_dropped(outputs, events):
                iopub, shell, poller = self._poller()

        if result.status == "timeout":
            how = (
                "the interrupt did not stop it, so the kernel was restarted: all variables and imports are lost"
                if result.restarted
                else "it was interrupted; variables set before the interrupt are kept"
            )
            evalue = f"The cell ran past its {timeout:g} s timeout; {how}."
            result.error = {"ename": "CellTimeout", "evalue": evalue, "traceback": []}
        too_large = [note for note in outputs.notes if note.startswith(_TOO_LARGE)]
        if too_large and result.status == "ok" and not result.restarted:
            result.status, result.error = "error", {"ename": "OutputTooLarge", "evalue": too_large[0], "traceback": []}
        result.outputs, result.truncated_bytes = outputs.finish(), outputs.dropped
        result.duration_s = time.monotonic() - t0
        return result

    def _poller(self) -> tuple[Any, Any, zmq.Poller]:
        """The iopub and shell channels, and a poller over them and their monitors."""
        assert self._kc is not None
        iopub, shell = self._kc.iopub_channel, self._kc.shell_channel
        poller = zmq.Poller()
        for socket in (iopub.socket, shell.socket, *self._monitors.values()):
            poller.register(socket, zmq.POLLIN)
        return iopub, shell, poller

    def _reopen_dropped(self, outputs: CellOutputs, events: dict) -> bool:
        """A channel dropped its connection: the kernel sent a message over the size limit (or it is dying,
        then the liveness poll reports that). Note it in the cell and reopen the channel; True if one was."""
        reopened = False
        for name, monitor in list(self._monitors.items()):
            if monitor not in events:
                continue
            while monitor.poll(0):
                monitor.recv_multipart()
            if self.is_alive():
                outputs.note(f"{_TOO_LARGE} {self.max_message_bytes:,}-byte limit; it was dropped, and output may "
                             "be missing")
                self._reopen(name)
                reopened = True
        return reopened

    def _require_km(self) -> KernelManager:
        if self._km is None:
            raise KernelError("The kernel is not running: call start() or use the session as a context manager.")
        return self._km

    def _log_tail(self, limit: int = 2000) -> str:
        """The end of the kernel's own output, to say *why* it did not start."""
        if self._log is None:
            return ""
        self._log.flush()
        text = Path(self._log.name).read_bytes()[-limit:].decode("utf-8", "replace").strip()
        return f"\nKernel output:\n{text}" if text else ""


def _read(channel: Any, outputs: CellOutputs) -> dict:
    """The next message on a channel; one the host cannot decode (nested too deep, not JSON, not UTF-8) is
    dropped with a note in the cell, and the cell goes on: {} then."""
    try:
        msg = channel.get_msg(timeout=0)
    except Exception as exc:  # noqa: BLE001 - whatever jupyter_client raises on the kernel's bytes
        log.warning("dropped a message from the kernel that could not be decoded: %s", type(exc).__name__)
        outputs.note(f"a message from the kernel could not be read ({type(exc).__name__}) and was dropped")
        return {}
    return msg if isinstance(msg, dict) else {}


def _count(value: object, default: int | None) -> int | None:
    """An execution count as the kernel claims it: kept only when it is a plain non-negative int."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31 else default


def _died_error(km: KernelManager) -> dict:
    process = getattr(km.provisioner, "process", None)
    code = process.poll() if process is not None else None
    if code is None:
        how = "unknown exit status"
    elif code < 0:
        how = f"killed by {signal.Signals(-code).name if -code in signal.valid_signals() else f'signal {-code}'}"
    else:
        how = f"exit code {code}"
    evalue = f"The kernel died while running this cell ({how}). It was restarted: all variables and imports are lost."
    return {"ename": "KernelDied", "evalue": evalue, "traceback": []}
