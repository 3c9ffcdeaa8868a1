"""`nbdojo watch` and `nbdojo attach` on a live episode: a real JupyterLab, a real browser, a real sandboxed kernel."""

from __future__ import annotations

import json
import os
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
    jupyter = tmp_path_factory.mktemp("jupyter")
    (jupyter / "config").mkdir()  # window.jupyterapp, for the tests to run JupyterLab commands as menus do
    (jupyter / "config" / "jupyter_lab_config.json").write_text(json.dumps({"LabApp": {"expose_app_in_browser": True}}))
    proc = subprocess.Popen([*NBDOJO, "watch", str(runs), "--port", str(port), "--token", token],
                            env=isolated_jupyter_env(jupyter), stdout=subprocess.PIPE,
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


def run_list_says(base: str, token: str, name: str, live: bool) -> bool:
    """Whether the run list page shows the run, live or not."""
    with urllib.request.urlopen(f"{base}/nbdojo/runs?token={token}", timeout=10) as response:
        page = response.read().decode()
    return f'data-run="{name}" data-live="{str(live).lower()}"' in page and f"/lab/tree/{name}/trajectory.ipynb" in page


def test_the_live_kernel_is_listed_under_its_run_and_attachable_from_lab(episode, watch):
    env, runs = episode
    base, token = watch
    kernel = wait_for(lambda: episode_kernel(base, token, env.run_dir.name), 15)
    assert kernel, api(base, token, "/api/kernels")
    assert run_list_says(base, token, env.run_dir.name, live=True)
    with urllib.request.urlopen(f"{base}/nbdojo/runs", timeout=10) as anonymous:  # no token: the login page
        assert "/login" in anonymous.url and env.run_dir.name not in anonymous.read().decode()
    assert execute_via_lab(base, token, kernel["id"], "print('inspected', x)") == "inspected 42\n"
    # JupyterLab cannot stop the episode's kernel: an external kernel is not its to shut down
    with pytest.raises(urllib.error.HTTPError):
        api(base, token, f"/api/kernels/{kernel['id']}/restart", method="POST")
    _, _, _, _, info = env.step({"action": "execute_code", "code": "print('agent goes on', x)"})
    assert info["status"] == "ok" and "agent goes on 42" in info["outputs"][0]["text"]


@pytest.fixture(scope="module")
def page(episode, watch):
    """One headless Chromium page on the episode's trajectory, shared by the module's browser tests (in order)."""
    from playwright.sync_api import sync_playwright

    env, runs = episode
    base, token = watch
    rel = env.notebook_path.relative_to(runs).as_posix()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # short, so that a few cells overflow it and following the newest one means scrolling
            page = browser.new_page(viewport={"width": 1300, "height": 650})
            page.goto(f"{base}/lab/tree/{rel}?token={token}")
            page.wait_for_selector("text=first cell 42", timeout=60_000)
            yield page
        finally:
            browser.close()


NOTEBOOK = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-WindowedPanel-outer"  # what scrolls
#: How far the view is from the newest cell's bottom (the blank space JupyterLab leaves past the end aside).
NOTEBOOK_FILL = f"""() => {{
    const n = document.querySelector("{NOTEBOOK}"), cells = n.querySelector(".jp-WindowedPanel-inner");
    return {{gap: cells.offsetHeight - n.clientHeight - n.scrollTop, top: n.scrollTop,
             tall: cells.offsetHeight > n.clientHeight, following: n.dataset.nbdojoFollowing}};
}}"""


IN_VIEW = """([sel, text]) => {
    const n = document.querySelector(sel), box = n.getBoundingClientRect();
    const out = [...n.querySelectorAll('.jp-OutputArea-output')].find(e => e.textContent.includes(text));
    if (!out) return false;
    const r = out.getBoundingClientRect();
    return r.bottom > box.top && r.top < box.bottom;
}"""


def in_view(page, text: str) -> bool:
    """Whether an output with this text lies inside the notebook's visible area."""
    return page.evaluate(IN_VIEW, [NOTEBOOK, text])


def comes_into_view(page, text: str, timeout: float = 10) -> bool:
    try:
        page.wait_for_function(IN_VIEW, arg=[NOTEBOOK, text], timeout=timeout * 1000)
    except Exception:  # noqa: BLE001 - playwright's TimeoutError: answered as False, the caller asserts
        return False
    return True


def notification(page, text: str) -> None:
    page.locator(".Toastify__toast", has_text=text).first.wait_for(timeout=15_000)


def test_browser_shows_a_new_cell_without_reload_and_lists_the_kernel(episode, page):
    env, _ = episode
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
    page.locator('[data-id="jp-running-sessions"]').click()  # the sidebar closed again


def test_browser_streams_a_running_cell_and_follows_the_newest_cell(episode, page):
    """A long cell's output shows while it runs (not when it ends), and the view keeps the newest output and the
    newest cell in sight, until the person scrolls up."""
    env, _ = episode
    lines = 60  # a 30-second cell, as in the issue: its output keeps arriving while it runs
    code = f"import time\nfor i in range({lines}):\n    print(f'epoch {{i}} loss', flush=True)\n    time.sleep(0.5)"
    step = threading.Thread(target=env.step, args=({"action": "execute_code", "code": code},))
    step.start()
    try:
        page.wait_for_selector("text=epoch 0 loss", timeout=15_000)
        assert step.is_alive(), "the output appeared only once the cell had ended"
        page.wait_for_selector("text=epoch 30 loss", timeout=25_000)  # half way: later output streams in too
        assert step.is_alive(), "the output appeared only once the cell had ended"
        assert page.get_by_text(f"epoch {lines - 1} loss").count() == 0
    finally:
        step.join(timeout=90)
    page.wait_for_selector(f"text=epoch {lines - 1} loss", timeout=15_000)
    page.wait_for_function(f"() => Math.abs(({NOTEBOOK_FILL})().gap) < 30", timeout=10_000)
    state = page.evaluate(NOTEBOOK_FILL)
    assert state["tall"] and state["following"] == "true", state
    assert in_view(page, f"epoch {lines - 1} loss") and not in_view(page, "first cell 42")

    env.step({"action": "execute_code", "code": "print('NEWEST' + ' CELL')"})
    page.wait_for_selector("text=NEWEST CELL", timeout=15_000)
    assert comes_into_view(page, "NEWEST CELL"), page.evaluate(NOTEBOOK_FILL)

    # scrolled up by the person: the view stays where they put it
    box = page.locator(NOTEBOOK).bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => ({NOTEBOOK_FILL})().following === 'false'", timeout=10_000)
    top = page.evaluate(NOTEBOOK_FILL)["top"]
    env.step({"action": "execute_code", "code": "print('WHILE' + ' SCROLLED UP')"})
    page.wait_for_selector("text=WHILE SCROLLED UP", state="attached", timeout=15_000)
    time.sleep(1)
    assert abs(page.evaluate(NOTEBOOK_FILL)["top"] - top) < 5 and not in_view(page, "WHILE SCROLLED UP")
    page.locator(".nbdojo-follow-badge").click()  # follow again
    assert comes_into_view(page, "WHILE SCROLLED UP"), page.evaluate(NOTEBOOK_FILL)


def test_browser_trajectory_is_read_only(episode, page):
    page.locator('[data-jp-item-name="read-only-indicator"]').first.wait_for(timeout=10_000)
    cell = page.locator(".jp-Notebook .jp-CodeCell", has_text="first cell 42").first
    cell.locator(".cm-content").click()
    page.keyboard.type("zzz")
    page.keyboard.press("Enter")
    time.sleep(0.5)
    assert "zzz" not in cell.locator(".cm-content").inner_text()
    assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0, "the notebook is marked unsaved"

    cells = page.locator(".jp-Notebook .jp-Cell").count()
    page.keyboard.press("Escape")
    page.keyboard.press("b")  # insert a cell below
    notification(page, "This trajectory is read-only")
    page.wait_for_function(f"() => document.querySelectorAll('.jp-Notebook .jp-Cell').length === {cells}",
                           timeout=10_000)
    assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0

    # moving cells and pasting several (copies of the trajectory's own, read-only cells) are refused as well
    sources = "() => window.jupyterapp.shell.currentWidget.model.sharedModel.cells.map(c => c.getSource())"
    before = page.evaluate(sources)
    page.evaluate("""() => { window.__nbdojo_toasts = [];
        new MutationObserver(ms => ms.forEach(m => m.addedNodes.forEach(n => window.__nbdojo_toasts.push(n))))
            .observe(document.body, {childList: true, subtree: true}); }""")
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 1; }")
    for commands in (["notebook:move-cell-down"], ["notebook:move-cell-up"],
                     ["notebook:extend-marked-cells-below", "notebook:copy-cell", "notebook:paste-cell-below"]):
        page.evaluate("window.__nbdojo_toasts.length = 0")
        assert page.evaluate("name => window.jupyterapp.commands.isEnabled(name)", commands[0]), commands
        page.evaluate("async names => { for (const n of names) await window.jupyterapp.commands.execute(n)"
                      ".catch(() => {}); }", commands)
        page.wait_for_function("() => window.__nbdojo_toasts.some(n => (n.textContent || '')"
                               ".includes('This trajectory is read-only'))", timeout=10_000)
        time.sleep(0.3)
        assert page.evaluate(sources) == before, commands
        assert page.locator(".lm-TabBar-tab.jp-mod-dirty").count() == 0, commands


