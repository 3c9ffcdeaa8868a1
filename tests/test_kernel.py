"""KernelSession against a real ipykernel (plus a few fast tests of the output builder)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from nbdojo.errors import KernelError, KernelStartError
from nbdojo.kernel.outputs import CellOutputs
from nbdojo.kernel.session import CellResult, KernelSession, install_kernelspec, uninstall_kernelspec
from nbdojo.kernel.toolbox import find_toolbox


@pytest.fixture(scope="module")
def ks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelSession]:
    """One shared kernel for tests that leave it healthy."""
    with KernelSession(cwd=tmp_path_factory.mktemp("kernel-cwd")) as session:
        yield session


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[KernelSession]:
    """A kernel of its own, for tests that interrupt, kill or restart it."""
    with KernelSession(cwd=tmp_path, interrupt_grace=1.0) as session:
        yield session


def text_of(result: CellResult, name: str = "stdout") -> str:
    return "".join(o["text"] for o in result.outputs if o["output_type"] == "stream" and o["name"] == name)


def gone(pid: int) -> bool:
    """True once the process is dead (a zombie left for a non-reaping init counts as dead)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# --- cells on a shared kernel -----------------------------------------------------------------


@pytest.mark.kernel
def test_state_persists_across_cells(ks: KernelSession) -> None:
    assert ks.execute("persisted = 41").status == "ok"
    result = ks.execute("persisted + 1")
    assert result.status == "ok"
    count = result.execution_count
    assert result.outputs == [
        {"output_type": "execute_result", "data": {"text/plain": "42"}, "metadata": {}, "execution_count": count}
    ]
    assert isinstance(result.execution_count, int) and result.execution_count > 0
    assert result.error is None and not result.restarted
    assert result.started.endswith("+00:00") and result.duration_s >= 0


@pytest.mark.kernel
def test_stdout_and_stderr_streams(ks: KernelSession) -> None:
    result = ks.execute("import sys\nprint('a')\nprint('b')\nprint('oops', file=sys.stderr)")
    assert result.status == "ok"
    assert text_of(result) == "a\nb\n"
    assert text_of(result, "stderr") == "oops\n"
    assert [o["output_type"] for o in result.outputs] == ["stream", "stream"]  # consecutive stdout merged


@pytest.mark.kernel
def test_error_cell(ks: KernelSession) -> None:
    result = ks.execute("def f():\n    raise ValueError('bad value')\nf()")
    assert result.status == "error"
    assert result.error is not None
    assert result.error["ename"] == "ValueError"
    assert result.error["evalue"] == "bad value"
    assert any("bad value" in line for line in result.error["traceback"])
    assert result.outputs[-1]["output_type"] == "error"
    assert ks.execute("1").status == "ok"  # the next cell is not aborted


@pytest.mark.kernel
@pytest.mark.parametrize("code", ["exit", "quit()", "exit(keep_kernel=False)"])
def test_exit_and_quit_keep_the_kernel_and_its_state(ks: KernelSession, code: str) -> None:
    ks.execute("kept_through_exit = 'yes'")
    pid = ks.pid
    result = ks.execute(code, timeout=20)
    assert result.status == "ok" and not result.restarted
    assert "restart_kernel" in text_of(result)
    after = ks.execute("print(kept_through_exit)", timeout=20)
    assert text_of(after) == "yes\n" and ks.pid == pid and ks.is_alive()


def test_input_fails_fast_instead_of_hanging(ks: KernelSession) -> None:
    result = ks.execute("input('name? ')", timeout=20)
    assert result.status == "error"
    assert result.error is not None and result.error["ename"] == "StdinNotImplementedError"
    assert result.duration_s < 5


@pytest.mark.kernel
def test_matplotlib_figure_is_png_display(ks: KernelSession) -> None:
    code = "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 3, 2])\nplt.show()"
    result = ks.execute(code, timeout=60)
    assert result.status == "ok", result.error
    images = [o for o in result.outputs if o["output_type"] == "display_data" and "image/png" in o["data"]]
    assert len(images) == 1
    assert base64.b64decode(images[0]["data"]["image/png"]).startswith(b"\x89PNG")


