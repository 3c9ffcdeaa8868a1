"""The agent kernel's sandbox: what it sees (bubblewrap mounts), what it may use (cgroup and rlimit caps).

The kernel sees the system read-only, the Python environment read-only, the public data
read-only and its workspace read-write; nothing else of the host (private answers, the
nbdojo cache, the host's home, other episodes). It has no network, a scrubbed
environment, and runs as an unprivileged uid when the host is root. The policy is turned
into a launcher command (`nbdojo.kernel.launcher`) that joins the cgroups, sets rlimits and
execs bubblewrap; the same command serves as a JupyterLab kernel spec.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbdojo.errors import SandboxError
from nbdojo.kernel.gpus import cuda_env, device_nodes, driver_library_dirs

#: The uid/gid the kernel runs as when the host is root ("nobody" on Debian).
SANDBOX_UID = 65534
#: Variables a kernel keeps from the host environment; everything else (API keys, tokens) is dropped.
KEPT_ENV = ("LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SYSTEM_RO = ("/usr", "/etc", "/opt")
#: CPU topology, read-only: without it lscpu finds no cores and joblib warns in every cell.
CPU_TOPOLOGY = "/sys/devices/system/cpu"


@dataclass(frozen=True)
class SandboxPolicy:
    """Everything the launcher needs to build one kernel's sandbox."""

    workspace: str
    readonly: tuple[str, ...] = ()  # public data and other read-only views
    connection_dir: str | None = None  # where the kernel's IPC sockets live (read-write)
    memory_bytes: int | None = 8 * 1024**3
    max_processes: int | None = 512
    max_file_bytes: int | None = 20 * 1024**3  # RLIMIT_FSIZE: one file's size
    gpus: tuple[int, ...] = ()  # nvidia-smi indices
    gpu_devices: tuple[str, ...] = ()  # their device nodes, resolved on the host (see nbdojo.kernel.gpus)
    cgroup_name: str | None = None  # cgroup leaf name (per episode)
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)  # extra variables for the kernel
    #: The kernel's Python (the agent's toolbox, see nbdojo.kernel.toolbox): folders mounted read-only,
    #: package folders of its base install hidden under an empty tmpfs, and the folder of its interpreter.
    #: Empty: the host's own interpreter (python_roots()), as a JupyterLab spec written by hand may ask.
    python_roots: tuple[str, ...] = ()
    masked: tuple[str, ...] = ()
    python_bin: str | None = None

    def to_args(self) -> list[str]:
        """The policy as launcher arguments (so a kernel spec can carry it)."""
        import json

        return ["--policy", json.dumps(asdict(self), sort_keys=True)]

    @classmethod
    def from_json(cls, text: str) -> SandboxPolicy:
        import json

        raw: dict[str, Any] = json.loads(text)
        raw["readonly"] = tuple(raw.get("readonly", ()))
        raw["gpus"] = tuple(raw.get("gpus", ()))
        raw["gpu_devices"] = tuple(raw.get("gpu_devices", ()))
        raw["python_roots"] = tuple(raw.get("python_roots", ()))
        raw["masked"] = tuple(raw.get("masked", ()))
        return cls(**raw)


def bwrap_path() -> str:
    """The bubblewrap binary, or a SandboxError that says how to get it."""
    path = shutil.which("bwrap")
    if path is None:
        raise SandboxError(
            "bubblewrap (bwrap) is not installed, so the agent's kernel cannot be sandboxed. "
            "Install it (Debian/Ubuntu: `apt-get install bubblewrap`) or pass --no-sandbox "
            "to run the kernel unconfined (recorded in the notebook)."
        )
    return path


