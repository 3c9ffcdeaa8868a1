"""nbdojo's command line: a thin typer app over the public functions.

`app` holds the episode commands (competitions, run, kernel), `tools` the ones for people
(watch, attach, replay, play, score, compare, export, doctor), `batch` the display of batches,
`toolbox` the agent's own Python environment, `mcp` the MCP server.
"""

from __future__ import annotations

from nbdojo.cli.app import app, main
from nbdojo.cli.mcp import mcp
from nbdojo.cli.toolbox import toolbox_app
from nbdojo.cli.tools import register

register(app)
app.add_typer(toolbox_app, name="toolbox")
app.command("mcp")(mcp)

__all__ = ["app", "main"]
