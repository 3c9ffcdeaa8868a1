"""How `nbdojo mcp` is reached: stdio (one client, the process that started it), or streamable HTTP behind a token.

Over HTTP every request must carry `Authorization: Bearer TOKEN` (else 401, nothing served); the
server binds 127.0.0.1 unless told otherwise. A session's episode is closed when the client
deletes the session, when it has been idle for `idle_s`, or when the server stops.
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
from typing import Any

from nbdojo.integrations.mcp_server import ServerConfig, Sessions, build_server, session_key
from nbdojo.runner import stop_signals_interrupt

log = logging.getLogger(__name__)

#: An HTTP session's episode is closed after this long without a call.
IDLE_S = 30 * 60.0
PATH = "/mcp"


def serve_stdio(config: ServerConfig) -> None:
    """Serve one client over stdin/stdout until stdin closes or a stop signal comes; then close its episode."""
    import anyio

    server, sessions = build_server(config)
    try:
        with stop_signals_interrupt():  # SIGTERM (a client's stop) ends the loop as Ctrl-C does
            anyio.run(server.run_stdio_async)
    except KeyboardInterrupt:
        log.info("stopped by a signal")
    finally:
        sessions.end_all()


class TokenGate:
    """ASGI middleware: refuses every HTTP request without the bearer token; a DELETE ends that session's episode
    (before the SDK ends the session, so the client's DELETE returns once the notebook is closed)."""

    def __init__(self, app: Any, token: str, sessions: Sessions):
        self.app, self.sessions = app, sessions
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)  # lifespan: the SDK's session manager starts here
            return
        headers = dict(scope.get("headers") or [])
        if not hmac.compare_digest(headers.get(b"authorization", b""), self._expected):
            body = json.dumps({"error": "missing or wrong token: send Authorization: Bearer TOKEN"}).encode()
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
            await send({"type": "http.response.body", "body": body})
            return
        session = session_key({k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers.items()})
        if scope.get("method") == "DELETE" and session != "shared":  # the client ends its session: its episode first
            import anyio

            await anyio.to_thread.run_sync(self.sessions.end, session)
        await self.app(scope, receive, send)


def serve_http(config: ServerConfig, *, token: str, host: str = "127.0.0.1", port: int = 8765,
               idle_s: float = IDLE_S) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp until stopped (Ctrl-C, SIGTERM); then close every episode."""
    import uvicorn

    if not token:
        from nbdojo.errors import ConfigError

        raise ConfigError("nbdojo mcp over HTTP needs a token.")
    server, sessions = build_server(config)
    app = TokenGate(server.streamable_http_app(streamable_http_path=PATH, host=host),
                    token, sessions)
    stop = threading.Event()

    def reap() -> None:
        while not stop.wait(min(60.0, idle_s / 2)):
            sessions.end_idle(idle_s)

    reaper = threading.Thread(target=reap, name="nbdojo-mcp-reaper", daemon=True)
    reaper.start()
    try:
        # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again under the handler it found:
        # ours, so the signal ends up here as an interrupt instead of killing the process before the cleanup.
        with stop_signals_interrupt():
            uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning")).run()
    except KeyboardInterrupt:
        log.info("stopped by a signal")
    finally:
        stop.set()
        sessions.end_all()
