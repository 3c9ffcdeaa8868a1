"""`nbdojo mcp`: nbdojo's actions as the tools of an MCP server, for agents outside any trainer.

Built on the official MCP Python SDK (`pip install 'nbdojo[mcp]'`). Each client session owns one
sandboxed episode, a `DojoEnv` writing its notebook under `out_dir` as `nbdojo run` does (so
`nbdojo watch` shows it live): `start_episode` opens it, `execute_code`, `request_info`, `validate`,
`submit`, `restart_kernel` and `get_history` are its actions, `list_competitions` says what there is.
While a step runs, the call sends MCP progress notifications every few seconds, so a client does
not give up on a long training cell. When the session ends (stdin closes, an HTTP session is
deleted or idles out, the server stops) its episode is closed: notebook finished, kernel shut down.

Everything a client sends is untrusted: arguments reach the env as an action dict, and the env
answers a bad one with an observation; paths go through the grader's one reader.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations (Context, CallToolResult,
# imported when the server is built) from the live functions.
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbdojo.actions import ACTION_HELP, DEFAULT_SUBMISSION, TOPICS
from nbdojo.env import DojoEnv
from nbdojo.errors import NbdojoError, ResetNeeded
from nbdojo.limits import Limits
from nbdojo.grading.rewards import DEFAULT_MODE

log = logging.getLogger(__name__)

TOOLS = ("start_episode", "request_info", "execute_code", "validate", "submit", "restart_kernel", "get_history",
         "list_competitions")
#: Keys of the env's `info` that a tool result carries as structured content (outputs stay in the text).
INFO_KEYS = ("status", "step", "action", "budget", "duration_s", "public_score", "final")
#: How long closing an episode waits for a step in flight, after interrupting its kernel.
CLOSE_GRACE_S = 3.0
#: Images a cell displayed (PNG, JPEG) go back to the client as image content too: at most this many, this large.
MAX_IMAGES, MAX_IMAGE_CHARS = 4, 2_000_000
#: The largest seed a client may ask for (numpy's seeds are 32-bit; the seed also names the run's folder).
MAX_SEED = 2**32 - 1


@dataclass(frozen=True)
class ServerConfig:
    """What every episode of the server gets: where notebooks go, the budget, the kernel's confinement."""

    out_dir: Path = Path("runs")
    limits: Limits = field(default_factory=Limits)
    sandbox: bool = True
    gpus: tuple[int, ...] | None = None
    kernel_env: str | None = None
    model: str | None = None  # the model driving the client, if the user says (recorded in the notebook)
    reward: str = DEFAULT_MODE  # the env's reward mode (nbdojo.grading.rewards): what each step's reward is
    progress_every_s: float = 5.0
    max_episodes: int = 4  # episodes open at once (each a kernel): a client opening sessions in a loop is refused
    allow_interrupt: bool = False  # people watching (nbdojo watch) may interrupt an episode's running cell
    env_options: dict[str, Any] = field(default_factory=dict)  # more DojoEnv keywords (e.g. a reward mode)


class EpisodeSlot:
    """One client session's episode. Steps run in worker threads, one at a time (`_stepping`)."""

    def __init__(self, config: ServerConfig, seats: threading.Semaphore | None = None):
        self.config = config
        self.env: DojoEnv | None = None
        self._seats = seats or threading.Semaphore(config.max_episodes)  # the server's open episodes
        self._seated = False  # this slot holds a seat (from start to close)
        self.last_used = time.monotonic()
        self._stepping = threading.Lock()
        self._closed = False

    @property
    def busy(self) -> bool:
        return self._stepping.locked()

    def start(self, competition: str, seed: int | None) -> tuple[str, dict[str, Any]]:
        if seed is not None and not 0 <= seed <= MAX_SEED:
            raise ValueError(f"seed must be between 0 and {MAX_SEED}, not {seed}.")
        with self._stepping:
            self._check_open()
            if self.env is not None:
                self.env.close()  # the previous episode's notebook ends as closed before a submission
                self.env = None
            elif not self._seated:
                if not self._seats.acquire(blocking=False):
                    raise NbdojoError(f"The server already runs its {self.config.max_episodes} episodes "
                                      "(--max-episodes); start one when another session ends or idles out.")
                self._seated = True
            c = self.config
            env = None
            try:
                env = DojoEnv(competition, out_dir=c.out_dir, limits=c.limits, agent="mcp", model=c.model,
                              sandbox=c.sandbox, gpus=None if c.gpus is None else list(c.gpus),
                              kernel_env=c.kernel_env, reward=c.reward,
                              **{"allow_interrupt": c.allow_interrupt, **c.env_options})
                obs, info = env.reset(seed=seed)
                self._check_open()  # the client left while the kernel started: close what it will never use
            except BaseException:
                try:
                    if env is not None:
                        env.close()
                finally:
                    self._unseat()
                raise
            self.env = env
            self.last_used = time.monotonic()
            return obs, info

    def step(self, action: dict[str, Any]) -> tuple[str, float, bool, bool, dict[str, Any]]:
        with self._stepping:
            self._check_open()
            if self.env is None:
                raise NbdojoError("No episode is running: call start_episode(competition) first "
                                  "(list_competitions names them).")
            try:
                return self.env.step(action)
            finally:
                self.last_used = time.monotonic()

    def close(self) -> None:
        """Finish the notebook and shut the kernel down; a step in flight is interrupted first."""
        self._closed = True  # a start or step still running sees it when it returns
        held = self._stepping.acquire(blocking=False)
        if not held:
            env = self.env
            if env is not None and env.kernel is not None:
                try:
                    env.kernel.session.interrupt()
                except Exception:  # noqa: BLE001 - a dead kernel needs no interrupt
                    log.debug("interrupting the kernel failed", exc_info=True)
            held = self._stepping.acquire(timeout=CLOSE_GRACE_S)
            if not held:
                log.warning("closing an episode whose step did not stop within %.0fs", CLOSE_GRACE_S)
        try:
            if self.env is not None:
                self.env.close()
        finally:
            self._unseat()
            if held:
                self._stepping.release()

    def _unseat(self) -> None:
        if self._seated:
            self._seated = False
            self._seats.release()

    def _check_open(self) -> None:
        if self._closed:
            raise NbdojoError("This session has ended; connect again to start another episode.")


