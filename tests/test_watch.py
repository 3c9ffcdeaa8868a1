"""`nbdojo watch` and `nbdojo attach` on a live episode: a real JupyterLab, a real browser, a real sandboxed kernel."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from lab_client import execute_via_lab

from nbdojo.env import DojoEnv

pytestmark = [pytest.mark.kernel, pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NBDOJO = [sys.executable, "-m", "nbdojo.cli"]


def isolated_jupyter_env(tmp: Path) -> dict[str, str]:
    """Jupyter's config, data, runtime and JupyterLab's settings and workspaces in a temp folder."""
    env = os.environ.copy()
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"), ("JUPYTER_RUNTIME_DIR", "rt"),
                     ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")):
        env[var] = str(tmp / sub)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Authorization": f"token {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"{}")


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture(scope="module")
def episode(loan_default_data, tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    env = DojoEnv("loan-default", out_dir=runs, agent="scripted", model="test-model")
    env.reset(seed=0)
    _, _, _, _, info = env.step({"action": "execute_code", "code": "x = 41 + 1\nprint('first cell', x)"})
    assert info["status"] == "ok"
    yield env, runs
    env.close()


@pytest.fixture(scope="module")
def watch(episode, tmp_path_factory):
    _, runs = episode
    port, token = free_port(), uuid.uuid4().hex
    proc = subprocess.Popen([*NBDOJO, "watch", str(runs), "--port", str(port), "--token", token],
                            env=isolated_jupyter_env(tmp_path_factory.mktemp("jupyter")), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"nbdojo watch exited: {proc.stdout.read()}")
        try:
            return api(base, token, "/api/status") is not None
        except (OSError, urllib.error.URLError):
            return False

    assert wait_for(up, 90), "JupyterLab did not come up"
    yield base, token
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def episode_kernel(base: str, token: str, name: str) -> dict | None:
    return next((k for k in api(base, token, "/api/kernels") if k["name"] == name), None)


def test_the_live_kernel_is_listed_under_its_run_and_attachable_from_lab(episode, watch):
    env, runs = episode
    base, token = watch
    kernel = wait_for(lambda: episode_kernel(base, token, env.run_dir.name), 15)
    assert kernel, api(base, token, "/api/kernels")
    assert execute_via_lab(base, token, kernel["id"], "print('inspected', x)") == "inspected 42\n"
    # JupyterLab cannot stop the episode's kernel: an external kernel is not its to shut down
    with pytest.raises(urllib.error.HTTPError):
        api(base, token, f"/api/kernels/{kernel['id']}/restart", method="POST")
    _, _, _, _, info = env.step({"action": "execute_code", "code": "print('agent goes on', x)"})
    assert info["status"] == "ok" and "agent goes on 42" in info["outputs"][0]["text"]


def test_browser_shows_a_new_cell_without_reload_and_lists_the_kernel(episode, watch):
    from playwright.sync_api import sync_playwright

    env, runs = episode
    base, token = watch
    rel = env.notebook_path.relative_to(runs).as_posix()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{base}/lab/tree/{rel}?token={token}")
            page.wait_for_selector("text=first cell 42", timeout=60_000)
            page.evaluate("window.__nbdojo_same_page = true")
            cells_before = page.locator(".jp-Notebook .jp-CodeCell").count()

            t0 = time.monotonic()
            _, _, _, _, info = env.step({"action": "execute_code", "code": "print('MARKER' + str(x * 2))"})
            assert info["status"] == "ok"
            page.wait_for_selector("text=MARKER84", timeout=15_000)
            appeared_after = time.monotonic() - t0
            assert page.evaluate("window.__nbdojo_same_page === true"), "the page was reloaded"
            assert page.locator(".jp-Notebook .jp-CodeCell").count() == cells_before + 1
            assert appeared_after < 6, f"the new cell took {appeared_after:.1f} s to appear"

            page.locator('[data-id="jp-running-sessions"]').click()
            running = page.locator("#jp-running-sessions")
            running.get_by_text(env.run_dir.name).first.wait_for(timeout=20_000)
        finally:
            browser.close()


def test_attach_opens_a_console_and_leaving_it_keeps_the_kernel(episode, watch):
    env, runs = episode
    proc = subprocess.run([*NBDOJO, "attach", env.run_dir.name, "--root", str(runs), "--simple-prompt"],
                          input="print('attached', x)\nexit\n", capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "attached 42" in proc.stdout and "keeping kernel alive" in proc.stdout
    _, _, _, _, info = env.step({"action": "execute_code", "code": "print('still', x)"})
    assert info["status"] == "ok" and not info["restarted"] and "still 42" in info["outputs"][0]["text"]


def test_lab_cannot_save_over_a_trajectory(episode, watch):
    env, runs = episode
    base, token = watch
    rel = env.notebook_path.relative_to(runs).as_posix()
    model = api(base, token, f"/api/contents/{rel}")
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(base, token, f"/api/contents/{rel}", method="PUT",
            body={"type": "notebook", "format": "json", "content": model["content"]})
    assert refused.value.code == 403
    copy = rel.replace("trajectory.ipynb", "my-copy.ipynb")
    api(base, token, f"/api/contents/{copy}", method="PUT",
        body={"type": "notebook", "format": "json", "content": model["content"]})
    assert (runs / copy).exists()


def test_attach_refuses_a_run_without_a_live_kernel(episode, tmp_path):
    (tmp_path / "old-run" / "workspace").mkdir(parents=True)
    proc = subprocess.run([*NBDOJO, "attach", "old-run", "--root", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 1 and "no live kernel" in proc.stderr


def test_a_closed_episode_leaves_the_kernel_list(episode, watch):
    env, runs = episode
    base, token = watch
    name = env.run_dir.name
    env.close()
    assert wait_for(lambda: episode_kernel(base, token, name) is None, 15)
    assert not list((runs / ".kernels").glob("*.json"))