@pytest.mark.kernel
def test_clear_output(ks: KernelSession) -> None:
    pre = "from IPython.display import clear_output\n"
    assert text_of(ks.execute(pre + "print('a')\nclear_output()\nprint('b')")) == "b\n"
    assert text_of(ks.execute(pre + "print('a')\nclear_output(wait=True)\nprint('b')")) == "b\n"
    # wait=True clears only when the next output arrives
    assert text_of(ks.execute(pre + "print('a')\nclear_output(wait=True)")) == "a\n"


@pytest.mark.kernel
def test_update_display_data_updates_earlier_output(ks: KernelSession) -> None:
    code = "h = display('one', display_id=True)\ndisplay('other', display_id='x')\nh.update('two')"
    result = ks.execute(code)
    assert result.status == "ok"
    shown = [o["data"]["text/plain"] for o in result.outputs if o["output_type"] == "display_data"]
    assert shown == ["'two'", "'other'"]


@pytest.mark.kernel
def test_simple_cell_is_fast(ks: KernelSession) -> None:
    ks.execute("y = 0")
    start = time.monotonic()
    for _ in range(20):
        assert ks.execute("y += 1").status == "ok"
    assert (time.monotonic() - start) / 20 < 0.1  # a few ms in practice; no fixed sleeps


# --- timeouts, deaths, restarts ---------------------------------------------------------------


@pytest.mark.kernel
def test_timeout_interrupts_and_keeps_state(fresh: KernelSession) -> None:
    fresh.execute("before = 'kept'")
    result = fresh.execute("print('started', flush=True)\nwhile True:\n    pass", timeout=2)
    assert result.status == "timeout"
    assert not result.restarted
    assert result.error is not None and result.error["ename"] == "CellTimeout"
    assert "started" in text_of(result)
    assert 2 <= result.duration_s < 5
    after = fresh.execute("before")
    assert after.status == "ok" and after.outputs[0]["data"]["text/plain"] == "'kept'"


@pytest.mark.kernel
def test_sigint_ignoring_loop_leads_to_restart(fresh: KernelSession) -> None:
    fresh.execute("before = 1")
    old_pid = fresh.pid
    code = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    result = fresh.execute(code, timeout=1)
    assert result.status == "timeout"
    assert result.restarted
    assert "restarted" in result.error["evalue"]  # type: ignore[index]
    assert fresh.pid != old_pid and gone(old_pid)  # type: ignore[arg-type]
    after = fresh.execute("'before' in globals()")
    assert after.status == "ok" and after.outputs[0]["data"]["text/plain"] == "False"


@pytest.mark.kernel
@pytest.mark.parametrize(
    ("code", "reason"),
    [("import os\nos._exit(1)", "exit code 1"), ("import ctypes\nctypes.string_at(0)", "SIGSEGV")],
    ids=["os_exit", "segfault"],
)
def test_kernel_death_is_reported_and_kernel_restarted(fresh: KernelSession, code: str, reason: str) -> None:
    result = fresh.execute(code, timeout=30)
    assert result.status == "died"
    assert result.restarted
    assert result.error is not None and result.error["ename"] == "KernelDied" and reason in result.error["evalue"]
    assert result.duration_s < 10
    assert fresh.is_alive()
    assert fresh.execute("x = 2\nx").outputs[0]["data"]["text/plain"] == "2"


@pytest.mark.kernel
def test_execute_on_dead_kernel_restarts_first(fresh: KernelSession) -> None:
    os.kill(fresh.pid, signal.SIGKILL)  # type: ignore[arg-type]
    psutil.Process(fresh.pid).wait(5)
    assert not fresh.is_alive()
    result = fresh.execute("1 + 1")
    assert result.status == "ok" and result.restarted
    assert result.outputs[0]["data"]["text/plain"] == "2"


@pytest.mark.kernel
def test_output_flood_is_capped(tmp_path: Path) -> None:
    cap = 200_000
    code = textwrap.dedent("""\
        import sys
        print('FIRST')
        line = 'x' * 999 + '\\n'
        for i in range(100_000):
            sys.stdout.write(line)
        print('LAST')
    """)
    with KernelSession(cwd=tmp_path, max_output_bytes=cap) as session:
        result = session.execute(code, timeout=60)
    assert result.status == "ok"
    assert result.truncated_bytes > 90_000_000
    out = text_of(result)
    assert out.startswith("FIRST\nxxx") and out.endswith("xxx\nLAST\n")
    marker = f"\n... [nbdojo: {result.truncated_bytes:,} bytes of output cut] ...\n"
    assert marker in out
    kept = len(out) - len(marker)
    assert cap - 1000 <= kept <= cap
    assert kept + result.truncated_bytes == len("FIRST\n") + 100_000 * 1000 + len("LAST\n")