class Sessions:
    """The episodes of a server, one per client session (keyed by the transport's session id)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self._slots: dict[str, EpisodeSlot] = {}
        self._lock = threading.Lock()
        self._seats = threading.Semaphore(config.max_episodes)

    def slot(self, key: str) -> EpisodeSlot:
        with self._lock:
            slot = self._slots.get(key)
            if slot is None:
                slot = self._slots[key] = EpisodeSlot(self.config, self._seats)
            return slot

    def end(self, key: str) -> None:
        with self._lock:
            slot = self._slots.pop(key, None)
        if slot is not None:
            slot.close()

    def end_idle(self, idle_s: float) -> None:
        now = time.monotonic()
        with self._lock:
            keys = [k for k, s in self._slots.items() if not s.busy and now - s.last_used > idle_s]
        for key in keys:
            log.info("closing the episode of idle session %s", key)
            self.end(key)

    def end_all(self) -> None:
        with self._lock:
            keys = list(self._slots)
        for key in keys:
            try:
                self.end(key)
            except Exception:  # noqa: BLE001 - one broken episode must not keep the others open
                log.exception("closing session %s failed", key)


#: Protocol versions with sessions (an initialize handshake; the SDK's own list when it has one): only there
#: has the SDK checked a request's Mcp-Session-Id against the sessions it issued. Later versions are
#: sessionless and the SDK ignores the header.
SESSION_PROTOCOLS = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25")


def session_key(headers: Any) -> str:
    """The MCP session id of an HTTP request (each session its own episode); stdio has one client: "stdio".
    Requests without a session (the sessionless 2026 HTTP protocol) share one episode per server: a
    sessionless request's Mcp-Session-Id is the client's word, never checked, so it never names a session
    (else any client could drive, or end, another session's episode by sending its id)."""
    if headers is None:
        return "stdio"
    try:
        from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS as with_sessions  # the SDK's own list
    except ImportError:
        with_sessions = SESSION_PROTOCOLS
    version = headers.get("mcp-protocol-version")
    if version is not None and version not in with_sessions:
        return "shared"
    return str(headers.get("mcp-session-id") or "shared")


def _finite(value: Any) -> Any:
    """JSON-safe structured content: non-finite floats become null, other odd values their text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value if value is None or isinstance(value, (str, int, bool)) else str(value)


def _images(info: dict[str, Any]) -> list[tuple[str, str]]:
    """(MIME type, base64 data) of the images a cell displayed, as many and as large as the caps allow."""
    found = []
    for output in info.get("outputs") or []:
        data = output.get("data") if isinstance(output, dict) else None
        for mime in ("image/png", "image/jpeg"):
            b64 = data.get(mime) if isinstance(data, dict) else None
            if isinstance(b64, str) and len(b64) <= MAX_IMAGE_CHARS and len(found) < MAX_IMAGES:
                found.append((mime, b64.replace("\n", "")))
    return found


def build_server(config: ServerConfig) -> tuple[Any, Sessions]:
    """The MCP server (an SDK `MCPServer`) and its sessions; run it with `serve_stdio` or `serve_http`."""
    from nbdojo.integrations import require

    require("mcp", "mcp", feature="nbdojo mcp")
    import anyio
    from mcp.server.mcpserver import Context, MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp.types import CallToolResult, ImageContent, TextContent

    sessions = Sessions(config)
    server = MCPServer("nbdojo", instructions=(
        "Solve a Kaggle-style ML competition in a persistent, sandboxed Jupyter kernel. Call list_competitions, "
        "then start_episode(competition); read the task with request_info, run Python with execute_code (state "
        "persists; DATA_DIR, WORKSPACE and SUBMISSION_PATH are defined), write SUBMISSION_PATH, check it with "
        "validate (public score), and end with submit (graded on private answers)."))

    async def run(ctx: Context, label: str, work: Callable[[], Any]) -> Any:
        """`work` in a worker thread; a progress notification every few seconds until it is done."""
        started = time.monotonic()
        async with anyio.create_task_group() as tasks:
            async def beat() -> None:
                while True:
                    await anyio.sleep(config.progress_every_s)
                    elapsed = time.monotonic() - started
                    try:
                        await ctx.report_progress(elapsed, None, f"{label}: running for {elapsed:.0f}s")
                    except Exception:  # noqa: BLE001 - a client that cannot hear progress still gets the result
                        log.debug("progress notification failed", exc_info=True)

            tasks.start_soon(beat)
            try:
                return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
            except ResetNeeded:
                problem = "The episode has ended (submitted or out of budget); start_episode starts another."
            except (NbdojoError, ValueError) as exc:  # no episode, an unknown competition, a bad seed: one line
                problem = str(exc)
            finally:
                tasks.cancel_scope.cancel()
        raise ToolError(problem)  # outside the task group, so the client reads the message, not a group's

    def result(obs: str, info: dict[str, Any], reward: float = 0.0, terminated: bool = False,
               truncated: bool = False) -> CallToolResult:
        data = {k: info[k] for k in INFO_KEYS if k in info}
        data.update(reward=reward, terminated=terminated, truncated=truncated)
        if info.get("error"):
            data["error"] = {k: info["error"].get(k) for k in ("ename", "evalue")}
        images = [ImageContent(type="image", data=b64, mime_type=mime) for mime, b64 in _images(info)]
        return CallToolResult(content=[TextContent(type="text", text=obs), *images], structured_content=_finite(data))

    async def act(ctx: Context, action: dict[str, Any]) -> CallToolResult:
        slot = sessions.slot(session_key(ctx.headers))
        obs, reward, terminated, truncated, info = await run(ctx, action["action"], lambda: slot.step(action))
        return result(obs, info, reward, terminated, truncated)

    @server.tool(description="Start an episode of a competition (closing this session's previous one): a fresh "
                             "sandboxed kernel and notebook. `seed` (0 or more) makes it reproducible. Returns "
                             "the competition's briefing.")
    async def start_episode(competition: str, ctx: Context, seed: int | None = None) -> CallToolResult:
        slot = sessions.slot(session_key(ctx.headers))
        obs, info = await run(ctx, "start_episode", lambda: slot.start(competition, seed))
        out = result(obs, info)
        out.structured_content.update(notebook=str(slot.env.notebook_path), competition=slot.env.competition.id)
        return out

    @server.tool(description=f"Ask about the competition; topic is one of {', '.join(TOPICS)}. Costs no kernel time.")
    async def request_info(ctx: Context, topic: str = "all") -> CallToolResult:
        return await act(ctx, {"action": "request_info", "topic": topic})

    @server.tool(description=ACTION_HELP["execute_code"] + ". Long cells send progress notifications.")
    async def execute_code(code: str, ctx: Context) -> CallToolResult:
        return await act(ctx, {"action": "execute_code", "code": code})

    @server.tool(description=ACTION_HELP["validate"] + ".")
    async def validate(ctx: Context, path: str = DEFAULT_SUBMISSION) -> CallToolResult:
        return await act(ctx, {"action": "validate", "path": path})

    @server.tool(description=ACTION_HELP["submit"] + "; the notebook ends with its scorer cell.")
    async def submit(ctx: Context, path: str = DEFAULT_SUBMISSION) -> CallToolResult:
        return await act(ctx, {"action": "submit", "path": path})

    @server.tool(description=ACTION_HELP["restart_kernel"] + ".")
    async def restart_kernel(ctx: Context) -> CallToolResult:
        return await act(ctx, {"action": "restart_kernel"})

    @server.tool(description=ACTION_HELP["get_history"] + ".")
    async def get_history(ctx: Context) -> CallToolResult:
        return await act(ctx, {"action": "get_history"})

    @server.tool(description="The competitions an episode can be started on: id, title, category, task, metric.")
    async def list_competitions() -> CallToolResult:
        from nbdojo.competitions import list_competitions as specs

        rows = [{"id": s.id, "title": s.title, "category": s.category, "task": s.task, "metric": s.metric}
                for s in await anyio.to_thread.run_sync(specs)]
        text = "\n".join(f"{r['id']}: {r['title']} ({r['category']}, {r['task']}, {r['metric']})" for r in rows)
        return CallToolResult(content=[TextContent(type="text", text=text)], structured_content={"competitions": rows})

    return server, sessions