def test_browser_console_on_an_agent_kernel_explains_restart_and_interrupt(episode, watch, page):
    env, _ = episode
    base, token = watch
    kernel = wait_for(lambda: episode_kernel(base, token, env.run_dir.name), 15)
    page.evaluate("id => window.jupyterapp.commands.execute('console:create', {kernelPreference: {id}})", kernel["id"])
    console = page.locator(".jp-ConsolePanel:not(.lm-mod-hidden)")
    console.locator(".jp-CodeConsole-promptCell .cm-content").click()
    page.keyboard.type("print('console sees', x)")
    page.keyboard.press("Shift+Enter")
    console.get_by_text("console sees 42").wait_for(timeout=30_000)

    command = "name => { window.jupyterapp.commands.execute(name).catch(() => {}); }"  # as a menu item does
    page.evaluate(command, "console:restart-kernel")
    page.locator(".jp-Dialog .jp-mod-accept").click()  # JupyterLab's own "Restart Kernel?" question
    notification(page, "cannot restart it")
    page.evaluate(command, "console:interrupt-kernel")
    notification(page, "cannot interrupt it")
    status = "() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus"
    page.wait_for_function(f"{status} === 'idle'", timeout=10_000)
    console.locator(".jp-CodeConsole-promptCell .cm-content").click()
    page.keyboard.type("print('still there', x)")
    page.keyboard.press("Shift+Enter")
    console.get_by_text("still there 42").wait_for(timeout=30_000)
    _, _, _, _, info = env.step({"action": "execute_code", "code": "print('agent goes on', x)"})
    assert info["status"] == "ok" and not info["restarted"] and "agent goes on 42" in info["outputs"][0]["text"]


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
    # served read-only: JupyterLab shows its read-only indicator, and its editor refuses typing into the cells
    assert model["writable"] is False
    assert all(c["metadata"]["editable"] is False and c["metadata"]["deletable"] is False
               for c in model["content"]["cells"])
    assert '"editable"' not in env.notebook_path.read_text()  # the record itself is left as the env wrote it
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(base, token, f"/api/contents/{rel}", method="PUT",
            body={"type": "notebook", "format": "json", "content": model["content"]})
    assert refused.value.code == 403
    copy = rel.replace("trajectory.ipynb", "my-copy.ipynb")
    api(base, token, f"/api/contents/{copy}", method="PUT",
        body={"type": "notebook", "format": "json", "content": model["content"]})
    saved = api(base, token, f"/api/contents/{copy}")
    assert saved["writable"] is True  # a copy is the person's: its cells are editable again
    assert not any("editable" in c["metadata"] or "deletable" in c["metadata"] for c in saved["content"]["cells"])


