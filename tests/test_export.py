"""Trajectories as training data: an exported SFT conversation is the one the LLM agent really held."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest
from openai_server import OpenAIServer, tool_call

from nbdojo.actions import parse_action, tool_schemas
from nbdojo.agents.llm import LLMAgent
from nbdojo.env import DojoEnv
from nbdojo.tools.export import episodes, export, read_episode, rl_record, sft_record
from nbdojo.runner import run_episode

pytestmark = pytest.mark.kernel

SUBMISSION = ("import pandas as pd\nt = pd.read_csv(f'{DATA_DIR}/test.csv')\n"
              "pd.DataFrame({'id': t['id'], 'default': 0.3}).to_csv(SUBMISSION_PATH, index=False)\nprint('written')")


@pytest.fixture(scope="module")
def llm_episode(loan_default_data, tmp_path_factory):
    """A short LLM episode against the local OpenAI-compatible server, which records every request."""
    out = tmp_path_factory.mktemp("export")
    with OpenAIServer() as server:
        server.push(
            tool_call("request_info", {"topic": "metric"}, content="What is scored?"),
            tool_call("execute_code", {"code": "print(1 / 0)"}, content="A first, failing cell."),
            tool_call("execute_code", {"code": "print('y' * 7000)"}, content="Long output: the agent cuts it."),
            tool_call("execute_code", {"code": SUBMISSION}),  # no thought: content None
            tool_call("validate", {"path": "submission.csv"}, content="Check it."),
            tool_call("submit", {"path": "submission.csv"}, content="Submit."),
        )
        agent = LLMAgent("test-model", api_key="k", base_url=server.url, context_tokens=200_000)
        with DojoEnv("loan-default", out_dir=out, cell_timeout_s=60, max_steps=10) as env:
            result = run_episode(env, agent, seed=3)
        requests = list(server.requests)
    return result, requests, out


def _normalised(messages):
    """Tool-call ids differ (the server's vs the export's); everything else must match."""
    ids, out = {}, []
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            m["tool_calls"] = [dict(c, id=ids.setdefault(c["id"], f"id{len(ids)}")) for c in m["tool_calls"]]
            m["content"] = m.get("content") or None
        if m["role"] == "tool":
            m["tool_call_id"] = ids[m["tool_call_id"]]
        out.append(m)
    return out


def test_sft_export_is_the_conversation_the_agent_sent(llm_episode):
    result, requests, _ = llm_episode
    record = sft_record(read_episode(result.notebook))
    last = requests[-1]  # the request that produced `submit`: every earlier turn verbatim
    assert _normalised(record["messages"][:-2]) == _normalised(last["messages"])
    assert record["tools"] == tool_schemas() == last["tools"]
    call = record["messages"][-2]["tool_calls"][0]["function"]
    assert call["name"] == "submit" and json.loads(call["arguments"]) == {"path": "submission.csv"}
    assert record["metadata"]["score"] == result.score and record["metadata"]["how"] == "submitted"


def test_every_exported_action_is_a_valid_action_and_rewards_match_the_env(llm_episode):
    result, _, _ = llm_episode
    rl = rl_record(read_episode(result.notebook))
    for step in rl["steps"]:
        parse_action(step["action"])  # raises if not a valid action
    assert [s["action"]["action"] for s in rl["steps"]] == [
        "request_info", "execute_code", "execute_code", "execute_code", "validate", "submit"]
    assert [s["status"] for s in rl["steps"]][1] == "error"
    assert "y" * 7000 in rl["steps"][2]["observation"]  # RL keeps the env's whole observation
    assert [s["reward"] for s in rl["steps"]][:-1] == [0.0] * 5
    assert rl["steps"][-1]["reward"] == rl["reward"] == pytest.approx(result.reward) == result.human_rank
    assert rl["terminated"] and rl["prompt"][1]["content"].startswith("# Loan Default")


def test_filters_skips_and_the_cli(llm_episode, tmp_path):
    result, _, out = llm_episode
    person = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])  # not a trajectory
    nbformat.write(person, str(out / "person.ipynb"))
    replayed = nbformat.read(str(result.notebook), as_version=4)  # as `nbdojo replay` writes it: not a new episode
    replayed.metadata["nbdojo"]["replay_of"] = str(result.notebook)
    nbformat.write(replayed, str(result.notebook.with_name("trajectory.replay.ipynb")))
    found, skipped = episodes([out])
    assert [e.path for e in found] == [result.notebook] and skipped == 2
    counts = export([out], tmp_path / "high.jsonl", min_human_rank=min(1.0, result.human_rank + 0.01))
    assert counts == {"written": 0, "filtered": 1, "skipped": 2, "unverified": 0}
    assert (tmp_path / "high.jsonl").read_text() == ""
    proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "export", str(out), "-f", "rl", "-o",
                           str(tmp_path / "rl.jsonl"), "--submitted-only"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "1 episodes written" in proc.stdout
    rows = (tmp_path / "rl.jsonl").read_text().splitlines()
    assert len(rows) == 1 and json.loads(rows[0])["metadata"]["notebook"] == str(result.notebook)
    bad = subprocess.run([sys.executable, "-m", "nbdojo.cli", "export", str(out), "-f", "dpo"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines() == [
        "error: Unknown export format 'dpo'; use one of: sft, rl, hf."]
