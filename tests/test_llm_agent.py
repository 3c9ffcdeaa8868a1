"""The LLM agent through the real `openai` client against a real local HTTP server speaking the OpenAI API.

Fast tests drive `act()` directly; the `kernel` tests play whole episodes in a real env.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import nbformat
import pytest
from openai_server import OpenAIServer, error, observations, slow, text, tool_call

from nbdojo.actions import parse_action
from nbdojo.agents import make_agent
from nbdojo.agents.context import Conversation, key_facts
from nbdojo.agents.llm import LLMAgent
from nbdojo.errors import AgentError, ConfigError, InvalidActionError
from nbdojo.agents.pricing import PriceTable

SPEC = {"id": "loan-default", "task": "binary", "metric": "roc_auc", "higher_is_better": True, "id_column": "id",
        "target_columns": ["default"], "prediction": "probability"}
BUDGET = {"steps_left": 10, "seconds_left": 900, "validations_left": 5, "cell_timeout_s": 30.0}
WELCOME = "# Loan Default Prediction\nPredict the probability of default. Metric: ROC AUC."
PRICES = PriceTable({"test-model": {"input": 1.0, "output": 2.0}}, builtin=False)  # USD per 1M tokens


@pytest.fixture
def server():
    """A local OpenAI-compatible server; push replies with `server.push(...)` or set `server.policy`."""
    with OpenAIServer() as srv:
        yield srv
    assert not srv.protocol_errors, srv.protocol_errors


def new_agent(server: OpenAIServer, **options) -> LLMAgent:
    options = {"api_key": "test-key", "base_url": server.url, "prices": PRICES, "backoff_base": 0.001, **options}
    agent = LLMAgent("test-model", **options)
    agent.delays = []
    agent._sleep = agent.delays.append  # record backoff instead of sleeping
    agent.reset(WELCOME, {"spec": SPEC, "budget": BUDGET, "step": 0, "status": "ok", "action": "reset"})
    return agent


def info(step: int, status: str = "ok", action: str = "execute_code") -> dict:
    return {"step": step, "status": status, "action": action, "budget": {**BUDGET, "steps_left": 10 - step}}


# ----- requests and replies -------------------------------------------------------------

def test_a_tool_call_becomes_an_action_and_the_text_before_it_the_thought(server):
    server.push(tool_call("execute_code", {"code": "print(1)"}, content="Start small.", usage=(1200, 30)))
    agent = new_agent(server)
    action = agent.act(WELCOME, info(0, action="reset"))
    assert action == {"action": "execute_code", "code": "print(1)", "thought": "Start small."}
    body = server.requests[0]
    assert body["model"] == "test-model" and body["temperature"] == 0.0
    assert {t["function"]["name"] for t in body["tools"]} == {
        "request_info", "execute_code", "validate", "submit", "restart_kernel", "get_history"}
    system, first = body["messages"][0]["content"], body["messages"][1]["content"]
    assert "roc_auc (higher is better)" in system and "target column(s): default" in system
    assert "One action per turn" in system and "no internet" in system and "submission.csv" in system
    assert "10 steps" in system and "5 public scorings" in system
    assert first == WELCOME and len(body["messages"]) == 2
    assert agent.usage() == {"prompt_tokens": 1200, "completion_tokens": 30, "cost": pytest.approx(1260e-6)}
    assert agent.usage() is None  # nothing since the last call


def test_the_observation_goes_back_as_the_tool_result_with_the_budget_left(server):
    server.push(tool_call("execute_code", {"code": "x = 1"}), tool_call("validate", {}))
    agent = new_agent(server)
    agent.act(WELCOME, info(0, action="reset"))
    action = agent.act("[step 1] In [1] -> ok in 0.1s\n(no output)", info(1))
    assert action == {"action": "validate", "path": "submission.csv"}
    messages = server.requests[1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool"]
    assert messages[3]["tool_call_id"] == messages[2]["tool_calls"][0]["id"]
    assert messages[3]["content"].startswith("[step 1] In [1] -> ok")
    assert "[budget left: 9 steps" in messages[3]["content"]


def test_json_mode_sends_no_tools_and_parses_fenced_and_bare_json(server):
    server.push(text('I will look at the data first.\n```json\n{"action": "request_info", "topic": "data"}\n```'),
                text('Now the code. {"action": "execute_code", "code": "print(2)"}'))
    agent = new_agent(server, mode="json")
    first = agent.act(WELCOME, info(0, action="reset"))
    assert first == {"action": "request_info", "topic": "data", "thought": "I will look at the data first."}
    second = agent.act("| file | size |", info(1, action="request_info"))
    assert second == {"action": "execute_code", "code": "print(2)", "thought": "Now the code."}
    assert all("tools" not in body for body in server.requests)
    assert "```json" in server.requests[0]["messages"][0]["content"]
    assert [m["role"] for m in server.requests[1]["messages"]] == ["system", "user", "assistant", "user"]


def test_auto_mode_falls_back_to_json_when_the_server_refuses_tools(server):
    server.push(error(400, "this model does not support tools"),
                text('```json\n{"action": "get_history"}\n```'), text('{"action": "submit"}'))
    agent = new_agent(server)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "get_history"}
    assert agent.act("No steps yet.", info(1, action="get_history"))["action"] == "submit"
    assert "tools" in server.requests[0] and all("tools" not in b for b in server.requests[1:])
    assert "```json fenced block" in server.requests[1]["messages"][0]["content"]


def test_auto_mode_accepts_a_json_action_in_text_from_a_tool_server(server):
    server.push(text('Checking. {"action": "validate"}'))
    agent = new_agent(server)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "validate", "path": "submission.csv",
                                                          "thought": "Checking."}
    assert "tools" in server.requests[0]


def test_tools_mode_refused_tools_is_one_clear_error(server):
    server.push(error(400, "tools are not supported"))
    agent = new_agent(server, mode="tools")
    with pytest.raises(AgentError, match="refused the request: HTTP 400: .*tools are not supported"):
        agent.act(WELCOME, info(0, action="reset"))


def test_a_temperature_the_model_refuses_is_dropped(server):
    server.push(error(400, "Unsupported value: 'temperature' does not support 0.0"), tool_call("get_history"))
    agent = new_agent(server)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "get_history"}
    assert "temperature" in server.requests[0] and "temperature" not in server.requests[1]


# ----- replies without a valid action ------------------------------------------------------

def test_a_reply_without_an_action_gets_one_corrective_turn(server):
    server.push(text("Let me think about the data...", usage=(900, 10)),
                tool_call("request_info", {"topic": "data"}, usage=(950, 20)),
                tool_call("get_history"))
    agent = new_agent(server)
    action = agent.act(WELCOME, info(0, action="reset"))
    assert action == {"action": "request_info", "topic": "data"}
    retry = server.requests[1]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert retry[2]["content"] == "Let me think about the data..."
    assert retry[3]["content"].startswith("Your reply had no valid action: No JSON action was found")
    assert "Reply with exactly one action" in retry[3]["content"]
    usage = agent.usage()
    assert usage["prompt_tokens"] == 1850 and usage["completion_tokens"] == 30
    # The failed exchange is not kept: the next request holds only the good reply.
    agent.act("data listing", info(1, action="request_info"))
    assert [m["role"] for m in server.requests[2]["messages"]] == ["system", "user", "assistant", "tool"]


def test_a_malformed_tool_call_is_corrected_through_a_tool_message(server):
    server.push(tool_call("execute_code", '{"code": "print(1)'),  # arguments cut short: not JSON
                tool_call("execute_code", {"code": "print(1)"}))
    agent = new_agent(server)
    assert agent.act(WELCOME, info(0, action="reset"))["code"] == "print(1)"
    retry = server.requests[1]["messages"]
    assert retry[-1]["role"] == "tool" and "are not valid JSON" in retry[-1]["content"]


def test_two_bad_replies_become_an_invalid_step_not_a_crash(server):
    server.push(text("Hmm."), text('{"action": "execute_code"}'), tool_call("get_history"))
    agent = new_agent(server)
    raw = agent.act(WELCOME, info(0, action="reset"))
    assert raw == {"action": "execute_code"}
    with pytest.raises(InvalidActionError):  # the env records it as an invalid step
        parse_action(raw)
    agent.act("[step 1] Invalid action. execute_code needs non-empty 'code'.", info(1, "invalid", "invalid"))
    messages = server.requests[2]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[3]["content"].startswith("[step 1] Invalid action")


def test_a_reply_with_no_json_at_all_is_kept_as_the_invalid_steps_raw_text(server):
    server.push(text("I give up."), text("Still nothing."))
    raw = new_agent(server).act(WELCOME, info(0, action="reset"))
    assert raw == {"reply": "Still nothing."}


def test_only_the_first_of_several_tool_calls_runs_and_the_model_is_told(server):
    server.push(tool_call("execute_code", {"code": "a = 1"}, extra_calls=[("validate", {})]), tool_call("submit"))
    agent = new_agent(server)
    assert agent.act(WELCOME, info(0, action="reset"))["code"] == "a = 1"
    agent.act("[step 1] ok", info(1))
    messages = server.requests[1]["messages"]
    assert len(messages[2]["tool_calls"]) == 1
    assert "Only your first tool call was run; 1 more were ignored" in messages[3]["content"]


# ----- transient failures ------------------------------------------------------------------

def test_429_is_retried_after_the_servers_retry_after(server):
    server.push(error(429, "slow down", headers={"Retry-After": "0.25"}), tool_call("get_history"))
    agent = new_agent(server)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "get_history"}
    assert agent.delays == [0.25] and len(server.requests) == 2


def test_500s_are_retried_with_exponential_backoff_and_jitter(server):
    server.push(error(500), error(502), error(503), tool_call("get_history"))
    agent = new_agent(server, backoff_base=1.0, backoff_max=3.0)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "get_history"}
    first, second, third = agent.delays
    assert 0.5 <= first <= 1.5 and 1.0 <= second <= 3.0 and 1.5 <= third <= 4.5  # 1, 2, min(4, 3) s ± 50%


def test_a_timeout_is_retried(server):
    # the retry must come back within the timeout: 1 s, not less, leaves a busy test process (a GC pause, two
    # loaded cores) room to answer a local request
    server.push(slow(2.0, tool_call("submit")), tool_call("get_history"))
    agent = new_agent(server, request_timeout=1.0)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "get_history"}
    assert len(agent.delays) == 1


def test_after_max_retries_the_agent_raises_agent_error(server):
    server.push(*[error(500, "boom")] * 3)
    agent = new_agent(server, max_retries=2)
    with pytest.raises(AgentError, match="failed 3 times in a row; last error: HTTP 500: boom"):
        agent.act(WELCOME, info(0, action="reset"))


def test_a_dropped_connection_is_retried_then_reported():
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    agent = LLMAgent("m", base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=2, backoff_base=0.001)
    agent._sleep = lambda s: None
    agent.reset(WELCOME, {"spec": SPEC, "budget": BUDGET})
    with pytest.raises(AgentError, match="failed 3 times in a row"):
        agent.act(WELCOME, info(0))
    with pytest.raises(AgentError, match=f"cannot reach the model server at http://127.0.0.1:{port}/v1"):
        agent.check_connection()


# ----- configuration, connection, usage ----------------------------------------------------

def test_the_key_and_url_come_from_the_environment(monkeypatch, server):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="No API key .* OPENAI_API_KEY"):
        LLMAgent("gpt-4o-mini")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url)
    agent = make_agent("llm", model="test-model")
    assert agent.base_url == server.url and agent.name == "llm" and agent.model == "test-model"
    agent.check_connection()
    assert server.model_list_calls == 1
    with pytest.raises(ConfigError, match="mode must be one of"):
        LLMAgent("m", api_key="k", mode="xml")


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_server_without_a_model_list_passes_the_preflight_and_plays(status):
    with OpenAIServer(models_status=status) as srv:
        srv.push(tool_call("request_info", {"topic": "data"}))
        agent = new_agent(srv)
        agent.check_connection()  # reachable: chat completions work without GET /models
        assert srv.model_list_calls == 1
        assert agent.act(WELCOME, info(0, action="reset")) == {"action": "request_info", "topic": "data"}


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_still_fails_the_preflight_in_one_line(status):
    with OpenAIServer(models_status=status) as srv:
        with pytest.raises(AgentError) as caught:
            new_agent(srv).check_connection()
        assert str(caught.value) == (f"the model server at {srv.url} refused the API key: "
                                     f"HTTP {status}: GET /models answers {status} here")
        assert srv.requests == []  # nothing was asked of the model


@pytest.mark.slow  # the real CLI, in a subprocess
def test_a_refused_key_is_one_line_from_the_cli_before_any_kernel(tmp_path):
    with OpenAIServer(models_status=401) as srv:
        url = srv.url
        proc = subprocess.run([sys.executable, "-m", "nbdojo.cli", "run", "loan-default", "--agent", "llm",
                               "--model", "test-model", "--base-url", url, "--out", str(tmp_path)],
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "OPENAI_API_KEY": "test-key", "COLUMNS": "400"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: the model server at {url} refused the API key: "
                                                "HTTP 401: GET /models answers 401 here"]
    assert not list(tmp_path.iterdir())


def test_a_server_that_is_not_there_still_fails_the_preflight_in_one_line():
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    agent = LLMAgent("m", base_url=url, api_key="k")
    with pytest.raises(AgentError) as caught:
        agent.check_connection()
    message = str(caught.value)
    assert message.startswith(f"cannot reach the model server at {url}: ") and "\n" not in message, message


def test_usage_without_server_figures_is_estimated(server):
    server.push(tool_call("get_history", usage=None))
    agent = new_agent(server, prices=PriceTable({"test-model": (1.0, 1.0)}))
    agent.act(WELCOME, info(0, action="reset"))
    usage = agent.usage()
    sent = len(json.dumps(server.requests[0]["messages"])) + len(json.dumps(server.requests[0]["tools"]))
    assert 0.5 * sent / 4 < usage["prompt_tokens"] < 1.5 * sent / 4
    assert usage["completion_tokens"] > 0 and usage["cost"] > 0


def test_a_prompt_too_long_for_the_server_is_cut_and_sent_again(server):
    server.push(error(400, "This model's maximum context length is 8192 tokens"), tool_call("get_history"))
    agent = new_agent(server, context_tokens=10000)
    assert agent.act(WELCOME, info(0, action="reset")) == {"action": "get_history"}
    assert agent._conv.context_tokens == 6000


# ----- context management ------------------------------------------------------------------

def test_key_facts_keep_errors_and_scores():
    tb = "[step 3] In [3] -> error in 0.1s\nTraceback (most recent call last):\n  File x\nKeyError: 'income'"
    assert key_facts(tb, "error") == "KeyError: 'income'"
    cv = "[step 4] In [4] -> ok in 9.0s\n(40000, 20)\n3-fold CV (roc_auc): 0.7712 ± 0.0040\ndone"
    assert key_facts(cv, "ok") == "3-fold CV (roc_auc): 0.7712 ± 0.0040"
    assert key_facts("[step 5] In [5] -> ok in 0.1s\nhello\nworld", "ok") == "hello"


def _played(conv: Conversation, steps: int, obs_chars: int) -> None:
    for step in range(1, steps + 1):
        action = {"action": "execute_code", "code": f"# step {step}\nscore_{step} = {step}\nprint(score_{step})"}
        call = {"id": f"call_{step}", "type": "function",
                "function": {"name": "execute_code", "arguments": json.dumps({"code": action["code"]})}}
        conv.add_reply(step, action, {"role": "assistant", "content": f"thinking {step}", "tool_calls": [call]})
        obs = f"[step {step}] In [{step}] -> ok in 0.1s\nCV score: 0.{step:04d}\n" + "x" * obs_chars
        conv.add_observation(obs, status="ok")


def test_old_steps_are_summarised_and_recent_steps_kept_verbatim():
    conv = Conversation("system prompt", "the competition", context_tokens=4000, max_output_chars=1500)
    _played(conv, 30, obs_chars=1000)
    messages = conv.messages()
    assert messages[0] == {"role": "system", "content": "system prompt"}
    first = messages[1]["content"]
    assert first.startswith("the competition\n\n## Earlier steps (summarised")
    assert "step 1: execute_code `score_1 = 1` (3 lines) -> ok: CV score: 0.0001" in first
    kept = [m for m in messages[2:] if m["role"] == "assistant"]
    assert 2 <= len(kept) < 30 and kept[-1]["content"] == "thinking 30"
    summarised = first.count("\nstep ")
    assert summarised + len(kept) == 30  # every step is either summarised or verbatim
    assert f"step {30 - len(kept)}:" in first and f"step {31 - len(kept)}:" not in first
    assert conv.estimate_tokens(messages) <= 3000  # 4000 minus the reply reserve
    assert all(m["role"] == "tool" for m in messages[3::2])


def test_everything_fits_so_nothing_is_summarised():
    conv = Conversation("s", "c", context_tokens=32000)
    _played(conv, 5, obs_chars=100)
    messages = conv.messages()
    assert messages[1]["content"] == "c" and len(messages) == 2 + 10


def test_long_observations_are_cut_in_the_middle():
    conv = Conversation("s", "c", context_tokens=32000, max_output_chars=2000)
    _played(conv, 1, obs_chars=50_000)
    content = conv.messages()[-1]["content"]
    assert len(content) < 2200 and "characters cut from the middle" in content and content.startswith("[step 1]")


def test_a_single_huge_step_is_shrunk_to_fit():
    conv = Conversation("s", "c", context_tokens=2048, max_output_chars=100_000)
    _played(conv, 1, obs_chars=50_000)
    messages = conv.messages()
    assert conv.estimate_tokens(messages) <= 2048 and "cut from the middle" in messages[-1]["content"]


def test_calibration_uses_the_servers_token_counts():
    conv = Conversation("s", "c", context_tokens=10_000)
    conv.calibrate(chars_sent=30_000, prompt_tokens=10_000)
    assert conv.chars_per_token == 3.0 and conv.budget_chars == int((10_000 - 2500) * 3.0)


# ----- whole episodes in a real env --------------------------------------------------------

WRITE_SUBMISSION = """import pandas as pd
from sklearn.linear_model import LogisticRegression