@pytest.mark.kernel
def test_output_flood_does_not_grow_host_memory(tmp_path: Path) -> None:
    """A 400 MB print flood: the host's peak memory grows by a few MB, not by the flood."""
    host = textwrap.dedent(f"""\
        import resource
        from nbdojo.kernel.session import KernelSession
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        with KernelSession(cwd={str(tmp_path)!r}) as session:
            session.execute("print(1)")
            before = peak()
            flood = "import sys\\nchunk = 'y' * 99_999 + '\\\\n'\\nfor _ in range(4000):\\n    sys.stdout.write(chunk)"
            result = session.execute(flood, timeout=120)
            print(result.status, result.truncated_bytes, peak() - before)
    """)
    done = subprocess.run([sys.executable, "-c", host], capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-2000:]
    status, truncated, grown_mb = done.stdout.split()
    assert status == "ok" and int(truncated) > 100_000_000
    assert int(grown_mb) < 64, f"host memory grew by {grown_mb} MB"


@pytest.mark.kernel
def test_oversized_message_is_dropped_with_a_marker_and_the_channel_reopened(tmp_path: Path) -> None:
    """One 2 MB message over a 1 MB limit (derived from a 10 kB output cap): the host never holds it, the cell
    says so, output sent once the channel is reopened still arrives, and the next cell is heard (zmq itself would not reconnect)."""
    code = "import sys\nprint('before', flush=True)\nsys.stdout.write('x' * 2_000_000)\nsys.stdout.flush()\nimport time; time.sleep(1)\nprint('after')"
    with KernelSession(cwd=tmp_path, max_output_bytes=10_000) as session:
        assert session.max_message_bytes == 1 << 20
        result = session.execute(code, timeout=30)
        assert result.status == "error" and result.error["ename"] == "OutputTooLarge"
        assert "1,048,576-byte limit" in text_of(result, "stderr")
        assert text_of(result) == "before\nafter\n"
        assert text_of(session.execute("print('next')", timeout=30)) == "next\n"


class _SlowPoller:
    """A poller that waits before each poll: a host too busy to read the kernel's output as it comes."""

    def __init__(self, poller: object, delay: float) -> None:
        self._poller, self._delay = poller, delay

    def poll(self, timeout: float | None = None) -> list:
        time.sleep(self._delay)
        return self._poller.poll(timeout)


@pytest.mark.kernel
def test_output_that_came_before_an_oversized_message_is_kept_by_a_slow_host(tmp_path: Path) -> None:
    """'before' and the dropped connection reach a slow host in one poll: it reads 'before' first, then reopens
    the channel (a reopened socket loses what the old one held: 'before' went missing in a loaded test run)."""
    code = ("import sys, time\nprint('before', flush=True)\nsys.stdout.write('x' * 2_000_000)\nsys.stdout.flush()\n"
            "time.sleep(3)\nprint('after')")
    with KernelSession(cwd=tmp_path, max_output_bytes=10_000) as session:
        poller_of = session._poller

        def slow() -> tuple:
            iopub, shell, poller = poller_of()
            return iopub, shell, _SlowPoller(poller, 0.5)

        session._poller = slow
        result = session.execute(code, timeout=60)
        assert result.error["ename"] == "OutputTooLarge"
        assert text_of(result) == "before\nafter\n"


@pytest.mark.kernel
def test_a_bare_nan_in_a_hand_built_message_becomes_null(ks: KernelSession) -> None:
    """The agent rewrites the kernel's packed bytes to put a bare NaN (not JSON) in a display and its metadata."""
    code = textwrap.dedent("""\
        s = get_ipython().kernel.session
        packed = s.pack
        s.pack = lambda m: packed(m).replace(b'"NANHERE"', b'NaN').replace(b'"INFHERE"', b'-Infinity')
        try:
            display({'application/json': {'x': 'NANHERE', 'y': [1, 'INFHERE']}}, metadata={'m': 'NANHERE'}, raw=True)
        finally:
            s.pack = packed
    """)
    result = ks.execute(code, timeout=30)
    assert result.status == "ok"
    [out] = result.outputs
    assert out["data"]["application/json"] == {"x": None, "y": [1, None]} and out["metadata"] == {"m": None}
    json.dumps(out, allow_nan=False)


