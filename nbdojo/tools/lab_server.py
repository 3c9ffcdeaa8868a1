"""nbdojo's JupyterLab servers: which kernels they may start (none in watch, only the play's sandboxed one in
play) and their command line (no terminals, a read-only extension manager, the link-refusing contents manager).
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web
from traitlets import List, Unicode

__all__ = ["AGENT_KERNEL", "NO_INTERRUPT", "AttachOnlyKernelManager", "NoKernelSpecs", "SandboxOnlyKernelManager",
           "run_allows_interrupt", "server_args"]


# ----- kernels ----------------------------------------------------------------------------------

#: Why nbdojo's watch refuses to stop or interrupt a kernel (the labextension shows the same reason).
AGENT_KERNEL = ("This kernel belongs to a running agent episode: nbdojo watch cannot {action} it. The episode "
                "owns its kernel (it interrupts a runaway cell and closes the kernel when it ends); you may "
                "inspect its variables here.")

#: Why an agent's kernel cannot be interrupted here: its run did not allow it (the default).
NO_INTERRUPT = ("This kernel belongs to a running agent episode: nbdojo watch cannot interrupt it, as its run does "
                "not allow it (the default). A run started with `nbdojo run --allow-interrupt` "
                "(DojoEnv(allow_interrupt=True)) can be interrupted from here; the episode interrupts a runaway "
                "cell itself at its cell timeout.")
TRAJECTORY = "trajectory.ipynb"
#: How long an interrupt request waits for the kernel's reply on its control channel.
INTERRUPT_REPLY_S = 10.0


def _read_no_link(path: Path) -> bytes:
    """A regular file's bytes, never through a symbolic link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read()
    finally:
        os.close(fd)


def run_allows_interrupt(published: str | Path) -> bool:
    """Whether the run of a kernel published by `nbdojo watch` (its file in `<root>/.kernels/`, which names the
    run in `nbdojo_run`) lets people interrupt it: `allow_interrupt` in its trajectory's notebook metadata, which
    the env writes on the host. Nothing is read from the workspace, the agent's folder; anything unreadable is no."""
    try:
        info = json.loads(_read_no_link(Path(published)))
        run = info.get("nbdojo_run") if isinstance(info, dict) else None
        if not isinstance(run, str) or not os.path.isabs(run):
            return False
        notebook = json.loads(_read_no_link(Path(run) / TRAJECTORY))  # written atomically: never half a file
        meta = notebook.get("metadata", {}).get("nbdojo", {}) if isinstance(notebook, dict) else {}
        return isinstance(meta, dict) and meta.get("allow_interrupt") is True
    except (OSError, ValueError, AttributeError):
        return False


async def send_interrupt_request(km: Any) -> None:
    """An `interrupt_request` on the kernel's control channel (the kernel interrupts itself, inside its sandbox:
    the host signals no process), waiting for its reply; a 504 if none comes."""
    import zmq
    import zmq.asyncio

    context = zmq.asyncio.Context()
    socket = context.socket(zmq.DEALER)
    socket.linger = 0
    try:
        socket.connect(km._make_url("control"))
        msg = km.session.msg("interrupt_request", content={})
        km.session.send(socket, msg)
        deadline = asyncio.get_running_loop().time() + INTERRUPT_REPLY_S
        while (left := deadline - asyncio.get_running_loop().time()) > 0:
            if not await socket.poll(timeout=int(left * 1000)):
                break
            _, reply = km.session.feed_identities(await socket.recv_multipart())
            reply = km.session.deserialize(reply)
            if reply.get("parent_header", {}).get("msg_id") == msg["header"]["msg_id"]:
                return
        raise web.HTTPError(504, "The agent's kernel did not answer the interrupt request.")
    finally:
        socket.close(linger=0)
        context.term()


class NoKernelSpecs(KernelSpecManager):  # type: ignore[misc]
    """No kernel spec is listed or found: JupyterLab offers no kernel to start (watch)."""

    def find_kernel_specs(self) -> dict[str, str]:
        return {}

    def get_kernel_spec(self, kernel_name: str) -> Any:
        raise NoSuchKernel(kernel_name)

    def get_all_specs(self) -> dict[str, Any]:
        return {}


