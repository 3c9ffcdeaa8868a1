"""Watch episodes live in JupyterLab, and attach to their kernels.

`nbdojo watch runs/` starts JupyterLab (with jupyter-collaboration) on the runs folder.
The env rewrites each trajectory notebook after every step; collaboration's file watcher
sees the change on disk and pushes the new cells and outputs into every open tab within
about a second, no reload needed. Trajectories are read-only there: an edit in the browser
would otherwise be autosaved over the env's record. Nothing on the page runs on the host:
the server starts no kernel (a trajectory opens with none, and "Run All" has nothing to run
on but a live episode kernel, which is sandboxed), has no terminals, and follows none of the
symbolic links agents leave in their workspaces (`nbdojo.tools.lab`).

Live episode kernels are found by looking at processes: a kernel started by nbdojo
has its connection file in a /tmp/nbk-* folder and runs in its run's workspace. Each
one whose run lies under the watched folder is published, under the run's name, in
`<runs>/.kernels/`, which JupyterLab reads as its external-kernels folder: the kernel is
listed among the running kernels and a console or notebook can connect to it. JupyterLab
cannot shut down, restart or interrupt an external kernel, and `nbdojo attach` opens a
terminal console that never sends a shutdown request, so looking at the agent's variables
leaves its episode running. The kernel stays in its sandbox: a client only talks to it
over its sockets.
"""

from __future__ import annotations

import contextlib
import glob
import json
import logging
import math
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tornado import web

from nbdojo.errors import ConfigError, NbdojoError
from nbdojo.kernel.leftovers import is_reserved
from nbdojo.notebook import KEY as NOTEBOOK_KEY
from nbdojo.tools.lab import SafeContentsManager
from nbdojo.tools.lab_server import server_args

log = logging.getLogger(__name__)

KERNELS_DIR = ".kernels"
_EXIT = re.compile(r"^\s*%?(exit|quit)\s*(\(\s*\))?\s*;?\s*$")
CONNECTION_GLOB = "/tmp/nbk-*/kernel.json"
TRAJECTORY = "trajectory.ipynb"
#: Prebuilt JupyterLab extensions shipped as package data (plain JavaScript, nothing built at install time).
LABEXTENSIONS = Path(__file__).with_name("labextensions")
#: JupyterLab settings for nbdojo's servers: no calls home, and cell timings recorded (for `nbdojo score`).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"checkForUpdates": False, "fetchNews": "false"},
    "@jupyterlab/notebook-extension:tracker": {"recordTiming": True},
}


class WatchError(NbdojoError):
    """JupyterLab did not start, or a run's kernel cannot be found."""


# ----- live kernels -------------------------------------------------------------------------

@dataclass(frozen=True)
class LiveKernel:
    """A running episode kernel: its run folder, connection file and kernel process."""

    run_dir: Path
    connection_file: Path
    pid: int

    @property
    def name(self) -> str:
        return self.run_dir.name


def _workspace_of(proc: Any) -> Path | None:
    """The workspace a kernel process was started in: bubblewrap's --chdir (stable even if the agent
    changes directory), else the process's working directory (an unsandboxed kernel)."""
    import psutil

    try:
        for parent in proc.parents():
            cmd = parent.cmdline()
            if cmd and os.path.basename(cmd[0]) == "bwrap" and "--chdir" in cmd:
                return Path(cmd[cmd.index("--chdir") + 1])
        return Path(proc.cwd())
    except (psutil.Error, IndexError):
        return None


