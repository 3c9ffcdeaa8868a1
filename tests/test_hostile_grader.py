"""Attacks on the grader and on the host's records: swapped links and FIFOs, sparse and wide files,
floods of rich output, hostile paths and actions. Each states what must hold, then checks it.

The unit cases drive the trusted reader and the output builder directly (fast); the episode
cases do the same from inside a real sandboxed kernel, as an agent would.
"""

from __future__ import annotations

import os
import threading
import time

import nbformat
import pandas as pd
import pytest

from nbdojo import grading
from nbdojo.env import DojoEnv
from nbdojo.errors import SubmissionError
from nbdojo.kernel.outputs import MAX_OUTPUTS, CellOutputs
from nbdojo.grading.submission import private_copy

MiB = 1024**2


def _perfect(data) -> pd.DataFrame:
    answers = pd.read_csv(data.answers_path)
    return answers[list(data.spec.submission_columns)]


# --------------------------------------------------------------------------- the trusted reader


def test_symlink_fifo_folder_and_sparse_file_are_refused_without_blocking(loan_default_data, tmp_path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    secret = tmp_path / "elsewhere.csv"
    _perfect(loan_default_data).to_csv(secret, index=False)
    (ws / "link.csv").symlink_to(secret)
    os.mkfifo(ws / "fifo.csv")  # opening it for reading would block forever
    (ws / "folder.csv").mkdir()
    with open(ws / "sparse.csv", "wb") as handle:  # 300 MB apparent size, a few KB on disk
        handle.write(b"id,target\n")
        handle.truncate(300 * MiB)
    (ws / "sub").symlink_to(tmp_path)  # a linked folder on the way
    t0 = time.monotonic()
    for name, words in [("link.csv", "symbolic link"), ("fifo.csv", "not a regular file"),
                        ("folder.csv", "folder"), ("sparse.csv", "cap"), ("sub/elsewhere.csv", "symbolic link"),
                        ("missing.csv", "not found")]:
        with pytest.raises(SubmissionError, match=words):
            grading.grade_workspace_file(loan_default_data, ws, name, part="private")
    assert time.monotonic() - t0 < 5


@pytest.mark.parametrize("path", ["sub\x00.csv", "x" * 5000, "../elsewhere.csv", "/etc/passwd", "", ".", 7])
def test_hostile_paths_are_one_line_refusals(loan_default_data, tmp_path, path) -> None:
    with pytest.raises(SubmissionError) as info:
        grading.grade_workspace_file(loan_default_data, tmp_path, path, part="private")
    assert "\n" not in str(info.value) and len(str(info.value)) < 300


def test_the_copy_is_private_and_gone_afterwards(loan_default_data, tmp_path) -> None:
    pd.read_csv(loan_default_data.sample_submission_path).to_csv(tmp_path / "submission.csv", index=False)
    with private_copy(tmp_path, "submission.csv", cap=10 * MiB) as copy:
        assert copy.parent != tmp_path and (copy.parent.stat().st_mode & 0o077) == 0
        assert copy.read_bytes() == (tmp_path / "submission.csv").read_bytes()
    assert not copy.exists()


def test_swapping_a_file_and_a_link_never_grades_the_link_target(loan_default_data, tmp_path) -> None:
    """A racing writer flips submission.csv between a regular file and a link to a file the agent
    cannot read (another episode's perfect submission): no grade ever comes from the link's target."""
    ws = tmp_path / "ws"
    ws.mkdir()
    secret = tmp_path / "other-episode.csv"
    _perfect(loan_default_data).to_csv(secret, index=False)
    sample = pd.read_csv(loan_default_data.sample_submission_path)
    sample.to_csv(ws / "regular.csv", index=False)
    (ws / "link.csv").symlink_to(secret)
    sample.to_csv(ws / "submission.csv", index=False)
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            for source in ("regular.csv", "link.csv"):
                os.link(ws / source, ws / "tmp.csv", follow_symlinks=False)
                os.replace(ws / "tmp.csv", ws / "submission.csv")

    racer = threading.Thread(target=swap, daemon=True)
    racer.start()
    scores = set()
    try:
        for _ in range(150):
            try:
                scores.add(round(grading.grade_workspace_file(loan_default_data, ws, part="private").score, 6))
            except SubmissionError as exc:
                assert "symbolic link" in str(exc)
    finally:
        stop.set()
        racer.join()
    sample_score = round(grading.grade(loan_default_data, ws / "regular.csv").score, 6)
    assert scores <= {sample_score}, scores


def test_a_million_column_header_and_a_huge_value_are_quick_and_short(loan_default_data, tmp_path) -> None:
    wide = tmp_path / "wide"
    wide.mkdir()
    (wide / "submission.csv").write_text(",".join(f"c{i}" for i in range(1_000_000)) + "\n1\n")
    t0 = time.monotonic()
    with pytest.raises(SubmissionError) as info:
        grading.grade_workspace_file(loan_default_data, wide, part="public")
    assert time.monotonic() - t0 < 3 and len(str(info.value)) < 900
    dup = tmp_path / "dup"
    dup.mkdir()
    (dup / "submission.csv").write_text(",".join(["id"] * 10_000) + "\n")
    with pytest.raises(SubmissionError, match="repeats"):
        grading.grade_workspace_file(loan_default_data, dup, part="public")
    flood = tmp_path / "flood"
    flood.mkdir()
    sub = pd.read_csv(loan_default_data.sample_submission_path, dtype=str)
    sub.iloc[0, 1] = "x" * (5 * MiB)
    sub.to_csv(flood / "submission.csv", index=False)
    with pytest.raises(SubmissionError) as info:
        grading.grade_workspace_file(loan_default_data, flood, part="public")
    assert "non-numeric" in str(info.value) and len(str(info.value)) < 900


def test_a_submission_equal_to_a_ladder_entry_ties_it() -> None:
    board = [0.812345, 0.80001, 0.7]  # stored at 6 decimals
    exact = 0.8123449999  # the same entry's score at full precision
    assert grading.position(exact, board, True) == 1
    assert grading.human_rank(exact, board, True) == 1.0
    low = [0.5, 0.412346]
    assert grading.position(0.4123456, low, False) == 1
    assert grading.human_rank(0.4123456, low, False) == 1.0


# --------------------------------------------------------------------------- output floods


def _msg(kind: str, **content) -> dict:
    return {"msg_type": kind, "content": content}


def test_rich_outputs_errors_and_counts_are_capped() -> None:
    out = CellOutputs(cap=1 * MiB)
    out.add(_msg("display_data", data={"image/png": "A" * (100 * MiB), "text/plain": "<Figure>"}, metadata={}))
    out.add(_msg("execute_result", data={"text/plain": "y" * (50 * MiB)}, metadata={}, execution_count=3))
    out.add(_msg("error", ename="ValueError", evalue="e" * (50 * MiB), traceback=["frame\n"] * 100_000))
    for i in range(2 * MAX_OUTPUTS):
        out.add(_msg("display_data", data={"text/plain": str(i)}, metadata={}))
    for bad in (_msg("display_data", data=["not", "a", "bundle"]), _msg("stream", name="stdout", text=None),
                _msg("display_data", data={"image/png": {"x": object()}}), {"msg_type": "error", "content": 5},
                _msg("update_display_data", data=None, transient={"display_id": 3})):
        out.add(bad)
    outputs = [nbformat.from_dict(o) for o in out.finish()]
    size = len(nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=outputs)])))
    assert size < 12 * MiB, size
    assert "image/png" not in outputs[0]["data"] and "dropped" in outputs[0]["data"]["text/plain"]
    error = next(o for o in outputs if o["output_type"] == "error")
    assert len(error["evalue"]) < 30_000 and len(error["traceback"]) <= 101
    assert "more outputs dropped" in outputs[-1]["text"]
    nbformat.validate(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(outputs=outputs)]))


