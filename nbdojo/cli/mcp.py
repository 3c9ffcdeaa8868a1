"""The `mcp` command: nbdojo as an MCP server (see `nbdojo.integrations.mcp_server`)."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

err_console = Console(stderr=True)  # over stdio, stdout is the protocol's: nothing else may go there


def mcp(
    transport: str = typer.Option("stdio", help="stdio (the client starts nbdojo) or http (streamable HTTP)."),
    host: str = typer.Option("127.0.0.1", help="http: the address to listen on."),
    port: int = typer.Option(8765, min=1, max=65535, help="http: the port."),
    token: Optional[str] = typer.Option(None, envvar="NBDOJO_MCP_TOKEN", show_envvar=True,
                                        help="http: the bearer token clients must send (default: a random one, "
                                             "printed at start)."),
    out: Path = typer.Option(Path("runs"), help="Folder for the episodes' notebooks and workspaces (as nbdojo run)."),
    model: Optional[str] = typer.Option(None, help="The model driving the client, recorded in each notebook."),
    max_steps: int = typer.Option(50, min=1, help="Step budget of each episode."),
    cell_timeout: float = typer.Option(600.0, min=1, help="Seconds per cell before it is interrupted."),
    wall_clock: float = typer.Option(4 * 3600.0, min=1, help="Seconds for a whole episode."),
    memory_gb: float = typer.Option(8.0, min=0.1, help="Memory cap of each kernel's process tree (GiB)."),
    gpus: Optional[str] = typer.Option(None, help="GPU indices for the kernels, e.g. '0,1' ('' for none; default all)."),
    kernel_env: Optional[Path] = typer.Option(None, "--kernel-env", help="The kernels' Python environment "
                                              "(default: the agent's toolbox)."),
    reward: str = typer.Option("final", help="Reward mode of each episode: final (HumanRank at the end), "
                               "public_delta or shaped; see nbdojo.grading.rewards."),
    progress_every: float = typer.Option(5.0, min=0.1, help="Seconds between progress notifications of a running step."),
    max_episodes: int = typer.Option(4, min=1, help="Episodes open at once (each a kernel); more are refused."),
    allow_interrupt: bool = typer.Option(False, "--allow-interrupt", help="People watching an episode (nbdojo watch) "
                                         "may interrupt its running cell from the lab."),
) -> None:
    """Serve nbdojo to MCP clients (coding assistants, agent frameworks): each session plays one sandboxed episode."""
    from nbdojo.cli.app import _parse_gpus
    from nbdojo.errors import ConfigError
    from nbdojo.integrations.mcp_server import ServerConfig
    from nbdojo.limits import Limits
    from nbdojo.grading.rewards import check_mode

    if transport not in ("stdio", "http"):
        raise ConfigError(f"--transport must be stdio or http, not {transport!r}.")
    parsed = _parse_gpus(gpus)
    config = ServerConfig(
        out_dir=out.resolve(), model=model, reward=check_mode(reward), gpus=None if parsed is None else tuple(parsed),
        kernel_env=str(kernel_env) if kernel_env else None, progress_every_s=progress_every,
        max_episodes=max_episodes, allow_interrupt=allow_interrupt,
        limits=Limits(max_steps=max_steps, cell_timeout_s=cell_timeout, wall_clock_s=wall_clock,
                      memory_bytes=int(memory_gb * 1024**3)),
    )
    if transport == "stdio":
        from nbdojo.integrations.mcp_transport import serve_stdio

        serve_stdio(config)
        return
    from nbdojo.integrations.mcp_transport import PATH, serve_http

    if not _is_loopback(host):
        err_console.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it and holds the token "
                          "runs code in a sandboxed kernel here.", soft_wrap=True, highlight=False)
    shown = token is None
    token = token or secrets.token_urlsafe(32)
    err_console.print(f"nbdojo MCP server at http://{host}:{port}{PATH} · notebooks in {config.out_dir}",
                      soft_wrap=True, highlight=False)
    err_console.print(f"token: {token}" if shown else "token: the one given (--token or NBDOJO_MCP_TOKEN)",
                      soft_wrap=True, highlight=False)
    err_console.print("Clients send it as 'Authorization: Bearer TOKEN'. Ctrl-C stops.", highlight=False)
    serve_http(config, token=token, host=host, port=port)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