class KernelFinder:
    """Finds live nbdojo kernels whose run is under `root`; cheap to call every second."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self._known: dict[Path, LiveKernel | None] = {}  # None: a connection file with no kernel process
        self._rescan_at = 0.0

    def find(self) -> list[LiveKernel]:
        import psutil

        files = {Path(p) for p in glob.glob(CONNECTION_GLOB)}
        for gone in set(self._known) - files:
            del self._known[gone]
        for path, kernel in list(self._known.items()):
            if kernel is not None and not _still_running(kernel):
                del self._known[path]
        unknown = files - set(self._known)
        pending = [p for p, k in self._known.items() if k is None]
        # a kernel starts a moment after its connection file is written: look again soon for a new file,
        # rarely for one left behind by a kernel that is gone
        young = any(_age(p) < 60 for p in pending)
        if unknown or young or (pending and time.monotonic() >= self._rescan_at):
            self._rescan_at = time.monotonic() + 10.0
            wanted = {str(p) for p in files}
            found: dict[Path, LiveKernel | None] = {p: None for p in files if self._known.get(p) is None}
            for proc in psutil.process_iter(["pid", "cmdline"]):
                cmd = proc.info.get("cmdline") or []
                if "-f" not in cmd[:-1] or "ipykernel_launcher" not in " ".join(cmd[:4]):
                    continue
                conn = cmd[cmd.index("-f") + 1]
                if conn not in wanted or self._known.get(Path(conn)) is not None:
                    continue
                workspace = _workspace_of(proc)
                if workspace is None:
                    continue
                run_dir = workspace.resolve().parent
                if is_reserved(run_dir):  # a pooled kernel no episode has taken: looked at again later
                    continue
                if run_dir == self.root or self.root in run_dir.parents:
                    found[Path(conn)] = LiveKernel(run_dir, Path(conn), proc.info["pid"])
            self._known.update(found)
        return sorted((k for k in self._known.values() if k is not None), key=lambda k: str(k.run_dir))


def _age(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return math.inf


def _still_running(kernel: LiveKernel) -> bool:
    import psutil

    try:
        proc = psutil.Process(kernel.pid)
        return proc.status() != psutil.STATUS_ZOMBIE and str(kernel.connection_file) in proc.cmdline()
    except psutil.Error:
        return False


def _published_name(root: Path, run_dir: Path) -> str:
    return str(run_dir.relative_to(root)).replace(os.sep, "__") + ".json"


def publish_kernels(root: Path, kernels: list[LiveKernel]) -> list[Path]:
    """Make `<root>/.kernels/` hold exactly these kernels' connection files, each named after its run
    (JupyterLab lists an external kernel under the `kernel_name` its file gives)."""
    root = Path(root).resolve()
    folder = root / KERNELS_DIR
    staging = folder / ".staging"  # JupyterLab reads only files directly in the folder
    staging.mkdir(parents=True, exist_ok=True)
    wanted: dict[str, dict[str, Any]] = {}
    for kernel in kernels:
        try:
            info = json.loads(kernel.connection_file.read_text())
        except (OSError, ValueError):
            continue
        label = kernel.run_dir.relative_to(root).as_posix()  # JupyterLab shows it as the kernel's name
        info.update({"kernel_name": label, "nbdojo_run": str(kernel.run_dir),
                     "nbdojo_connection_file": str(kernel.connection_file)})
        wanted[_published_name(root, kernel.run_dir)] = info
    for path in folder.iterdir():
        if path.is_file() and path.name not in wanted:
            path.unlink(missing_ok=True)
    published = []
    for name, info in wanted.items():
        target = folder / name
        text = json.dumps(info, indent=1, sort_keys=True)
        if not target.exists() or target.read_text() != text:
            tmp = staging / name
            tmp.write_text(text)
            os.chmod(tmp, 0o600)  # it holds the kernel's key
            os.replace(tmp, target)
        published.append(target)
    return published


class KernelPublisher:
    """A thread that keeps `<root>/.kernels/` in step with the live kernels, every `interval` seconds."""

    def __init__(self, root: Path, interval: float = 1.0):
        self.root, self.interval = Path(root).resolve(), interval
        self.finder = KernelFinder(self.root)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nbdojo-kernel-publisher", daemon=True)

    def sync(self) -> list[LiveKernel]:
        kernels = self.finder.find()
        publish_kernels(self.root, kernels)
        return kernels

    def start(self) -> KernelPublisher:
        self.sync()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            publish_kernels(self.root, [])  # nothing stays listed once nobody watches

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sync()
            except Exception:  # noqa: BLE001 - one bad scan must not stop the publishing
                log.warning("could not publish the live kernels", exc_info=True)


# ----- JupyterLab ---------------------------------------------------------------------------

def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _is_trajectory(path: str) -> bool:
    return os.path.basename(path.rstrip("/")) == TRAJECTORY


class TrajectoryGuard(SafeContentsManager):
    """nbdojo's link-refusing contents manager, for which a trajectory notebook is read-only: the env owns it,
    and collaboration would autosave a browser edit over the record (save a copy instead). It is served as
    not writable (JupyterLab shows its read-only indicator) with each cell not editable and not deletable
    (the editor refuses typing); a copy saved from it (Save As) gets its cells back editable."""

    async def get(self, path: str, content: bool = True, type: str | None = None,
                  format: str | None = None, require_hash: bool = False) -> dict[str, Any]:
        model: dict[str, Any] = await super().get(path, content=content, type=type, format=format,
                                                  require_hash=require_hash)
        if _is_trajectory(path) and model.get("type") == "notebook":
            model["writable"] = False
            for cell in (model.get("content") or {}).get("cells", []):
                cell["metadata"].update(editable=False, deletable=False)
        return model

    async def save(self, model: dict[str, Any], path: str = "") -> dict[str, Any]:
        if _is_trajectory(path) and await self.file_exists(path):
            raise web.HTTPError(403, f"{path} is an nbdojo trajectory: the environment writes it, so it is "
                                     "read-only here. Use File > Save Notebook As... to keep an edited copy.")
        if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
            for cell in model["content"].get("cells", []):
                meta = cell.get("metadata") or {}
                if NOTEBOOK_KEY in meta and meta.get("editable") is False and meta.get("deletable") is False:
                    del meta["editable"], meta["deletable"]  # a trajectory's cell, copied: yours to edit
        return await super().save(model, path)


class LabServer:
    """A JupyterLab server on loopback, as a child process: `with LabServer(root) as lab: lab.url`.

    Whatever the options, it has no terminals and a contents manager that follows no symbolic link and
    stays in `root` (`nbdojo.tools.lab`). It starts only the kernel specs in `allowed_kernelspecs`, each of
    which must be a sandboxed (launcher) one; without them it starts no kernel at all and notebooks open
    without one (external kernels, with `external_kernels`, can still be attached).
    """

    def __init__(self, root: str | Path, *, host: str = "127.0.0.1", port: int | None = None,
                 token: str | None = None, poll_interval: float = 0.5, external_kernels: bool = False,
                 guard_trajectories: bool = False, allowed_kernelspecs: list[str] | None = None,
                 default_url: str | None = None, start_timeout: float = 90.0, watch_extension: bool = False):
        self.root = Path(root).resolve()
        self.host, self.port = host, port or _free_port(host)
        self.token = token or secrets.token_hex(24)
        self.poll_interval, self.external_kernels = poll_interval, external_kernels
        self.guard_trajectories, self.allowed_kernelspecs = guard_trajectories, allowed_kernelspecs
        self.default_url, self.start_timeout = default_url, start_timeout
        self.watch_extension = watch_extension
        self.state: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/lab?token={self.token}"

    @property
    def runs_url(self) -> str:
        """The run list (`nbdojo.tools.lab_runs`; with `watch_extension`)."""
        return f"{self.base}/nbdojo/runs?token={self.token}"

    def notebook_url(self, path: str | Path) -> str:
        rel = Path(path).resolve().relative_to(self.root).as_posix()
        return f"{self.base}/lab/tree/{rel}?token={self.token}"

    def command(self) -> list[str]:
        assert self.state is not None
        args = [
            sys.executable, "-m", "jupyterlab", "--no-browser",
            f"--ServerApp.ip={self.host}", f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
            f"--YDocExtension.file_poll_interval={self.poll_interval}",
            f"--SQLiteYStore.db_path={self.state / 'ystore.db'}",
            f"--BaseFileIdManager.db_path={self.state / 'file_id.db'}",
            f"--YDocExtension.session_store_path={self.state / 'collaboration_sessions.json'}",
        ]
        if self.external_kernels:
            args += ["--ServerApp.allow_external_kernels=True",
                     f"--ServerApp.external_connection_dir={self.root / KERNELS_DIR}"]
        args += server_args(contents_manager=f"{__name__}.TrajectoryGuard" if self.guard_trajectories else None,
                            kernels=self.allowed_kernelspecs)
        if self.allowed_kernelspecs:  # listed in JupyterLab; the first is what a kernel without a name gets
            args += [f"--KernelSpecManager.allowed_kernelspecs={json.dumps(self.allowed_kernelspecs)}",
                     f"--MappingKernelManager.default_kernel_name={self.allowed_kernelspecs[0]}"]
        if self.watch_extension:  # follows live trajectories; explains why agent kernels cannot be stopped
            args.append(f"--LabApp.extra_labextensions_path={LABEXTENSIONS}")
        if self.default_url:
            args.append(f"--LabApp.default_url={self.default_url}")
        if os.geteuid() == 0:
            args.append("--allow-root")
        return args

    def start(self) -> LabServer:
        from nbdojo.kernel._pdeathsig import preexec_fn

        self.root.mkdir(parents=True, exist_ok=True)
        if self.external_kernels:
            (self.root / KERNELS_DIR).mkdir(exist_ok=True)
        self.state = Path(tempfile.mkdtemp(prefix="nbdojo-lab-"))
        config = self.state / "config"
        (config / "labconfig").mkdir(parents=True)
        (config / "labconfig" / "default_setting_overrides.json").write_text(
            json.dumps(LAB_SETTINGS, indent=2))  # read by jupyterlab_server from every Jupyter config dir
        if self.watch_extension:  # the run list, /nbdojo/runs (merged with the other enabled server extensions)
            (config / "jupyter_server_config.d").mkdir()
            (config / "jupyter_server_config.d" / "nbdojo-runs.json").write_text(
                json.dumps({"ServerApp": {"jpserver_extensions": {"nbdojo.tools.lab_runs": True}}}))
        env = dict(os.environ)
        if self.allowed_kernelspecs:  # the plays' kernel specs live under nbdojo's home, not in Jupyter's folders
            from nbdojo.tools.play import jupyter_env

            env = jupyter_env(env)
        env["JUPYTER_CONFIG_PATH"] = os.pathsep.join(p for p in (str(config), env.get("JUPYTER_CONFIG_PATH")) if p)
        self.log_path = self.state / "lab.log"
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.command(), cwd=self.state, env=env, stdout=logf,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         preexec_fn=preexec_fn())  # noqa: PLW1509 - dies with us
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log_tail()
                self.stop()
                raise WatchError(f"JupyterLab exited at start (code {self.proc.returncode}):\n{tail}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                if self.api("/api/status") is not None:
                    return self
            time.sleep(0.25)
        tail = self.log_tail()
        self.stop()
        raise WatchError(f"JupyterLab did not answer within {self.start_timeout:.0f} s:\n{tail}")

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(self.base + path, method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our loopback server
            body = response.read()
        return json.loads(body) if body else {}

    def log_tail(self, limit: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except (AttributeError, OSError):
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # the server shuts down the kernels it started, not external ones
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self.state is not None:
            shutil.rmtree(self.state, ignore_errors=True)
            self.state = None

    def wait(self) -> int:
        assert self.proc is not None
        return self.proc.wait()

    def __enter__(self) -> LabServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Watch:
    """JupyterLab on a runs folder plus the kernel publisher: what `nbdojo watch` runs."""

    def __init__(self, root: str | Path = "runs", *, host: str = "127.0.0.1", port: int | None = None,
                 token: str | None = None, poll_interval: float = 0.5, kernel_interval: float = 1.0):
        self.root = Path(root).resolve()
        self.lab = LabServer(self.root, host=host, port=port, token=token, poll_interval=poll_interval,
                             external_kernels=True, guard_trajectories=True, watch_extension=True)
        self.publisher = KernelPublisher(self.root, interval=kernel_interval)

    def start(self) -> Watch:
        self.root.mkdir(parents=True, exist_ok=True)
        self.publisher.start()
        try:
            self.lab.start()
        except BaseException:
            self.publisher.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self.lab.stop()
        finally:
            self.publisher.stop()

    def __enter__(self) -> Watch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----- attach -------------------------------------------------------------------------------

def find_run(run: str | Path, root: str | Path = "runs") -> Path:
    """A run folder from its path, its notebook's path, or its name (or a unique prefix) under `root`."""
    path = Path(run)
    if path.suffix == ".ipynb":
        path = path.parent
    if path.is_dir():
        return path.resolve()
    root = Path(root)
    candidates = sorted(p for p in root.glob(f"**/{run}*") if p.is_dir() and (p / "workspace").is_dir()) \
        if root.is_dir() else []
    exact = [p for p in candidates if p.name == str(run)]
    if len(exact) == 1 or len(candidates) == 1:
        return (exact or candidates)[0].resolve()
    if candidates:
        names = ", ".join(p.name for p in candidates[:5])
        raise ConfigError(f"{run!r} matches several runs under {root}: {names}. Give more of the name.")
    raise ConfigError(f"No run {run!r} (a run folder, its notebook, or a run name under {root}).")