train = pd.read_csv(f"{DATA_DIR}/train.csv")
test = pd.read_csv(f"{DATA_DIR}/test.csv")
cols = ["interest_rate", "term_months", "loan_amount", "credit_history_years", "inquiries_6m"]
model = LogisticRegression(max_iter=500).fit(train[cols], train["default"])
pd.DataFrame({"id": test["id"], "default": model.predict_proba(test[cols])[:, 1]}).to_csv(SUBMISSION_PATH, index=False)
print("wrote", len(test), "rows")"""


@pytest.mark.kernel
def test_a_whole_episode_survives_server_failures_and_records_thoughts_and_usage(loan_default_data, tmp_path, server):
    from nbdojo.env import DojoEnv
    from nbdojo.runner import run_episode

    server.push(
        tool_call("request_info", {"topic": "data"}, content="First, what do the files hold?", usage=(2000, 40)),
        error(429, headers={"Retry-After": "0.1"}),
        tool_call("execute_code", {"code": "import pandas as pd\nprint(pd.read_csv(f'{DATA_DIR}/train.csv').shape)"},
                  content="Load the training data.", usage=(3000, 60)),
        error(500, "upstream crashed"),
        text("I am not sure what to do next.", usage=(3500, 20)),  # no action: a corrective turn follows
        tool_call("execute_code", {"code": WRITE_SUBMISSION}, content="A small logistic regression.",
                  usage=(3600, 200)),
        tool_call("execute_code", '{"code": "print(1)'),  # malformed twice: an invalid step, the episode goes on
        text("{not json at all", usage=(4000, 5)),
        tool_call("validate", {}, content="Check the file.", usage=(4100, 10)),
        tool_call("submit", {}, content="Submit it.", usage=(4200, 10)),
    )
    agent = new_agent(server)
    with DojoEnv("loan-default", out_dir=tmp_path, cell_timeout_s=60, max_steps=10) as env:
        result = run_episode(env, agent, seed=0)
    assert result.terminated and not result.truncated and result.steps == 6
    assert 0.6 < result.score < 0.95
    assert agent.delays[0] == 0.1 and len(agent.delays) == 2
    nb = nbformat.read(str(result.notebook), as_version=4)
    nbformat.validate(nb)
    steps = [c for c in nb.cells if c.metadata.get("nbdojo", {}).get("step")]
    thoughts = [c.source for c in steps if c.metadata["nbdojo"]["action"] == "thought"]
    assert thoughts == ["First, what do the files hold?", "Load the training data.", "A small logistic regression.",
                        "Check the file.", "Submit it."]
    code = [c for c in steps if c.metadata["nbdojo"]["action"] == "execute_code"]
    assert [c.metadata["nbdojo"]["status"] for c in code] == ["ok", "ok"]
    assert code[1].source == WRITE_SUBMISSION and "wrote 75000 rows" in code[1].outputs[0]["text"]
    invalid = [c for c in steps if c.metadata["nbdojo"]["action"] == "invalid"]
    assert len(invalid) == 1 and invalid[0].metadata["nbdojo"]["raw"] == {"reply": "{not json at all"}
    usage = {c.metadata["nbdojo"]["step"]: c.metadata["nbdojo"]["usage"] for c in steps
             if "usage" in c.metadata["nbdojo"]}
    assert usage[1] == {"prompt_tokens": 2000, "completion_tokens": 40, "cost": pytest.approx(2080e-6)}
    assert usage[3]["prompt_tokens"] == 3500 + 3600  # the corrective turn counts with the step it led to
    assert usage[4]["prompt_tokens"] == 1000 + 4000  # default usage of the malformed tool call + the text
    total = nb.metadata["nbdojo"]["usage"]
    assert total["prompt_tokens"] == sum(u["prompt_tokens"] for u in usage.values()) == 25_400
    assert total["cost"] == pytest.approx((25_400 * 1.0 + 395 * 2.0) / 1e6)
    assert result.usage == total
    assert nb.metadata["nbdojo"]["agent"] == "llm" and nb.metadata["nbdojo"]["model"] == "test-model"


def _adaptive(body: dict) -> dict:
    """A policy that plays like a model: look, write a submission, fix what fails, validate, submit."""
    seen = observations(body)
    last = seen[-1] if seen else ""
    if not seen:
        return text('Let me see the sample submission.\n```json\n{"action": "request_info", '
                    '"topic": "sample_submission"}\n```')
    if "valid. Public score" in last:
        return text('Good enough.\n```json\n{"action": "submit"}\n```')
    if "-> error" in last:
        return text('The column is `id`, fix it.\n```json\n' + json.dumps(
            {"action": "execute_code", "code": WRITE_SUBMISSION}) + "\n```")
    if "wrote 75000 rows" in last:
        return text('```json\n{"action": "validate"}\n```')
    return text("Write a first submission.\n```json\n" + json.dumps(
        {"action": "execute_code", "code": WRITE_SUBMISSION.replace('test["id"]', 'test["ID"]')}) + "\n```")


@pytest.mark.kernel
def test_an_adaptive_policy_plays_a_json_mode_episode_to_the_end(loan_default_data, tmp_path, server):
    from nbdojo.env import DojoEnv
    from nbdojo.runner import run_episode

    server.policy = _adaptive
    server.push(error(400, "tool calling is not enabled on this server"))  # auto mode falls back to JSON
    agent = new_agent(server)
    with DojoEnv("loan-default", out_dir=tmp_path, cell_timeout_s=60, max_steps=8) as env:
        result = run_episode(env, agent, seed=1)
    assert result.terminated and result.steps == 5 and 0.6 < result.score < 0.95
    assert all("tools" not in body for body in server.requests[1:])
    nb = nbformat.read(str(result.notebook), as_version=4)
    code = [c for c in nb.cells if c.metadata.get("nbdojo", {}).get("action") == "execute_code"]
    assert [c.metadata["nbdojo"]["status"] for c in code] == ["error", "ok"]
    assert any(c.source == "The column is `id`, fix it." for c in nb.cells)
