"""nbdojo as a verifiers environment, run by verifiers' own eval runner against a real OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import nbformat
import psutil
import pytest

from nbdojo.errors import ConfigError, UnknownCompetitionError
from nbdojo.integrations.verifiers import load_environment
from nbdojo.notebook import nbdojo_meta
from nbdojo.trajectory import VERIFIED, verification
from openai_server import OpenAIServer, error, tool_call

# Seed 0 submits a fitted model, seed 1 the constant 0.5: two different grades.
WRITE = (
    "import pandas as pd\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "train, test = pd.read_csv(f'{DATA_DIR}/train.csv'), pd.read_csv(f'{DATA_DIR}/test.csv')\n"
    "cols = [c for c in test.columns if c != 'id' and pd.api.types.is_numeric_dtype(test[c])]\n"
    "p = LogisticRegression(max_iter=300).fit(train[cols].fillna(0), train['default'])"
    ".predict_proba(test[cols].fillna(0))[:, 1] if SEED == 0 else 0.5\n"
    "pd.DataFrame({'id': test['id'], 'default': p}).to_csv(SUBMISSION_PATH, index=False)\n"
)
PLAY = [tool_call("execute_code", {"code": WRITE}, content="Fit, then write the submission."),
        tool_call("validate"), tool_call("submit")]


def policy(body: dict) -> dict:
    """The same three actions in every conversation, by how far it has got (rollouts run concurrently)."""
    done = sum(m["role"] == "assistant" for m in body["messages"])
    return PLAY[min(done, len(PLAY) - 1)]


def kernels_running() -> list[psutil.Process]:
    """Live kernels below this process. A zombie (an earlier test's child not yet reaped) or a process gone
    meanwhile is none, and must not raise: psutil's cmdline() raises ZombieProcess on a zombie."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def evaluate(env, server: OpenAIServer, out, monkeypatch) -> list:
    """verifiers' own evaluation entry point (what `vf-eval` runs), in this process, no dashboard or upload."""
    from verifiers.v1 import EvalClientConfig
    from verifiers.v1.cli.eval.runner import run_eval
    from verifiers.v1.configs.cli.eval import EvalConfig

    monkeypatch.setenv("VF_RUN_ID", "nbdojo-test")  # run_eval exports its run id; keep it out of other tests
    monkeypatch.setenv("NBDOJO_TEST_KEY", "sk-test")
    config = EvalConfig(env=env.config, model="test-model", push=False, rich=None, output_dir=out, max_concurrent=2,
                        client=EvalClientConfig(base_url=server.url, api_key_var="NBDOJO_TEST_KEY"))
    return asyncio.run(run_eval(config))


@pytest.mark.kernel
def test_two_rollouts_are_rewarded_with_their_notebooks_signed_grades(loan_default_data, tmp_path, monkeypatch):
    env = load_environment(["loan-default"], [0, 1], out_dir=tmp_path / "runs", max_steps=6, cell_timeout_s=120)
    with OpenAIServer(policy=policy) as server:
        episodes = evaluate(env, server, tmp_path / "vf", monkeypatch)
    traces = [trace for episode in episodes for trace in episode.traces]
    assert len(traces) == 2 and all(trace.ok for trace in traces), [t.errors for t in traces]
    grades = {}
    for trace in traces:
        nb = nbformat.read(trace.info["nbdojo"]["notebook"], as_version=4)
        meta = nbdojo_meta(nb)
        assert verification(nb) == VERIFIED and meta["final"]["how"] == "submitted"
        assert meta["reward"]["mode"] == "final"
        assert trace.reward == meta["final"]["human_rank"]  # the rollout's reward is the signed grade
        assert trace.metrics["human_rank"] == meta["final"]["human_rank"] and trace.metrics["verified"] == 1.0
        assert trace.num_turns == 3  # every model call went through verifiers' interception
        grades[meta["seed"]] = meta["final"]["score"]
    assert set(grades) == {0, 1} and grades[1] == pytest.approx(0.5) and grades[0] > 0.55
    tools = {tool["function"]["name"] for tool in server.requests[0]["tools"]}
    assert {"execute_code", "validate", "submit", "request_info"} <= tools  # nbdojo's actions are the tools
    (written,) = (tmp_path / "vf").rglob("traces.jsonl")  # verifiers' own record of the rollouts
    assert len(written.read_text().splitlines()) == 2
    assert not kernels_running()


@pytest.mark.kernel
def test_a_rollout_that_fails_closes_its_episode_and_kernel(loan_default_data, tmp_path, monkeypatch):
    env = load_environment(["loan-default"], [0], out_dir=tmp_path / "runs", reward="shaped", max_steps=6)
    with OpenAIServer(policy=lambda body: error(401, "bad key")) as server:
        (episode,) = evaluate(env, server, tmp_path / "vf", monkeypatch)
    (trace,) = episode.traces
    assert not trace.ok and trace.errors and not trace.reward
    nb = nbformat.read(trace.info["nbdojo"]["notebook"], as_version=4)
    meta = nbdojo_meta(nb)
    assert meta["ended"] and meta["final"] is None and meta["reward"]["mode"] == "shaped"
    assert nb.cells[-1].metadata["nbdojo"]["action"] == "closed"
    assert not kernels_running()


@pytest.mark.kernel
def test_a_timed_out_rollout_stops_its_episode_before_the_next_action(loan_default_data, tmp_path, monkeypatch):
    env = load_environment(["loan-default"], [0], out_dir=tmp_path / "runs", max_steps=6)
    env.config.agent.timeout.rollout = 8  # verifiers cancels the harness 8 s in (the kernel starts in ~1-3 s),
    sleepy = tool_call("execute_code", {"code": "import time; time.sleep(12); print('slept')"})  # in this cell
    with OpenAIServer(policy=lambda body: sleepy) as server:
        (episode,) = evaluate(env, server, tmp_path / "vf", monkeypatch)
    (trace,) = episode.traces
    assert trace.is_timeout and trace.reward == 0.0
    nb = nbformat.read(trace.info["nbdojo"]["notebook"], as_version=4)
    assert nbdojo_meta(nb)["ended"] and len(server.requests) == 1  # no action after the cancel
    actions = [nbdojo_meta(cell).get("action") for cell in nb.cells]
    assert actions[-3:] == ["execute_code", "interrupted", "closed"]  # the running cell was let finish...
    assert "slept" in nb.cells[-3].outputs[0]["text"]  # ...then the episode was closed
    assert not kernels_running()


def test_bad_settings_are_one_line_errors(tmp_path):
    with pytest.raises(UnknownCompetitionError, match="Did you mean"):
        load_environment(["loan-defualt"])
    with pytest.raises(ConfigError, match="Unknown reward mode"):
        load_environment(["loan-default"], reward="dense")
    with pytest.raises(ConfigError, match="^Bad episode limits: .*max_stepz"):
        load_environment(["loan-default"], max_stepz=3)
    with pytest.raises(ConfigError, match="seeds must be"):
        load_environment(["loan-default"], seeds=[-1])
    with pytest.raises(ConfigError, match="agent_mode must be one of auto, tools, json"):
        load_environment(["loan-default"], agent_mode="xml")


def test_without_the_extra_the_error_names_it():
    code = ("import sys; sys.modules['verifiers'] = None\n"
            "from nbdojo.integrations.verifiers import load_environment\n"
            "try:\n    load_environment()\nexcept Exception as exc:\n    print(type(exc).__name__, exc)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.strip()
    assert out == "MissingExtraError nbdojo's verifiers environment needs the 'verifiers' package: " \
                  "pip install 'nbdojo[verifiers]'"
