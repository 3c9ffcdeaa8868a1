"""`nbdojo mcp`, driven by the MCP SDK's own client: over stdio an episode is played to a graded submission,
long cells send progress, and a client that leaves has its episode closed; over HTTP nothing is served
without the token."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import nbformat
import pytest

pytest.importorskip("mcp", reason="the MCP SDK comes with nbdojo's mcp extra (installed by make)")

from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from nbdojo.integrations.mcp_server import TOOLS  # noqa: E402
from nbdojo.tools.watch import live_kernel  # noqa: E402
from nbdojo.trajectory import VERIFIED, verification  # noqa: E402

SUBMISSION = ("import pandas as pd\ntrain = pd.read_csv(f'{DATA_DIR}/train.csv')\n"
              "sample = pd.read_csv(f'{DATA_DIR}/sample_submission.csv')\n"
              "for c in sample.columns[1:]:\n    sample[c] = train[c].mean()  # the class frequencies\n"
              "sample.to_csv(SUBMISSION_PATH, index=False)\nprint('written', len(sample))")

PLOT = "\nimport matplotlib.pyplot as plt\nplt.bar(sample.columns[1:], sample.iloc[0, 1:])\nplt.show()"


def server(out: Path, *extra: str) -> object:
    """`nbdojo mcp` as an MCP client starts it: a subprocess speaking over its stdin and stdout."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "nbdojo.cli", "mcp", "--out", str(out),
                                                                 "--progress-every", "1", *extra],
                                   env={"NBDOJO_HOME": os.environ["NBDOJO_HOME"]})
    return stdio_client(params)


def text(result) -> str:
    return "".join(block.text for block in result.content if block.type == "text")


@pytest.mark.kernel
def test_a_client_plays_an_episode_to_a_graded_submission(prepared_home, tmp_path):
    progress: list[tuple[float, str | None]] = []

    async def heard(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, message))

    async def play() -> dict:
        async with Client(server(tmp_path, "--allow-interrupt")) as client:
            assert {t.name for t in (await client.list_tools()).tools} == set(TOOLS)
            listed = await client.call_tool("list_competitions", {})
            assert "penguins" in {c["id"] for c in listed.structured_content["competitions"]}
            early = await client.call_tool("execute_code", {"code": "print(1)"})
            assert early.is_error and "call start_episode" in text(early)
            wrong = await client.call_tool("start_episode", {"competition": "penguinz"})
            assert wrong.is_error and "Did you mean 'penguins'?" in text(wrong)
            huge = await client.call_tool("start_episode", {"competition": "penguins", "seed": 10**40})
            assert huge.is_error and "seed must be between 0 and" in text(huge)
            started = await client.call_tool("start_episode", {"competition": "penguins", "seed": 0})
            assert not started.is_error and text(started).startswith("# ")
            run_dir = Path(started.structured_content["notebook"]).parent
            assert live_kernel(run_dir).pid  # `nbdojo watch` / `attach` find the episode's kernel
            slow = await client.call_tool("execute_code", {"code": "import time\ntime.sleep(3.5)\nprint('awake')"},
                                          progress_callback=heard)
            assert "awake" in text(slow) and slow.structured_content["status"] == "ok"
            wrote = await client.call_tool("execute_code", {"code": SUBMISSION + PLOT})
            assert "written" in text(wrote)
            assert [(b.type, b.mime_type) for b in wrote.content[1:]] == [("image", "image/png")]  # the plot, seen
            checked = await client.call_tool("validate", {})
            assert checked.structured_content["public_score"] > 0
            escape = await client.call_tool("submit", {"path": "../../../etc/passwd"})
            assert not escape.is_error and escape.structured_content["status"] == "invalid"
            done = await client.call_tool("submit", {"path": "submission.csv"})
            assert done.structured_content["terminated"] and "HumanRank" in text(done)
            return {"notebook": started.structured_content["notebook"], **done.structured_content}

    final = anyio.run(play)
    assert len(progress) >= 2 and [p for p, _ in progress] == sorted(p for p, _ in progress)
    assert all("execute_code: running for" in (m or "") for _, m in progress)
    nb = nbformat.read(final["notebook"], as_version=4)
    nbformat.validate(nb)
    meta = nb.metadata["nbdojo"]
    assert meta["agent"] == "mcp" and meta["competition"] == "penguins" and meta["ended"]
    assert meta["allow_interrupt"] is True  # --allow-interrupt: the watch server lets people interrupt it
    assert "nbdojo-scorer" in nb.cells[-1].metadata.get("tags", [])
    assert meta["final"]["score"] == pytest.approx(final["final"]["score"]) and final["reward"] == meta["final"]["human_rank"]
    assert verification(nb) == VERIFIED  # the grade is signed, as in `nbdojo run`