@pytest.mark.kernel
def test_a_message_too_deep_to_decode_is_dropped_and_the_cell_goes_on(ks: KernelSession) -> None:
    """200,000 nested lists make jupyter_client's decoder raise RecursionError: that message is dropped with a
    note, and the cell's later output, its reply and the next cell all come as usual."""
    code = textwrap.dedent("""\
        s = get_ipython().kernel.session
        packed = s.pack
        s.pack = lambda m: packed(m).replace(b'"DEEPHERE"', b'[' * 200_000 + b']' * 200_000)
        try:
            display({'application/json': {'x': 'DEEPHERE'}, 'text/plain': 'x'}, raw=True)
        finally:
            s.pack = packed
        import time; time.sleep(0.5)
        print('after deep')
    """)
    result = ks.execute(code, timeout=30)
    assert result.status == "ok", result.error
    assert text_of(result) == "after deep\n"
    assert "could not be read (RecursionError) and was dropped" in text_of(result, "stderr")
    assert text_of(ks.execute("print('next')", timeout=30)) == "next\n"


# --- lifecycle ----------------------------------------------------------------------------------


@pytest.mark.kernel
def test_shutdown_leaves_no_process_and_is_idempotent(tmp_path: Path) -> None:
    session = KernelSession(cwd=tmp_path)
    session.start()
    code = textwrap.dedent("""\
        import subprocess
        a = subprocess.Popen(["sleep", "1000"])
        b = subprocess.Popen(["sleep", "1000"], start_new_session=True)
        print(a.pid, b.pid)
    """)
    children = [int(p) for p in text_of(session.execute(code)).split()]
    pids = [session.pid, *children]
    conn_dir = session.connection_file.parent  # type: ignore[union-attr]
    assert all(psutil.pid_exists(p) for p in pids)
    session.shutdown()
    assert all(gone(p) for p in pids)  # type: ignore[arg-type]  # already when shutdown() returns
    assert not conn_dir.exists()
    assert not session.is_alive() and session.pid is None and session.connection_file is None
    session.shutdown()  # idempotent
    with pytest.raises(KernelError):
        session.execute("1")


def test_shutdown_without_start_is_harmless(tmp_path: Path) -> None:
    session = KernelSession(cwd=tmp_path)
    session.shutdown()
    session.shutdown()
    assert not session.is_alive()


@pytest.mark.kernel
def test_connection_uses_ipc_with_short_paths(ks: KernelSession) -> None:
    info = json.loads(ks.connection_file.read_text())  # type: ignore[union-attr]
    assert info["transport"] == "ipc"
    assert len(f"{info['ip']}-{info['shell_port']}") < 100
    assert Path(info["ip"]).is_absolute()