def test_update_display_data_is_capped_too() -> None:
    out = CellOutputs(cap=1 * MiB)
    out.add(_msg("display_data", data={"text/plain": "v1"}, metadata={}, transient={"display_id": "d"}))
    for _ in range(20):
        out.add(_msg("update_display_data", data={"image/png": "B" * (3 * MiB)}, metadata={},
                     transient={"display_id": "d"}))
    (only,) = out.finish()
    assert len(only["data"].get("image/png", "")) == 3 * MiB  # each update replaces the last: no build-up
    out.add(_msg("update_display_data", data={"image/png": "C" * (10 * MiB)}, metadata={},
                 transient={"display_id": "d"}))
    (only,) = out.finish()
    assert "image/png" not in only["data"]


# --------------------------------------------------------------------------- from a real sandboxed kernel


@pytest.fixture(scope="module")
def episode(loan_default_data, tmp_path_factory):
    env = DojoEnv("loan-default", out_dir=tmp_path_factory.mktemp("grader-attacks"), agent="hostile",
                  cell_timeout_s=20, output_bytes=1 * MiB, max_steps=400, max_validations=400)
    env.reset(seed=0)
    yield env
    env.close()


def _run(env: DojoEnv, code: str):
    obs, _, terminated, truncated, info = env.step({"action": "execute_code", "code": code})
    assert not terminated and not truncated
    return obs, info