class AttachOnlyKernelManager(AsyncMappingKernelManager):  # type: ignore[misc]
    """Starts no kernel: sessions and consoles may only use kernels already running (watch's published, still
    sandboxed episode kernels). So no notebook, not even an agent's trajectory, runs on an unconfined host kernel."""

    async def _async_start_kernel(self, *, kernel_id: str | None = None, path: str | None = None,
                                  **kwargs: Any) -> str:
        if kernel_id is not None and kernel_id in self:
            started: str = await super()._async_start_kernel(kernel_id=kernel_id, path=path, **kwargs)
            return started
        raise web.HTTPError(403, "This JupyterLab starts no kernel: it shows the runs read-only. Connect a notebook "
                                 "or console to a live episode's kernel (Running Kernels), or use `nbdojo attach`.")

    start_kernel = _async_start_kernel  # type: ignore[assignment]

    # An attached kernel is an agent's: its episode owns it. jupyter_client would answer a restart or an
    # interrupt with a 500 (no process here to signal) and take a shut-down kernel off the list without
    # stopping it, so the UI hangs at "Restarting" or loses the kernel; a 403 that says why is the honest
    # answer. The server's own exit goes through `_async_shutdown_kernel`, which leaves such kernels alone.
    # Interrupt is the exception a run may grant (`nbdojo run --allow-interrupt`): then it is a message on the
    # kernel's control channel, which the kernel, in its sandbox, turns into a KeyboardInterrupt of its cell.

    async def shutdown_kernel(self, kernel_id: str, now: bool = False, restart: bool = False) -> None:
        raise web.HTTPError(403, AGENT_KERNEL.format(action="shut down"))

    async def restart_kernel(self, kernel_id: str, now: bool = False) -> None:
        raise web.HTTPError(403, AGENT_KERNEL.format(action="restart"))

    async def interrupt_kernel(self, kernel_id: str) -> None:
        """Only a kernel whose run allows it (`run_allows_interrupt`), with a message on its control channel."""
        published = getattr(self, "kernel_id_to_connection_file", {}).get(kernel_id)
        if published is None:
            raise web.HTTPError(403, AGENT_KERNEL.format(action="interrupt"))
        if not await asyncio.to_thread(run_allows_interrupt, published):
            raise web.HTTPError(403, NO_INTERRUPT)
        self.log.info("Interrupting the agent kernel %s (its run allows it)", kernel_id)
        await send_interrupt_request(self.get_kernel(kernel_id))


class SandboxOnlyKernelManager(AsyncMappingKernelManager):  # type: ignore[misc]
    """Starts only the kernel specs in `allowed_kernels`, and only if they run nbdojo's sandbox launcher (play):
    any other name, `python3` included, is refused instead of starting a kernel on the host."""

    allowed_kernels = List(Unicode(), config=True, help="The kernel spec names this server may start.")

    async def _async_start_kernel(self, *, kernel_id: str | None = None, path: str | None = None,
                                  **kwargs: Any) -> str:
        if kernel_id is None or kernel_id not in self:
            name = kwargs.get("kernel_name") or self.default_kernel_name
            self._check_sandboxed(name)
            kwargs["kernel_name"] = name
        started: str = await super()._async_start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        return started

    start_kernel = _async_start_kernel  # type: ignore[assignment]

    def _check_sandboxed(self, name: str) -> None:
        from nbdojo.tools.play import _policy_index

        refused = web.HTTPError(403, f"The kernel {name!r} is not this play's sandboxed kernel: this JupyterLab "
                                     f"starts only {', '.join(self.allowed_kernels) or 'none'}.")
        if name not in self.allowed_kernels:
            raise refused
        try:
            spec = self.kernel_spec_manager.get_kernel_spec(name)
        except NoSuchKernel:
            raise refused from None
        if _policy_index(list(spec.argv)) is None:
            raise refused

    def cwd_for_path(self, path: str, **kwargs: Any) -> str:
        """The launcher's working folder: the root (the sandbox puts the kernel in its workspace anyway; a
        notebook's folder could be a link the kernel made)."""
        return str(self.root_dir)


# ----- the server's command line ----------------------------------------------------------------

def server_args(*, contents_manager: str | None = None, kernels: list[str] | None = None) -> list[str]:
    """JupyterLab options for nbdojo's servers. `kernels`: the only (sandboxed) kernel specs it may start;
    None: it starts none, and notebooks open without a kernel (external kernels can still be attached)."""
    args = [
        "--ServerApp.terminals_enabled=False",  # a terminal is a shell on the host, as the server's user
        "--LabApp.extension_manager=readonly",  # the PyPI manager pip-installs packages on the host
        f"--ServerApp.contents_manager_class={contents_manager or 'nbdojo.tools.lab.SafeContentsManager'}",
    ]
    if kernels:
        args.append(f"--ServerApp.kernel_manager_class={__name__}.SandboxOnlyKernelManager")
        # one option per name: the server app does not know the class, so a list literal would stay a string
        args += [f"--SandboxOnlyKernelManager.allowed_kernels={name}" for name in kernels]
    else:
        args += [f"--ServerApp.kernel_manager_class={__name__}.AttachOnlyKernelManager",
                 f"--ServerApp.kernel_spec_manager_class={__name__}.NoKernelSpecs",
                 "--LabApp.notebook_starts_kernel=False"]
    return args
