"""JupyterLab for people, safely: `nbdojo play --open` and `nbdojo watch` serve folders that sandboxed kernels
write into, so their JupyterLab (often run as root) must not follow the symbolic links those kernels leave, must
not give out a shell, and must not run anything on the host. Real servers, started as the commands start them,
and real HTTP requests; the links are made by the sandboxed kernels themselves."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from lab_client import execute_via_lab

pytestmark = pytest.mark.kernel  # real JupyterLab servers and sandboxed kernels

NBDOJO = [sys.executable, "-m", "nbdojo.cli"]


# ----- helpers ------------------------------------------------------------------------------------

def isolated_jupyter_env(tmp: Path) -> dict[str, str]:
    env = os.environ.copy()
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "rt"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[var] = str(tmp / sub)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """A running server: its base URL and token, and raw HTTP requests that return (status, body)."""

    def __init__(self, base: str, token: str, proc: subprocess.Popen):
        self.base, self.token, self.proc = base, token, proc

    def request(self, path: str, method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method,
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def json(self, path: str, method: str = "GET", body: dict | None = None):
        status, data = self.request(path, method, body)
        assert status < 300, (path, status, data[:500])
        return json.loads(data or b"{}")

    def names(self, folder: str) -> set[str]:
        return {entry["name"] for entry in self.json(f"/api/contents/{folder}")["content"]}

    def execute(self, kernel_id: str, code: str) -> str:
        """Run code on a kernel over the server's kernel websocket; its stdout (or error) as text."""
        return execute_via_lab(self.base, self.token, kernel_id, code, timeout=60)