@pytest.mark.kernel
def test_step_never_raises_on_hostile_paths_and_actions(episode) -> None:
    env = episode
    _run(env, "import os\nos.mkfifo('pipe.csv')\nos.symlink('/etc/passwd', 'passwd.csv')")
    for path in ("a\x00b.csv", "p" * 5000, "../../x.csv", "pipe.csv", "passwd.csv", "/etc/passwd"):
        for action in ("validate", "submit"):
            t0 = time.monotonic()
            obs, reward, terminated, truncated, info = env.step({"action": action, "path": path})
            assert time.monotonic() - t0 < 10, path
            assert info["status"] == "invalid" and not terminated and reward == 0.0, (path, obs)
            assert len(obs) < 1000
    for action in ({"action": "x" * 10_000_000}, {"action": "execute_code", "code": "1", "junk": "j" * 10**7},
                   {"action": "execute_code", "code": "#" * 2_000_000}, {"action": "validate", "path": 10**5000},
                   "{" * 1_000_000, {"action": {"nested": [[[]]]}}):
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["status"] == "invalid" and len(obs) < 2000
    assert env.notebook_path.stat().st_size < 2 * MiB
    nbformat.validate(nbformat.read(str(env.notebook_path), as_version=4))


@pytest.mark.kernel
def test_a_fifo_swapped_in_by_a_background_process_never_hangs_the_host(episode, loan_default_data) -> None:
    env = episode
    sample = loan_default_data.sample_submission_path
    _run(env, f"""
import os, shutil, subprocess, sys
shutil.copy({str(sample)!r}, 'good.csv')
os.mkfifo('fifo.csv')
swap = '''
import os
while True:
    for src in ("good.csv", "fifo.csv"):
        os.link(src, "t.csv", follow_symlinks=False); os.replace("t.csv", "submission.csv")
'''
racer = subprocess.Popen([sys.executable, '-c', swap])
""")
    t0 = time.monotonic()
    statuses = set()
    for _ in range(40):
        obs, _, terminated, _, info = env.step({"action": "validate"})
        statuses.add(info["status"])
        assert not terminated
    assert time.monotonic() - t0 < 60 and statuses <= {"ok", "invalid"}
    _run(env, "racer.kill(); racer.wait(); os.remove('submission.csv')")


@pytest.mark.kernel
def test_a_flood_of_rich_output_keeps_the_notebook_small(episode) -> None:
    import resource

    env = episode
    before = env.notebook_path.stat().st_size
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # bytes (Linux reports KiB)
    obs, info = _run(env, """
from IPython.display import display, Image
import base64
display({'image/png': base64.b64encode(b'P' * 30_000_000).decode()}, raw=True)
raise ValueError('E' * 20_000_000)
""")
    assert info["status"] == "error" and len(obs) < 20_000
    peak_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    assert peak_after - peak_before < 1024**3, "the host grew by over 1 GB during one step"
    after = env.notebook_path.stat().st_size
    assert after - before < 8 * MiB, after - before
    nb = nbformat.read(str(env.notebook_path), as_version=4)
    nbformat.validate(nb)