@pytest.mark.kernel
def test_cwd_env_argv_override_and_connection_dir(tmp_path: Path) -> None:
    """`env` is the kernel's whole environment; `argv` may wrap the kernel command (as the sandbox will)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "NBDOJO_TEST_VAR": "from-env"}
    argv = ["env", "NBDOJO_ARGV_VAR=wrapped", sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    work = tmp_path / "work"
    work.mkdir()
    with KernelSession(cwd=work, env=env, argv=argv, connection_dir=tmp_path / "conn") as session:
        assert session.connection_file == tmp_path / "conn" / "kernel.json"
        code = "import os\nprint(os.getcwd(), *map(os.environ.get, ['NBDOJO_TEST_VAR', 'NBDOJO_ARGV_VAR', 'HOME']))"
        cwd, var, wrapped, home = text_of(session.execute(code)).split()
    assert Path(cwd).resolve() == work.resolve()
    assert (var, wrapped, home) == ("from-env", "wrapped", "None")
    assert not (tmp_path / "conn" / "kernel.json").exists()  # cleaned on shutdown


@pytest.mark.kernel
def test_default_spec_runs_this_interpreter(ks: KernelSession) -> None:
    cmdline = psutil.Process(ks.pid).cmdline()
    assert cmdline[0] == sys.executable
    assert cmdline[1:4] == ["-m", "ipykernel_launcher", "-f"]


@pytest.mark.kernel
def test_start_failures_raise_kernel_start_error(tmp_path: Path) -> None:
    with pytest.raises(KernelStartError, match="no-such-kernel"):
        KernelSession(cwd=tmp_path, kernel_name="no-such-kernel").start()
    failing = ["python", "-c", "import sys; print('boom', file=sys.stderr); sys.exit(3)"]
    session = KernelSession(cwd=tmp_path, argv=failing)
    start = time.monotonic()
    with pytest.raises(KernelStartError, match="boom"):
        session.start()
    assert time.monotonic() - start < 10
    session.shutdown()  # after a failed start: still harmless


@pytest.mark.kernel
def test_kernel_dies_with_its_host(tmp_path: Path) -> None:
    """PDEATHSIG: SIGKILL the host (which started the kernel from a short-lived thread) and the kernel goes too."""
    host = textwrap.dedent(f"""\
        import threading, time
        from nbdojo.kernel.session import KernelSession
        session = KernelSession(cwd={str(tmp_path)!r}, connection_dir={str(tmp_path / "conn")!r})
        t = threading.Thread(target=session.start)
        t.start(); t.join()
        time.sleep(0.3)  # the starting thread is gone; the kernel must still be alive
        print(session.pid, session.is_alive(), flush=True)
        time.sleep(1000)
    """)
    proc = subprocess.Popen([sys.executable, "-c", host], stdout=subprocess.PIPE, text=True)
    try:
        pid_text, alive = proc.stdout.readline().split()  # type: ignore[union-attr]
        assert alive == "True"
        pid = int(pid_text)
        assert psutil.pid_exists(pid)
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 5
    while not gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gone(pid)


def test_install_kernelspec(tmp_path: Path) -> None:
    dest = install_kernelspec(user=False, prefix=str(tmp_path))
    spec = json.loads((dest / "kernel.json").read_text())
    assert dest == tmp_path / "share" / "jupyter" / "kernels" / "nbdojo"
    assert spec["argv"][0] == find_toolbox().python  # the agent's toolbox, never nbdojo's own environment
    assert spec["display_name"] == "Python 3 (nbdojo)" and spec["language"] == "python"
    assert uninstall_kernelspec(user=False, prefix=str(tmp_path)) == dest and not dest.exists()
    assert uninstall_kernelspec(user=False, prefix=str(tmp_path)) is None


def test_kernel_install_and_uninstall_from_the_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nbdojo.cli import app

    env = {"JUPYTER_DATA_DIR": str(tmp_path / "data")}
    installed = CliRunner().invoke(app, ["kernel", "install"], env=env)
    assert installed.exit_code == 0 and (tmp_path / "data" / "kernels" / "nbdojo" / "kernel.json").is_file()
    removed = CliRunner().invoke(app, ["kernel", "uninstall"], env=env)
    assert removed.exit_code == 0 and "removed" in removed.stdout
    assert not (tmp_path / "data" / "kernels" / "nbdojo").exists()


# --- the output builder, without a kernel -----------------------------------------------------


def _stream(text: str, name: str = "stdout") -> dict:
    return {"msg_type": "stream", "content": {"name": name, "text": text}, "header": {"msg_type": "stream"}}


def test_outputs_cap_keeps_head_and_tail_and_bounds_memory() -> None:
    out = CellOutputs(cap=100)
    out.add(_stream("H" * 40))
    for _ in range(1000):
        out.add(_stream("é" * 10))  # 20 UTF-8 bytes each
        assert out.head_bytes + out.tail_bytes <= 100 + 20
    out.add(_stream("END"))
    (only,) = out.finish()
    assert only["text"].startswith("H" * 40 + "é" * 5) and only["text"].endswith("END")
    assert "bytes of output cut" in only["text"]
    kept = len(only["text"].split("\n... [")[0].encode()) + len(only["text"].split("] ...\n")[1].encode())
    assert kept + out.dropped == 40 + 1000 * 20 + 3


def test_outputs_under_cap_untouched_and_no_marker() -> None:
    out = CellOutputs(cap=1000)
    out.add(_stream("a"))
    out.add(_stream("b", "stderr"))
    out.add(_stream("c", "stderr"))
    assert out.finish() == [
        {"output_type": "stream", "name": "stdout", "text": "a"},
        {"output_type": "stream", "name": "stderr", "text": "bc"},
    ]
    assert out.dropped == 0