def live_kernel(run_dir: Path) -> LiveKernel:
    """The live kernel of a run, or WatchError if its episode has no kernel running."""
    run_dir = Path(run_dir).resolve()
    for kernel in KernelFinder(run_dir.parent).find():
        if kernel.run_dir == run_dir:
            return kernel
    raise WatchError(f"The run {run_dir.name} has no live kernel (its episode is over, or it runs elsewhere).")


def attach_console(connection_file: str | Path, argv: list[str] | None = None) -> None:
    """`jupyter console --existing CONNECTION_FILE`, except that leaving it (even with `exit`) never asks
    the kernel to shut down: the kernel belongs to a running episode."""
    from jupyter_console.app import JupyterConsoleApp, ZMQTerminalIPythonApp
    from jupyter_console.ptshell import ZMQTerminalInteractiveShell

    class KeepKernelShell(ZMQTerminalInteractiveShell):  # type: ignore[misc]
        def run_cell(self, cell: str, store_history: bool = True) -> None:
            if _EXIT.match(cell):  # ipykernel stops its own event loop on `exit`: never send it
                self.ask_exit()
                return None
            return super().run_cell(cell, store_history=store_history)

        @property
        def keepkernel(self) -> bool:  # `exit` in the kernel asks the console to stop it: never
            return True

        @keepkernel.setter
        def keepkernel(self, value: bool) -> None:
            pass

    class AttachApp(ZMQTerminalIPythonApp):  # type: ignore[misc]
        def init_shell(self) -> None:
            JupyterConsoleApp.initialize(self)
            signal.signal(signal.SIGINT, self.handle_sigint)  # Ctrl-C: the console cannot interrupt it either
            self.shell = KeepKernelShell.instance(parent=self, manager=None, client=self.kernel_client,
                                                  confirm_exit=self.confirm_exit)
            self.shell.own_kernel = False
            self.shell.client.shutdown = _never_shutdown

    AttachApp.launch_instance(argv=["--existing", str(connection_file), *(argv or [])])


def _never_shutdown(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for the console client's shutdown request."""