def start_command(args: list[str], env: dict[str, str], url_pattern: str, timeout: float = 120) -> tuple[
        subprocess.Popen, re.Match, str]:
    """Start an nbdojo command and read its output until a line matches (the server's URL)."""
    proc = subprocess.Popen([*NBDOJO, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen, deadline = "", time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=1)
        except queue.Empty:
            continue
        if line is None:
            break
        seen += line
        match = re.search(url_pattern, seen)
        if match:
            return proc, match, seen
    proc.kill()
    pytest.fail(f"nbdojo {' '.join(args)} did not start its server:\n{seen}")


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


# ----- nbdojo play --open -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def play_lab(loan_default_data, tmp_path_factory):
    """`nbdojo play --open`; its sandboxed kernel (started through the server, as the page does) then leaves
    symbolic links in its workspace: to the private answers, a host folder, a host file yet to be written."""
    tmp = tmp_path_factory.mktemp("play-lab")
    host = tmp / "host"
    host.mkdir()
    (host / "keep.txt").write_text("host file\n")
    env = isolated_jupyter_env(tmp / "jupyter")
    proc, match, out = start_command(
        ["play", "loan-default", "--name", "mallory", "--out", str(tmp / "plays"), "--open", "--no-browser",
         "--port", str(free_port())], env, r"JupyterLab (http://[\d.:]+)/\S*\?token=(\w+)")
    lab = Lab(match.group(1), match.group(2), proc)
    try:
        notebook = Path(re.search(r"notebook\s+(\S+\.ipynb)", out).group(1))
        kernel_name = json.loads(notebook.read_text())["metadata"]["kernelspec"]["name"]
        session = lab.json("/api/sessions", "POST", {"path": notebook.name, "type": "notebook", "name": notebook.name,
                                                     "kernel": {"name": kernel_name}})
        links = {"answers.csv": loan_default_data.answers_path, "private": loan_default_data.private_dir,
                 "victim.txt": host / "victim.txt", "hostdir": host}
        code = "import os\n" + "".join(f"os.symlink({str(t)!r}, {n!r})\n" for n, t in links.items()) + (
            "os.makedirs('nb')\nos.symlink({!r}, 'nb/.ipynb_checkpoints')\n".format(str(host))
            + "try:\n    open('answers.csv').read()\nexcept OSError:\n    print('the kernel cannot read them')\n"
            + "print('links made')")
        printed = lab.execute(session["kernel"]["id"], code)
        assert "links made" in printed and "the kernel cannot read them" in printed, printed
        yield {"lab": lab, "notebook": notebook, "kernel_name": kernel_name, "kernel_id": session["kernel"]["id"],
               "host": host, "data": loan_default_data}
    finally:
        stop(proc)


def test_play_lab_reads_nothing_through_a_kernels_symlink(play_lab):
    lab, data = play_lab["lab"], play_lab["data"]
    answers = data.answers_path.read_bytes()
    answers_name = data.answers_path.name
    for path in ("/api/contents/workspace/answers.csv", "/api/contents/workspace/answers.csv?type=file&format=text",
                 "/api/contents/workspace/private", f"/api/contents/workspace/private/{answers_name}",
                 "/files/workspace/answers.csv", f"/files/workspace/private/{answers_name}",
                 "/view/workspace/answers.csv", "/nbconvert/script/workspace/answers.csv",
                 "/api/contents/workspace/hostdir", "/api/contents/workspace/hostdir/keep.txt"):
        status, body = lab.request(path)
        assert status in (403, 404), (path, status, body[:300])
        assert answers[:40] not in body and b"host file" not in body and b'"content": [' not in body, path
    # a listing leaves the links out, so it tells nothing about their targets
    assert lab.names("workspace").isdisjoint({"answers.csv", "private", "victim.txt", "hostdir"})
    assert "nb" in lab.names("workspace") and lab.json("/api/contents/workspace/nb")["content"] == []


def test_play_lab_writes_nothing_through_a_kernels_symlink(play_lab):
    lab, host = play_lab["lab"], play_lab["host"]
    before = sorted(p.name for p in host.iterdir())
    text = {"type": "file", "format": "text", "content": "written by the server\n"}
    notebook = {"type": "notebook", "content": {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}}
    assert lab.request("/api/contents/workspace/mine.txt", "PUT", text)[0] == 201  # plain files still work
    refused = [
        ("/api/contents/workspace/victim.txt", "PUT", text),                      # write through a file link
        ("/api/contents/workspace/hostdir/new.txt", "PUT", text),                 # ... through a folder link
        ("/api/contents/workspace/hostdir/keep.txt", "PUT", text),
        ("/api/contents/workspace/hostdir/sub", "PUT", {"type": "directory"}),
        ("/api/contents/workspace/mine.txt", "PATCH", {"path": "workspace/hostdir/mine.txt"}),   # rename into it
        ("/api/contents/workspace/answers.csv", "PATCH", {"path": "workspace/peek.csv"}),        # rename the link
        ("/api/contents/workspace", "POST", {"copy_from": "workspace/answers.csv"}),             # copy the link
        ("/api/contents/workspace/hostdir", "POST", {"copy_from": "workspace/mine.txt"}),        # copy into it
        ("/api/contents", "POST", {"copy_from": "workspace"}),                    # a folder that holds links
        ("/api/contents/workspace/hostdir/keep.txt", "DELETE", None),
        ("/api/contents/workspace/nb/n.ipynb", "PUT", notebook),                  # its checkpoint folder is a link
        ("/api/contents/workspace/nb/n.ipynb/checkpoints", "POST", None),
    ]
    for path, method, body in refused:
        status, reply = lab.request(path, method, body)
        assert status >= 400, (method, path, status, reply[:300])
    assert sorted(p.name for p in host.iterdir()) == before
    assert (host / "keep.txt").read_text() == "host file\n"
    assert "peek.csv" not in lab.names("workspace") and "Copy" not in " ".join(lab.names(""))


def test_play_lab_refuses_dot_dot(play_lab):
    lab, notebook = play_lab["lab"], play_lab["notebook"]
    assert lab.request(f"/api/contents/{notebook.name}")[0] == 200
    for path, method, body in [
        (f"/api/contents/workspace/%2E%2E/{notebook.name}", "GET", None),        # inside the folder, via ..
        (f"/files/workspace/%2E%2E/{notebook.name}", "GET", None),
        ("/api/contents/workspace/%2E%2E/%2E%2E/%2E%2E/etc/hostname", "GET", None),
        ("/api/contents/workspace/%2E%2E/dotdot.txt", "PUT", {"type": "file", "format": "text", "content": "x"}),
    ]:
        status, reply = lab.request(path, method, body)
        assert status in (400, 403, 404), (method, path, status, reply[:300])
    assert not (notebook.parent / "dotdot.txt").exists()


def test_play_lab_has_no_terminals(play_lab):
    lab = play_lab["lab"]
    assert lab.request("/api/terminals")[0] == 404
    assert lab.request("/api/terminals", "POST", {})[0] == 404  # no shell on the host, as the server's user
    assert lab.request("/terminals/websocket/1")[0] == 404


def test_play_lab_starts_only_the_sandboxed_kernel(play_lab):
    lab = play_lab["lab"]
    for body in ({"name": "python3"}, {"name": "python3", "path": "workspace"}):
        status, reply = lab.request("/api/kernels", "POST", body)
        assert status == 403, reply[:300]
    status, reply = lab.request("/api/sessions", "POST", {"path": "other.ipynb", "type": "notebook",
                                                          "name": "other.ipynb", "kernel": {"name": "python3"}})
    assert status >= 400, reply[:300]
    assert [k["name"] for k in lab.json("/api/kernels")] == [play_lab["kernel_name"]]
    assert list(lab.json("/api/kernelspecs")["kernelspecs"]) == [play_lab["kernel_name"]]


def test_links_swapped_in_after_the_check_are_not_followed(tmp_path, monkeypatch):
    """The up-front check is not all: files are opened segment by segment with O_NOFOLLOW, so a link that a
    kernel swaps in between the check and the open is not followed either."""
    from tornado.web import HTTPError

    from nbdojo.tools.lab import SafeContentsManager

    secret, root = tmp_path / "secret", tmp_path / "root"
    secret.mkdir()
    (secret / "answers.csv").write_text("id,answer\n")
    (root / "ws" / "real").mkdir(parents=True)
    (root / "ws" / "real" / "ok.txt").write_text("fine\n")
    (root / "ws" / "link.csv").symlink_to(secret / "answers.csv")
    (root / "ws" / "linkdir").symlink_to(secret)
    cm = SafeContentsManager(root_dir=str(root))
    monkeypatch.setattr(SafeContentsManager, "_refuse_links", lambda self, os_path: None)  # the race was lost

    async def attempts():
        assert (await cm.get("ws/real/ok.txt"))["content"] == "fine\n"
        for path in ("ws/link.csv", "ws/linkdir/answers.csv"):
            with pytest.raises(HTTPError):
                await cm.get(path, type="file", format="text")
        for path in ("ws/link.csv", "ws/linkdir/new.csv"):
            with pytest.raises(HTTPError):
                await cm.save({"type": "file", "format": "text", "content": "x"}, path)
        with pytest.raises(HTTPError):
            await cm.rename_file("ws/real/ok.txt", "ws/linkdir/ok.txt")
        with pytest.raises(HTTPError):
            await cm.save({"type": "directory"}, "ws/linkdir/sub")
        names = {entry["name"] for entry in (await cm.get("ws"))["content"]}
        assert names == {"real"}

    asyncio.run(attempts())
    assert sorted(p.name for p in secret.iterdir()) == ["answers.csv"]
    assert (secret / "answers.csv").read_text() == "id,answer\n"


# ----- nbdojo watch -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def watched(loan_default_data, tmp_path_factory):
    """A live episode whose agent left links to the private answers in its workspace, and `nbdojo watch`."""
    from nbdojo.env import DojoEnv

    runs = tmp_path_factory.mktemp("runs")
    env = DojoEnv("loan-default", out_dir=runs, agent="scripted", model="test-model")
    env.reset(seed=0)
    code = (f"import os\nos.symlink({str(loan_default_data.answers_path)!r}, 'peek.csv')\n"
            f"os.symlink({str(loan_default_data.private_dir)!r}, 'private')\nx = 42\nprint('linked')")
    *_, info = env.step({"action": "execute_code", "code": code})
    assert info["status"] == "ok", info
    proc = None
    try:
        proc, match, _ = start_command(
            ["watch", str(runs), "--port", str(free_port()), "--token", uuid.uuid4().hex],
            isolated_jupyter_env(tmp_path_factory.mktemp("jupyter-watch")),
            r"JupyterLab (http://[\d.:]+)/lab\?token=(\w+)")
        yield {"lab": Lab(match.group(1), match.group(2), proc), "env": env, "runs": runs,
               "data": loan_default_data}
    finally:
        if proc is not None:
            stop(proc)
        env.close()


def _host_kernels(proc: subprocess.Popen) -> list[str]:
    import psutil

    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "ipykernel" in cmd:
            found.append(cmd)
    return found


def test_watch_starts_no_kernel_for_a_trajectory(watched):
    lab, env, runs = watched["lab"], watched["env"], watched["runs"]
    rel = env.notebook_path.relative_to(runs).as_posix()
    kernels_before = {k["id"] for k in lab.json("/api/kernels")}
    # what JupyterLab asks when a trajectory is opened, or "Run All" picks its kernel (python3)
    for body in ({"path": rel, "type": "notebook", "name": "trajectory.ipynb", "kernel": {"name": "python3"}},
                 {"path": rel, "type": "notebook", "name": "trajectory.ipynb"},
                 {"path": "console-1", "type": "console", "name": "", "kernel": {"name": "python3"}}):
        status, reply = lab.request("/api/sessions", "POST", body)
        assert status >= 400, reply[:300]
    for body in ({"name": "python3"}, {}, {"name": "python3", "path": rel.rsplit("/", 1)[0]}):
        status, reply = lab.request("/api/kernels", "POST", body)
        assert status == 403, reply[:300]
    time.sleep(1)
    assert {k["id"] for k in lab.json("/api/kernels")} <= kernels_before
    assert lab.json("/api/sessions") == []
    assert _host_kernels(lab.proc) == []
    assert lab.json("/api/kernelspecs")["kernelspecs"] == {}  # nothing to start is offered
    status, page = lab.request(f"/lab/tree/{rel}")
    assert status == 200 and b'"notebookStartsKernel": false' in page  # a trajectory opens with no kernel
    assert lab.request("/api/terminals")[0] == 404 and lab.request("/api/terminals", "POST", {})[0] == 404


def test_watch_still_attaches_the_live_episode_kernel(watched):
    lab, env, runs = watched["lab"], watched["env"], watched["runs"]
    kernel = wait_for(lambda: next((k for k in lab.json("/api/kernels") if k["name"] == env.run_dir.name), None), 20)
    assert kernel, lab.json("/api/kernels")
    rel = env.notebook_path.relative_to(runs).as_posix()
    session = lab.json("/api/sessions", "POST", {"path": rel, "type": "notebook", "name": "trajectory.ipynb",
                                                 "kernel": {"id": kernel["id"]}})
    assert session["kernel"]["id"] == kernel["id"]
    assert lab.execute(kernel["id"], "print('inspected', x)") == "inspected 42\n"
    *_, info = env.step({"action": "execute_code", "code": "print('agent goes on', x)"})
    assert info["status"] == "ok" and "agent goes on 42" in info["outputs"][0]["text"]
    assert _host_kernels(lab.proc) == []


def test_watch_follows_no_agent_symlink(watched):
    lab, env, runs, data = watched["lab"], watched["env"], watched["runs"], watched["data"]
    workspace = (env.run_dir / "workspace").relative_to(runs).as_posix()
    answers = data.answers_path.read_bytes()
    for path in (f"/api/contents/{workspace}/peek.csv", f"/api/contents/{workspace}/private",
                 f"/api/contents/{workspace}/private/{data.answers_path.name}", f"/files/{workspace}/peek.csv"):
        status, body = lab.request(path)
        assert status in (403, 404) and answers[:40] not in body, (path, status, body[:300])
    assert lab.names(workspace).isdisjoint({"peek.csv", "private"})
    status, _ = lab.request(f"/api/contents/{workspace}/private/planted.csv", "PUT",
                            {"type": "file", "format": "text", "content": "x"})
    assert status == 403 and not (data.private_dir / "planted.csv").exists()
    status, _ = lab.request(f"/api/contents/{workspace}/%2E%2E/trajectory.ipynb")
    assert status == 400
