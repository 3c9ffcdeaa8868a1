"""This machine's NVIDIA GPUs, and how one kernel is given some of them.

GPUs are named by nvidia-smi's index (what `--gpus 0,1` takes). A sandboxed kernel gets
the device node of each (`/dev/nvidia<minor>`; the minor number need not equal the index)
plus the shared control nodes, and CUDA inside sees only those: it numbers them from 0,
so the kernel's `CUDA_VISIBLE_DEVICES` names them by UUID (by position where no UUID is
known), never by the host's indices. An unsandboxed kernel sees every node and gets the
host's indices in PCI order, as nvidia-smi counts them.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from nbdojo.errors import ConfigError

#: Device nodes every CUDA process needs besides its GPUs' own (those that exist are bound).
SHARED_NODES = ("/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset",
                "/dev/nvidia-caps")


@dataclass(frozen=True)
class Gpu:
    index: int  # nvidia-smi's index
    minor: int  # the N of /dev/nvidiaN
    uuid: str = ""
    name: str = ""
    memory: str = ""

    @property
    def label(self) -> str:
        return ", ".join(part for part in (self.name, self.memory) if part) or f"/dev/nvidia{self.minor}"


def _from_nvidia_smi() -> tuple[Gpu, ...]:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ()
    try:
        out = subprocess.run([smi, "--query-gpu=index,minor_number,uuid,name,memory.total",
                              "--format=csv,noheader"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return ()
    found = []
    for line in out.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) < 5 or not fields[0].isdigit():
            continue
        index = int(fields[0])
        minor = int(fields[1]) if fields[1].isdigit() else index
        found.append(Gpu(index, minor, fields[2] if fields[2].startswith(("GPU-", "MIG-")) else "",
                         ", ".join(fields[3:-1]), fields[-1]))
    return tuple(sorted(found, key=lambda g: g.index))


@lru_cache(maxsize=1)
def machine_gpus() -> tuple[Gpu, ...]:
    """The GPUs here: from nvidia-smi when it runs, else one per /dev/nvidia<N> node (no names)."""
    found = _from_nvidia_smi()
    if found:
        return found
    minors = sorted(int(p.removeprefix("/dev/nvidia")) for p in glob.glob("/dev/nvidia[0-9]*")
                    if p.removeprefix("/dev/nvidia").isdigit())
    return tuple(Gpu(i, i) for i in minors)


def gpu_indices() -> list[int]:
    """nvidia-smi indices of this machine's GPUs (empty without one)."""
    return [g.index for g in machine_gpus()]


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


def chosen(indices: list[int] | tuple[int, ...]) -> list[Gpu]:
    by_index = {g.index: g for g in machine_gpus()}
    return [by_index[i] if i in by_index else Gpu(i, i) for i in indices]


def device_nodes(indices: list[int] | tuple[int, ...]) -> list[str]:
    """The device nodes a sandboxed kernel needs for these GPUs (only those that exist)."""
    if not indices:
        return []
    nodes = [f"/dev/nvidia{g.minor}" for g in chosen(indices)] + list(SHARED_NODES)
    return [n for n in nodes if os.path.exists(n)]


def cuda_env(indices: list[int] | tuple[int, ...], *, sandboxed: bool) -> dict[str, str]:
    """CUDA_VISIBLE_DEVICES (and the device order) for a kernel given these GPUs."""
    if not indices:
        return {"CUDA_VISIBLE_DEVICES": ""}
    gpus = chosen(indices)
    if all(g.uuid for g in gpus):
        visible = [g.uuid for g in gpus]
    elif sandboxed:
        visible = [str(i) for i in range(len(gpus))]  # only these nodes exist inside: CUDA counts them from 0
    else:
        visible = [str(g.index) for g in gpus]
    return {"CUDA_VISIBLE_DEVICES": ",".join(visible), "CUDA_DEVICE_ORDER": "PCI_BUS_ID"}


def sandbox_grant(indices: list[int] | tuple[int, ...]) -> dict[str, Any]:
    """A sandbox policy's GPU fields for these GPUs: indices, device nodes and the kernel's CUDA variables."""
    return {"gpus": tuple(indices), "gpu_devices": tuple(device_nodes(indices)),
            "env": cuda_env(indices, sandboxed=True)}


def driver_library_dirs() -> list[str]:
    """Folders on the host's LD_LIBRARY_PATH that hold the driver's libcuda (bound in for a GPU kernel)."""
    found = []
    for folder in os.environ.get("LD_LIBRARY_PATH", "").split(":"):
        if folder and os.path.isdir(folder) and glob.glob(os.path.join(folder, "libcuda.so*")):
            real = os.path.realpath(folder)
            if real not in found:
                found.append(real)
    return found
