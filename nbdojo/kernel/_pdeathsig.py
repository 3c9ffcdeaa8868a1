"""Kernels must not outlive the host process that started them, even when nobody cleans up.

Linux's PR_SET_PDEATHSIG sends the kernel SIGKILL when its parent dies. The "parent" is the
*thread* that forked it, so kernels are forked from one long-lived launcher thread: a kernel
started from a short-lived worker thread (a pool, a runner) must not die with that worker.
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
_launcher: tuple[int, concurrent.futures.ThreadPoolExecutor] | None = None


def _die_with_parent(parent_pid: int) -> None:
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # type: ignore[union-attr]  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the host died before prctl took effect
        os._exit(1)


def preexec_fn() -> Callable[[], None] | None:
    """A Popen preexec_fn arming PDEATHSIG for this process, or None where Linux's prctl is missing."""
    return functools.partial(_die_with_parent, os.getpid()) if _libc is not None else None


def on_launcher_thread(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call `fn` (anything that forks a kernel) on the long-lived launcher thread and return its result."""
    global _launcher
    if _launcher is None or _launcher[0] != os.getpid():  # none yet, or this is a forked child
        _launcher = (os.getpid(), concurrent.futures.ThreadPoolExecutor(1, "nbdojo-kernel-launcher"))
    return _launcher[1].submit(fn, *args, **kwargs).result()