def python_roots() -> list[str]:
    """Folders the kernel's interpreter needs: the environment, its base install, site-packages."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    executable = os.path.realpath(sys.executable)
    roots.add(os.path.dirname(os.path.dirname(executable)))
    roots.update(entry for entry in sys.path  # site folders a .pth file added (one environment over another)
                 if os.path.isabs(entry) and os.path.basename(entry) in ("site-packages", "dist-packages")
                 and os.path.isdir(entry))
    # Keep only the outermost folders, and none that is a system folder mounted anyway.
    kept: list[str] = []
    for root in sorted(roots, key=len):
        if any(root == k or root.startswith(k.rstrip("/") + "/") for k in (*kept, *SYSTEM_RO)):
            continue
        kept.append(root)
    return kept


def _parents(path: str) -> list[str]:
    parts = Path(path).parts
    return [str(Path(*parts[: i + 1])) for i in range(1, len(parts) - 1)]


def bwrap_args(policy: SandboxPolicy, *, drop_to_uid: bool) -> list[str]:
    """bubblewrap's arguments (without the command) for a policy."""
    args = [bwrap_path()]
    for path in SYSTEM_RO:
        if os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        target = f"/{name}"
        if os.path.islink(target):
            args += ["--symlink", os.readlink(target), target]
        elif os.path.isdir(target):
            args += ["--ro-bind", target, target]
    args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp",
             "--perms", "1777", "--dir", "/tmp/home", "--perms", "1777", "--tmpfs", "/dev/shm"]
    mounts: list[tuple[str, str]] = [("--ro-bind", p) for p in _roots(policy)]
    mounts += [("--tmpfs", p) for p in policy.masked if os.path.isdir(p)]  # after the root that holds it
    mounts += [("--ro-bind", p) for p in policy.readonly]
    mounts += [("--bind", policy.workspace)]
    if policy.connection_dir:
        mounts.append(("--bind", policy.connection_dir))
    made: set[str] = {"/tmp", "/usr", "/etc", "/opt", "/proc", "/dev"}
    for kind, path in mounts:
        # bwrap makes missing parents 0700, which an unprivileged uid cannot cross: make them 0755.
        # (A masked folder lies inside a root already mounted: its parents are there.)
        for parent in [] if kind == "--tmpfs" else _parents(path):
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += [kind, path] if kind == "--tmpfs" else [kind, path, path]
        made.add(path)
    if policy.gpus:
        for dev in policy.gpu_devices or device_nodes(policy.gpus):
            if os.path.exists(dev):
                args += ["--dev-bind", dev, dev]
        for folder in driver_library_dirs():
            if not _under(folder, _visible_roots(policy)):
                args += ["--ro-bind", folder, folder]
        if os.path.isdir("/sys"):
            args += ["--ro-bind", "/sys", "/sys"]
    elif os.path.isdir(CPU_TOPOLOGY):  # lscpu, and so joblib/loky, count the cores from here
        for parent in _parents(CPU_TOPOLOGY):
            args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", CPU_TOPOLOGY, CPU_TOPOLOGY]
    args += ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
             "--hostname", "nbdojo", "--die-with-parent", "--new-session", "--clearenv",
             "--chdir", policy.workspace]
    if not policy.network:
        args.append("--unshare-net")
    if not drop_to_uid:
        args += ["--unshare-user"]  # unprivileged host: a user namespace does the isolation
    for key, value in sandbox_env(policy).items():
        args += ["--setenv", key, value]
    return args


def sandbox_env(policy: SandboxPolicy) -> dict[str, str]:
    """The kernel's whole environment: a short allow-list, never the host's secrets."""
    env = {key: os.environ[key] for key in KEPT_ENV if key in os.environ}
    bindir = policy.python_bin or os.path.dirname(sys.executable)
    env.update({
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONUNBUFFERED": "1",
        "LANG": env.get("LANG", "C.UTF-8"),
        "NBDOJO_SANDBOX": "1",
        # the cores this kernel may use (its CPU affinity): joblib/loky then never probes for more
        "LOKY_MAX_CPU_COUNT": str(_usable_cpus()),
    })
    if "CUDA_VISIBLE_DEVICES" not in policy.env:
        env.update(cuda_env(policy.gpus, sandboxed=True))
    library_path = _library_path(policy)
    if library_path:
        env["LD_LIBRARY_PATH"] = library_path
    env.update(policy.env)
    return env


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _under(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _roots(policy: SandboxPolicy) -> list[str]:
    """The kernel's Python folders: the toolbox's when the policy names them, else the host's."""
    return list(policy.python_roots) or python_roots()


def _visible_roots(policy: SandboxPolicy) -> list[str]:
    """Host folders the kernel sees (besides its workspace and data): the system and Python."""
    return [*SYSTEM_RO, *_roots(policy)]


def _library_path(policy: SandboxPolicy) -> str:
    """The host's LD_LIBRARY_PATH, kept to the folders the kernel can see (the driver's, for a GPU kernel)."""
    roots = _visible_roots(policy) + (driver_library_dirs() if policy.gpus else [])
    kept: list[str] = []
    for entry in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        real = os.path.realpath(entry) if entry else ""
        if real and os.path.isdir(real) and _under(real, roots) and real not in kept:
            kept.append(real)
    return ":".join(kept)


def launcher_argv(policy: SandboxPolicy, kernel_argv: list[str]) -> list[str]:
    """The host command that starts a sandboxed kernel: `python -m nbdojo.kernel.launcher POLICY -- KERNEL...`."""
    bwrap_path()  # fail early with the install hint
    return [sys.executable, "-m", "nbdojo.kernel.launcher", *policy.to_args(), "--", *kernel_argv]
