"""Starts one sandboxed kernel: `python -m nbdojo.kernel.launcher --policy JSON -- KERNEL ARGV...`.

Runs on the host, just before the kernel: joins the episode's cgroup, sets rlimits,
hands the workspace to the sandbox uid, then execs bubblewrap (and, as root, setpriv to
drop to an unprivileged uid). Kept tiny: it runs at every kernel start and restart.
"""

from __future__ import annotations

import os
import shutil
import sys

from nbdojo.kernel.caps import Cgroup, set_rlimits
from nbdojo.kernel.sandbox import SANDBOX_UID, SandboxPolicy, bwrap_args


def _chown_tree(path: str, uid: int) -> None:
    """Hand a small folder (the connection dir: a JSON file and sockets) to the sandbox uid."""
    os.chown(path, uid, uid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            try:
                os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)
            except OSError:
                pass


def _setpriv() -> str | None:
    """setpriv drops root to the sandbox uid; None when the host is not root or lacks it."""
    return shutil.which("setpriv") if os.geteuid() == 0 else None


def command(policy: SandboxPolicy, kernel_argv: list[str]) -> list[str]:
    """The full command line that the launcher execs."""
    setpriv = _setpriv()
    args = bwrap_args(policy, drop_to_uid=setpriv is not None)
    if os.geteuid() == 0 and setpriv is None:
        args += ["--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID)]  # user-namespace fallback
    args.append("--")
    if setpriv:
        args += [setpriv, f"--reuid={SANDBOX_UID}", f"--regid={SANDBOX_UID}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    return args + kernel_argv


def main(argv: list[str]) -> None:
    if len(argv) < 4 or argv[0] != "--policy" or argv[2] != "--":
        sys.exit("usage: python -m nbdojo.kernel.launcher --policy JSON -- KERNEL ARGV...")
    policy = SandboxPolicy.from_json(argv[1])
    kernel_argv = argv[3:]
    capped: set[str] = set()
    if policy.cgroup_name:
        group = Cgroup(policy.cgroup_name)
        if group.create(memory_bytes=policy.memory_bytes, max_processes=policy.max_processes):
            group.join(os.getpid())
            capped = group.capped()
    kernel_uid = SANDBOX_UID if _setpriv() else os.getuid()
    nproc = (kernel_uid, policy.max_processes) if policy.max_processes and "pids" not in capped else None
    set_rlimits(max_file_bytes=policy.max_file_bytes, nproc=nproc)
    if os.geteuid() == 0:
        os.chown(policy.workspace, SANDBOX_UID, SANDBOX_UID)  # the env makes it empty; the kernel fills it
        if policy.connection_dir:
            _chown_tree(policy.connection_dir, SANDBOX_UID)
    cmd = command(policy, kernel_argv)
    os.execv(cmd[0], cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
