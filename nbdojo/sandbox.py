"""The agent kernel's sandbox: what it sees (bubblewrap mounts), what it may use (cgroup and rlimit caps).

The kernel sees the system read-only, the Python environment read-only, the public data
read-only and its workspace read-write; nothing else of the host (private answers, the
nbdojo cache, the host's home, other episodes). It has no network, a scrubbed
environment, and runs as an unprivileged uid when the host is root. The policy is turned
into a launcher command (`nbdojo.launcher`) that joins the cgroups, sets rlimits and
execs bubblewrap; the same command serves as a JupyterLab kernel spec.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import sysconfig
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbdojo.errors import ConfigError, SandboxError

#: The uid/gid the kernel runs as when the host is root ("nobody" on Debian).
SANDBOX_UID = 65534
#: Variables a kernel keeps from the host environment; everything else (API keys, tokens) is dropped.
KEPT_ENV = ("LANG", "LC_ALL", "TZ", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
SYSTEM_RO = ("/usr", "/etc", "/opt")
GPU_DEVICES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset")


@dataclass(frozen=True)
class SandboxPolicy:
    """Everything the launcher needs to build one kernel's sandbox."""

    workspace: str
    readonly: tuple[str, ...] = ()  # public data and other read-only views
    connection_dir: str | None = None  # where the kernel's IPC sockets live (read-write)
    memory_bytes: int | None = 8 * 1024**3
    max_processes: int | None = 512
    max_file_bytes: int | None = 20 * 1024**3  # RLIMIT_FSIZE: one file's size
    gpus: tuple[int, ...] = ()
    cgroup_name: str | None = None  # cgroup leaf name (per episode)
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)  # extra variables for the kernel

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
    mounts: list[tuple[str, str]] = [("--ro-bind", p) for p in python_roots()]
    mounts += [("--ro-bind", p) for p in policy.readonly]
    mounts += [("--bind", policy.workspace)]
    if policy.connection_dir:
        mounts.append(("--bind", policy.connection_dir))
    made: set[str] = {"/tmp", "/usr", "/etc", "/opt", "/proc", "/dev"}
    for kind, path in mounts:
        # bwrap makes missing parents 0700, which an unprivileged uid cannot cross: make them 0755.
        for parent in _parents(path):
            if parent not in made:
                made.add(parent)
                args += ["--perms", "0755", "--dir", parent]
        args += [kind, path, path]
        made.add(path)
    if policy.gpus:
        for dev in [*(f"/dev/nvidia{i}" for i in policy.gpus), *GPU_DEVICES]:
            if os.path.exists(dev):
                args += ["--dev-bind", dev, dev]
        if os.path.isdir("/sys"):
            args += ["--ro-bind", "/sys", "/sys"]
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
    bindir = os.path.dirname(sys.executable)
    env.update({
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": "/tmp/home",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "PYTHONUNBUFFERED": "1",
        "LANG": env.get("LANG", "C.UTF-8"),
        "CUDA_VISIBLE_DEVICES": ",".join(str(g) for g in policy.gpus),
        "NBDOJO_SANDBOX": "1",
    })
    env.update(policy.env)
    return env


def launcher_argv(policy: SandboxPolicy, kernel_argv: list[str]) -> list[str]:
    """The host command that starts a sandboxed kernel: `python -m nbdojo.launcher POLICY -- KERNEL...`."""
    bwrap_path()  # fail early with the install hint
    return [sys.executable, "-m", "nbdojo.launcher", *policy.to_args(), "--", *kernel_argv]


def gpu_indices() -> list[int]:
    """NVIDIA device indices present on this machine (empty without a GPU)."""
    found = []
    for dev in glob.glob("/dev/nvidia[0-9]*"):
        suffix = dev.removeprefix("/dev/nvidia")
        if suffix.isdigit():
            found.append(int(suffix))
    return sorted(found)


def checked_gpus(gpus: list[int] | None) -> list[int]:
    """The GPUs to give a kernel: all of this machine's by default; an index it lacks is a ConfigError."""
    present = gpu_indices()
    if gpus is None:
        return present
    missing = sorted(set(gpus) - set(present))
    if missing:
        have = ", ".join(map(str, present)) if present else "none"
        raise ConfigError(f"GPU {', '.join(map(str, missing))} is not on this machine (its GPUs: {have}).")
    return list(gpus)