@pytest.mark.kernel
def test_a_client_that_leaves_mid_cell_has_its_episode_closed(prepared_home, tmp_path):
    async def leave() -> tuple[Path, int]:
        async with Client(server(tmp_path)) as client:
            started = await client.call_tool("start_episode", {"competition": "penguins"})
            notebook = Path(started.structured_content["notebook"])
            pid = live_kernel(notebook.parent).pid
            with anyio.move_on_after(3):  # leave while a long cell runs
                await client.call_tool("execute_code", {"code": "import time\ntime.sleep(120)"})
            return notebook, pid

    t0 = time.monotonic()
    notebook, pid = anyio.run(leave)
    assert time.monotonic() - t0 < 60
    deadline = time.monotonic() + 15
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pid)
    nb = nbformat.read(str(notebook), as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["nbdojo"]["ended"] and nb.metadata["nbdojo"]["final"] is None
    assert "allow_interrupt" not in nb.metadata["nbdojo"]  # by default only the episode interrupts its kernel
    assert any("Episode closed" in c.source for c in nb.cells if c.cell_type == "markdown")


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def http_server(out: Path, token: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """`nbdojo mcp --transport http` on a free port, the token from the environment; stopped with SIGTERM."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "nbdojo.cli", "mcp", "--transport", "http", "--port", str(port),
                             "--out", str(out)], env={**os.environ, "NBDOJO_MCP_TOKEN": token},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.ConnectError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
                time.sleep(0.3)
        yield url, proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def http_client(url: str, token: str, mode: str = "auto") -> Client:
    import httpx2
    from mcp.client.streamable_http import streamable_http_client

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(30, read=300))
    return Client(streamable_http_client(url, http_client=http), mode=mode)


@pytest.mark.slow
def test_http_serves_only_with_the_token(tmp_path):
    import httpx

    token = "t0ken-for-the-test"
    with http_server(tmp_path, token) as (url, proc):
        refused = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=5)
        wrong = httpx.post(url, headers={"Authorization": "Bearer nope"}, json={}, timeout=5)
        assert refused.status_code == wrong.status_code == 401

        async def listed() -> set[str]:
            async with http_client(url, token) as client:
                return {t.name for t in (await client.list_tools()).tools}

        assert anyio.run(listed) == set(TOOLS)
    err = proc.stderr.read()
    assert token not in err and url in err  # a token the user gave is never echoed


@pytest.mark.kernel
def test_http_episodes_end_with_their_session_or_the_server(prepared_home, tmp_path):
    token = "another-t0ken"

    async def open_episode(url: str, mode: str) -> Path:
        async with http_client(url, token, mode) as client:
            started = await client.call_tool("start_episode", {"competition": "penguins"})
            assert "4" in text(await client.call_tool("execute_code", {"code": "print(2 + 2)"}))
            return Path(started.structured_content["notebook"])

    def ended(notebook: Path) -> bool:
        return bool(nbformat.read(str(notebook), as_version=4).metadata["nbdojo"]["ended"])

    with http_server(tmp_path, token) as (url, _):
        with_session = anyio.run(open_episode, url, "legacy")  # Mcp-Session-Id: leaving deletes the session
        assert ended(with_session)
        sessionless = anyio.run(open_episode, url, "auto")  # the 2026 protocol: no session to delete
        assert not ended(sessionless)
    assert ended(sessionless)  # SIGTERM: the server closes every episode before it exits


def test_without_the_extra_one_line_names_it():
    code = ("import sys; sys.modules['mcp'] = None\nfrom nbdojo.cli import main\n"
            "sys.exit(main(['mcp']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["error: nbdojo mcp needs the 'mcp' package: pip install 'nbdojo[mcp]'"]


def test_bad_options_are_one_line_before_anything_starts(capsys):
    from nbdojo.cli import main

    assert main(["mcp", "--reward", "dense"]) == 1
    assert main(["mcp", "--transport", "sse"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: Unknown reward mode 'dense'; use one of: final, public_delta, shaped.",
        "error: --transport must be stdio or http, not 'sse'."]


def test_episodes_past_max_episodes_are_refused_in_one_line(monkeypatch, tmp_path):
    """Each session's episode is a kernel: past --max-episodes open at once, start_episode is refused; a session
    that ends (or a failed start) gives its seat back, and a session's second episode replaces its first."""
    from nbdojo.errors import NbdojoError
    from nbdojo.integrations import mcp_server

    class FakeEnv:
        def __init__(self, competition, **kwargs):
            self.competition, self.closed = competition, False

        def reset(self, seed=None):
            if self.competition == "broken":
                raise ValueError("no such competition")
            return "obs", {}

        def close(self):
            self.closed = True

    monkeypatch.setattr(mcp_server, "DojoEnv", FakeEnv)
    sessions = mcp_server.Sessions(mcp_server.ServerConfig(out_dir=tmp_path, max_episodes=2))
    sessions.slot("a").start("c", None)
    sessions.slot("a").start("c", None)  # replaces a's episode: still one seat
    with pytest.raises(ValueError):
        sessions.slot("b").start("broken", None)
    sessions.slot("b").start("c", None)
    with pytest.raises(NbdojoError, match=r"already runs its 2 episodes \(--max-episodes\)") as refused:
        sessions.slot("c").start("c", None)
    assert "\n" not in str(refused.value)
    sessions.end("a")
    sessions.slot("c").start("c", None)
    sessions.end_all()
    assert main_help_mentions("--max-episodes")


def main_help_mentions(option: str) -> bool:
    from typer.testing import CliRunner

    from nbdojo.cli import app

    return option in CliRunner().invoke(app, ["mcp", "--help"], env={"COLUMNS": "200"}).output


@pytest.mark.kernel
def test_a_sessionless_request_never_reaches_another_sessions_episode(prepared_home, tmp_path):
    """The 2026 protocol has no sessions and the SDK ignores its Mcp-Session-Id: a client naming another
    session's id there must neither run code in that session's kernel nor end its episode."""
    import httpx

    token = "hijack-t0ken"
    base = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    modern = "2026-07-28"

    def rpc(url: str, method: str, params: dict, headers: dict, rid: int | None = 1) -> httpx.Response:
        body = {"jsonrpc": "2.0", "method": method, "params": params, **({"id": rid} if rid is not None else {})}
        return httpx.post(url, headers={**base, **headers}, json=body, timeout=300)

    with http_server(tmp_path, token) as (url, _):
        hello = rpc(url, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                        "clientInfo": {"name": "victim", "version": "1"}}, {})
        victim = {"mcp-session-id": hello.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        rpc(url, "notifications/initialized", {}, victim, rid=None)
        started = rpc(url, "tools/call", {"name": "start_episode", "arguments": {"competition": "penguins"}}, victim)
        assert started.status_code == 200 and "trajectory.ipynb" in started.text
        meta = {"io.modelcontextprotocol/protocolVersion": modern, "io.modelcontextprotocol/clientCapabilities": {}}
        forged = {"mcp-session-id": victim["mcp-session-id"], "mcp-protocol-version": modern,
                  "mcp-method": "tools/call", "mcp-name": "execute_code"}
        hijack = rpc(url, "tools/call", {"name": "execute_code", "arguments": {"code": "print('hij' + 'acked')"},
                                         "_meta": meta}, forged)
        assert hijack.status_code == 200 and "hijacked" not in hijack.text and "No episode is running" in hijack.text
        httpx.delete(url, headers={**base, **forged}, timeout=60)  # a sessionless DELETE ends nothing
        mine = rpc(url, "tools/call", {"name": "execute_code", "arguments": {"code": "print(6 * 7)"}}, victim)
        assert "42" in mine.text
