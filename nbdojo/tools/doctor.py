"""`nbdojo doctor`: what this machine gives an agent's kernel, checked from the host and from inside a sandbox.

The host side looks for bubblewrap, how the kernel's uid is dropped, how memory and process
caps are held (a cgroup, or the watchdog) and which GPUs exist. The kernel side starts a
real sandboxed kernel on an empty workspace and runs one probe cell: its uid, network,
environment, what of the host it can see, and PyTorch with CUDA (a small matmul on each
GPU it is given). Each finding is a `Check`; a failed one makes the command exit 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbdojo.errors import NbdojoError

#: The probe cell. `HOST_ENV` (names and value hashes, never values) and `HOST_PATHS` are set before it runs.
PROBE = r'''
import hashlib, json, os, socket
found = {"uid": os.getuid(), "hostname": socket.gethostname(), "cwd": os.getcwd()}
found["interfaces"] = sorted(name for _i, name in socket.if_nameindex())
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2).close()
    found["network"] = "reachable"
except OSError as exc:
    found["network"] = type(exc).__name__ + ": " + str(exc)
found["host_env_seen"] = sorted(k for k, digest in HOST_ENV.items()
                                if hashlib.sha256(os.environ.get(k, "").encode()).hexdigest() == digest)
found["host_paths_seen"] = sorted(p for p in HOST_PATHS if os.path.exists(p))
found["cuda_visible_devices"] = os.environ.get("CUDA_VISIBLE_DEVICES")
try:
    import torch
    found["torch"] = torch.__version__
    found["torch_cuda_build"] = torch.version.cuda
    found["cuda_available"] = torch.cuda.is_available()
    found["gpus"] = []
    for i in range(torch.cuda.device_count() if found["cuda_available"] else 0):
        x = torch.ones(512, 512, device=f"cuda:{i}")
        found["gpus"].append({"index": i, "name": torch.cuda.get_device_name(i),
                              "memory_gib": round(torch.cuda.get_device_properties(i).total_memory / 1024**3, 1),
                              "matmul_ok": float((x @ x)[0, 0]) == 512.0})
except Exception as exc:  # the probe reports; it never fails the cell
    found["torch_error"] = repr(exc)
print("NBDOJO-PROBE " + json.dumps(found, sort_keys=True))
'''


@dataclass
class Check:
    """One finding: `ok` is True (fine), False (broken: exit 1) or None (worth knowing, not broken)."""

    name: str
    ok: bool | None
    detail: str


def host_checks() -> list[Check]:
    """What the host offers, without starting a kernel."""
    from nbdojo._package import __version__
    from nbdojo.kernel.caps import CGROUP_ROOT, Cgroup, cgroups_wanted
    from nbdojo.kernel.gpus import machine_gpus
    from nbdojo.kernel.sandbox import SANDBOX_UID

    checks = [Check("nbdojo", True, f"{__version__} on Python {platform.python_version()}, {platform.machine()}")]
    bwrap = shutil.which("bwrap")
    if bwrap:
        version = _first_line([bwrap, "--version"])
        checks.append(Check("sandbox", True, f"{version or 'bubblewrap'} at {bwrap}"))
    else:
        checks.append(Check("sandbox", False, "bubblewrap is missing: `apt-get install bubblewrap` "
                                              "(or run with --no-sandbox, recorded in the notebook)"))
    if os.geteuid() == 0:
        how = f"uid {SANDBOX_UID} through setpriv" if shutil.which("setpriv") else \
            f"uid {SANDBOX_UID} in a user namespace (setpriv is missing)"
    else:
        how = f"your uid ({os.getuid()}) in a user namespace"
    checks.append(Check("kernel runs as", True, how))
    try:
        from nbdojo.kernel.toolbox import find_toolbox

        box = find_toolbox()
        main = box.main_packages()
        checks.append(Check("toolbox", True, f"{box.path}: " + ", ".join(f"{k} {v}" for k, v in main.items())))
    except NbdojoError as exc:
        checks.append(Check("toolbox", False, str(exc)))
    group = Cgroup("doctor-probe")
    if not cgroups_wanted():
        checks.append(Check("caps", None, "NBDOJO_CGROUPS=0: RLIMIT_NPROC and the watchdog hold the caps"))
    elif group.version and group.dirs and all(os.access(p.parent, os.W_OK) for p in group.dirs.values()):
        checks.append(Check("caps", True, f"cgroup v{group.version} under {CGROUP_ROOT} (memory and processes)"))
    else:
        checks.append(Check("caps", None, "no writable cgroup: RLIMIT_NPROC and a watchdog of the kernel's "
                                          "memory and tasks hold the caps"))
    found = machine_gpus()
    if found:
        checks.append(Check("gpus", True, "; ".join(f"{g.index}: {g.label}" for g in found)))
    else:
        checks.append(Check("gpus", None, "none: kernels run PyTorch on the CPU"))
    return checks


def probe_kernel(*, gpus: list[int] | None = None, sandbox: bool = True, timeout: float = 120) -> dict[str, Any]:
    """Start a kernel on an empty workspace, run the probe cell, return what it found (and `caps`)."""
    from nbdojo.kernel.agent import AgentKernel
    from nbdojo.limits import Limits
    from nbdojo.kernel.sandbox import SandboxPolicy, sandbox_env

    given = sandbox_env(SandboxPolicy(workspace=""))  # what the sandbox sets on purpose
    host_env = {k: hashlib.sha256(v.encode()).hexdigest() for k, v in os.environ.items() if k not in given and v}
    workspace = Path(tempfile.mkdtemp(prefix="nbdojo-doctor-"))
    host_paths = secret_paths(workspace)
    kernel = AgentKernel(workspace=workspace, readonly=[], caps=Limits(), sandbox=sandbox, gpus=gpus,
                         name=f"doctor-{workspace.name[-8:]}")
    try:
        kernel.start()
        code = f"HOST_ENV = {host_env!r}\nHOST_PATHS = {host_paths!r}\n" + PROBE
        result = kernel.execute(code, timeout=timeout)
        text = "".join(o.get("text", "") for o in result.outputs if o.get("output_type") == "stream")
        line = next((ln for ln in text.splitlines() if ln.startswith("NBDOJO-PROBE ")), None)
        if result.status != "ok" or line is None:
            raise NbdojoError(f"The probe cell did not finish ({result.status}): {result.error or text[-500:]}")
        found: dict[str, Any] = json.loads(line.removeprefix("NBDOJO-PROBE "))
        found["caps"] = kernel.caps_mode
        found["gpus_given"] = list(kernel.gpus)
        return found
    finally:
        kernel.shutdown()
        shutil.rmtree(workspace, ignore_errors=True)


def kernel_checks(found: dict[str, Any], *, sandbox: bool = True) -> list[Check]:
    """Turn a probe's findings into checks: isolation first, then PyTorch and the GPUs."""
    checks = []
    if sandbox:
        isolated = found["network"] != "reachable" and found["interfaces"] in ([], ["lo"])
        interfaces = ", ".join(found["interfaces"]) or "none"
        checks.append(Check("kernel network", isolated, f"interfaces: {interfaces}; 1.1.1.1:53: {found['network']}"))
        leaked = found["host_env_seen"]
        checks.append(Check("kernel environment", not leaked,
                            "scrubbed: no host variable but the allow-list" if not leaked
                            else f"host variables visible: {', '.join(leaked)}"))
        seen = found["host_paths_seen"]
        checks.append(Check("kernel view", not seen, "the nbdojo cache and your home are invisible" if not seen
                            else f"host paths visible: {', '.join(seen)}"))
    checks.append(Check("kernel caps", found["caps"] != "none", found["caps"]))
    checks.append(Check("kernel identity", True, f"uid {found['uid']}, hostname {found['hostname']}"))
    if "torch_error" in found:
        checks.append(Check("kernel torch", None, f"not importable: {found['torch_error']}"))
        return checks
    build = f"CUDA {found['torch_cuda_build']} build" if found["torch_cuda_build"] else "CPU build"
    checks.append(Check("kernel torch", True, f"{found['torch']} ({build})"))
    given = found["gpus_given"]
    if found["cuda_available"]:
        ok = len(found["gpus"]) == len(given) and all(g["matmul_ok"] for g in found["gpus"])
        names = "; ".join(f"cuda:{g['index']} {g['name']} {g['memory_gib']} GiB, matmul "
                          f"{'ok' if g['matmul_ok'] else 'WRONG'}" for g in found["gpus"])
        checks.append(Check("kernel cuda", ok, f"{names} (CUDA_VISIBLE_DEVICES={found['cuda_visible_devices']})"))
    elif given and found["torch_cuda_build"]:
        checks.append(Check("kernel cuda", False, f"GPUs {given} were given but torch.cuda is not available "
                                                  "inside the sandbox"))
    elif given:
        checks.append(Check("kernel cuda", None, f"GPUs {given} were given, but this torch is a CPU build"))
    else:
        checks.append(Check("kernel cuda", None, "no GPU given: PyTorch runs on the CPU"))
    return checks


def _first_line(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = (out.stdout or out.stderr).strip().splitlines()
    return lines[0] if lines else ""


def secret_paths(workspace: Path, limit: int = 12) -> list[str]:
    """Host paths the kernel must not see: every prepared competition's answers, then up to `limit`
    entries of the nbdojo cache and the home folder.

    Folders that lead to a mounted path (the Python environment, the workspace) appear in the
    sandbox as empty stand-ins, so those are skipped and their other entries are named instead.
    """
    from nbdojo.competitions import data_dir, is_prepared, list_competitions
    from nbdojo.config import nbdojo_home
    from nbdojo.kernel.toolbox import find_toolbox

    mounts = [*find_toolbox().roots, str(workspace)]
    found = [str(data_dir(spec) / "private") for spec in list_competitions() if is_prepared(spec)]
    limit += len(found)
    for folder in (nbdojo_home(), Path.home()):
        try:
            entries = sorted(os.listdir(folder))
        except OSError:
            continue
        for entry in entries:
            path = str(folder / entry)
            if any(m == path or m.startswith(path + "/") or path.startswith(m + "/") for m in mounts):
                continue
            found.append(path)
            if len(found) >= limit:
                return found
    return found