def test_lab_leaves_an_agent_kernel_to_its_episode(episode, watch):
    env, _ = episode
    base, token = watch
    kernel = wait_for(lambda: episode_kernel(base, token, env.run_dir.name), 15)
    with pytest.raises(urllib.error.HTTPError):  # jupyter_server answers any failed restart with a bare 500
        api(base, token, f"/api/kernels/{kernel['id']}/restart", method="POST")
    for method, path, action in (("POST", "/interrupt", "interrupt"), ("DELETE", "", "shut down")):
        with pytest.raises(urllib.error.HTTPError) as refused:
            api(base, token, f"/api/kernels/{kernel['id']}{path}", method=method)
        assert refused.value.code == 403
        assert f"cannot {action} it" in json.loads(refused.value.read())["message"]
    assert episode_kernel(base, token, env.run_dir.name)["id"] == kernel["id"]
    _, _, _, _, info = env.step({"action": "execute_code", "code": "print('kept', x)"})
    assert info["status"] == "ok" and not info["restarted"] and "kept 42" in info["outputs"][0]["text"]


def test_lab_interrupts_the_kernel_of_a_run_that_allows_it(episode, watch, page):
    """A run started with allow_interrupt: a person interrupts its long cell from the lab (over the HTTP API, then
    from the browser); the episode goes on and records the interrupted cell. The default run stays refused."""
    env, runs = episode
    base, token = watch
    default = wait_for(lambda: episode_kernel(base, token, env.run_dir.name), 15)
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(base, token, f"/api/kernels/{default['id']}/interrupt", method="POST")
    assert refused.value.code == 403 and "does not allow" in json.loads(refused.value.read())["message"]

    with DojoEnv("loan-default", out_dir=runs, agent="scripted", model="test-model", allow_interrupt=True) as allowed:
        allowed.reset(seed=1)
        assert json.loads(allowed.notebook_path.read_text())["metadata"]["nbdojo"]["allow_interrupt"] is True
        kernel = wait_for(lambda: episode_kernel(base, token, allowed.run_dir.name), 15)
        assert kernel, api(base, token, "/api/kernels")
        code = "import time\nprint('waiting', flush=True)\ny = 7\ntime.sleep(120)\nprint('never')"

        def interrupted_by(interrupt) -> dict:
            result: dict = {}
            step = threading.Thread(target=lambda: result.update(info=allowed.step(
                {"action": "execute_code", "code": code})[4]))
            t0 = time.monotonic()
            step.start()
            try:
                assert wait_for(lambda: "waiting" in allowed.notebook_path.read_text(), 30), "the cell did not start"
                interrupt()
            finally:
                step.join(timeout=60)
            assert not step.is_alive() and time.monotonic() - t0 < 60, "the cell was not interrupted"
            return result["info"]

        info = interrupted_by(lambda: api(base, token, f"/api/kernels/{kernel['id']}/interrupt", method="POST"))
        assert info["status"] == "error" and not info["restarted"], info
        assert "KeyboardInterrupt" in json.dumps(info["outputs"])
        assert [o["text"] for o in info["outputs"] if o["output_type"] == "stream"] == ["waiting\n"]
        # from the browser, as the Interrupt button does: through the extension, which says it was sent
        info = interrupted_by(lambda: page.evaluate(
            "([id, name]) => window.jupyterapp.serviceManager.kernels.connectTo({model: {id, name}}).interrupt()",
            [kernel["id"], kernel["name"]]))
        assert info["status"] == "error" and "KeyboardInterrupt" in json.dumps(info["outputs"]), info
        notification(page, "Interrupt sent")
        _, _, _, _, info = allowed.step({"action": "execute_code", "code": "print('goes on', y)"})
        assert info["status"] == "ok" and not info["restarted"] and "goes on 7" in info["outputs"][0]["text"]
        cells = [c for c in json.loads(allowed.notebook_path.read_text())["cells"] if "time.sleep(120)" in
                 "".join(c["source"])]
        assert len(cells) == 2 and all(o.get("ename") == "KeyboardInterrupt" for c in cells for o in c["outputs"]
                                       if o["output_type"] == "error"), cells
        assert all(any(o["output_type"] == "error" for o in c["outputs"]) for c in cells)
    _, _, _, _, info = env.step({"action": "execute_code", "code": "print('default run', x)"})
    assert info["status"] == "ok" and "default run 42" in info["outputs"][0]["text"]


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
    assert run_list_says(base, token, name, live=False)
