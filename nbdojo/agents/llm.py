"""An agent backed by any server that speaks the OpenAI chat-completions API (OpenAI, vLLM, Ollama, ...).

Actions are offered as tools; servers without tool calling get a prompt that asks
for one JSON action per reply ("json" mode; "auto" falls back to it when the
server refuses tools). The text the model writes before its action becomes the
action's thought, recorded as a markdown cell. A reply without a valid action
gets one corrective turn; if that fails too the invalid reply goes to the env,
which records it as an invalid step, so the episode goes on. Transient server
failures (429, 5xx, timeouts, dropped connections) are retried with exponential
backoff and jitter, honouring Retry-After.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import time
from typing import Any, Callable

import openai

from nbdojo.actions import (
    ACTION_HELP, DEFAULT_SUBMISSION, action_to_dict, extract_json_objects, parse_action, parse_action_text,
    tool_schemas,
)
from nbdojo.agents.context import Conversation, message_chars
from nbdojo.errors import AgentError, ConfigError, InvalidActionError
from nbdojo.observation import truncate_middle
from nbdojo.agents.pricing import PriceTable

log = logging.getLogger(__name__)

MODES = ("auto", "tools", "json")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_RETRY_AFTER_S = 600.0
MAX_OUTPUT_CHARS = 6000  # of one observation, in the conversation (cut in the middle past it)
MAX_ADAPTATIONS = 3  # request changes after a 400 (no tools, no temperature, less context) per act()

JSON_EXAMPLE = '{"action": "execute_code", "code": "import pandas as pd\\nprint(pd.__version__)"}'


def system_prompt(spec: dict[str, Any], budget: dict[str, Any], mode: str) -> str:
    """What the model is told once: the competition in brief, the actions, the rules, the budget."""
    lines = ["You are an expert data scientist competing in a Kaggle-style machine-learning competition. "
             "You work in a persistent Jupyter kernel, one action per turn; every step becomes a cell of a notebook."]
    if spec:
        better = "higher" if spec.get("higher_is_better", True) else "lower"
        targets = ", ".join(str(t) for t in spec.get("target_columns", []))
        lines += ["", "## Competition",
                  f"- id: {spec.get('id')}; task: {spec.get('task')}; prediction: {spec.get('prediction')}",
                  f"- metric: {spec.get('metric')} ({better} is better)",
                  f"- id column: {spec.get('id_column')}; target column(s): {targets}",
                  "- The full description is in the first user message."]
    lines += ["", "## Actions"] + [f"- {name}: {text}" for name, text in ACTION_HELP.items()]
    if mode == "json":
        how = ("Each reply: a few sentences of reasoning, then exactly one action as one JSON object in a "
               f"```json fenced block, for example:\n```json\n{JSON_EXAMPLE}\n```\n"
               'Other forms: {"action": "request_info", "topic": "data"}, {"action": "validate"}, '
               '{"action": "submit"}.')
    else:
        how = ("Each reply: a few sentences of reasoning, then exactly one tool call (one action). "
               "If you cannot call tools, end the reply with one JSON action instead, e.g. " + JSON_EXAMPLE)
    lines += [
        "", "## Rules",
        "- One action per turn. " + how,
        "- Your reasoning before the action is kept as a markdown cell above it; keep it short.",
        "- The kernel persists: variables, imports and fitted models survive between cells. "
        "`DATA_DIR` (public data, read-only), `WORKSPACE` (your folder, the working directory), "
        "`SUBMISSION_PATH` and `SEED` are defined.",
        "- There is no internet: `pip install` and downloads fail; use the installed libraries "
        "(pandas, numpy, scikit-learn, torch, ...).",
        f"- Write predictions to `{DEFAULT_SUBMISSION}` in the workspace in the sample submission's format, "
        "`validate` it (it reports a public score), then `submit` (graded on private answers; ends the episode). "
        "If the budget runs out first, the workspace's submission.csv is graded.",
        "- Print only what you need: long outputs are cut in the middle. "
        "Errors come back as tracebacks; fix and retry.",
    ]
    if budget:
        lines += ["", "## Budget at the start", budget_text(budget)]
    return "\n".join(lines)


def budget_footer(budget: dict[str, Any]) -> str:
    """The line under each observation that tells the model what is left."""
    return f"[budget left: {budget_text(budget)}]"


def budget_text(budget: dict[str, Any]) -> str:
    parts = []
    for key, label in (("steps_left", "steps"), ("seconds_left", "s of wall clock"),
                       ("validations_left", "public scorings"), ("tokens_left", "tokens")):
        if budget.get(key) is not None:
            parts.append(f"{budget[key]} {label}")
    if budget.get("cell_timeout_s") is not None:
        parts.append(f"{budget['cell_timeout_s']:.0f} s per cell")
    return ", ".join(parts)


def _retry_after(exc: Exception) -> float | None:
    """Seconds a server asked us to wait (Retry-After or retry-after-ms), if it said."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    if headers.get("retry-after-ms"):
        try:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        date = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, date.timestamp() - time.time()) if date else None


def _server_message(exc: openai.APIError) -> str:
    """The server's own words: the error body's message, else the SDK's text."""
    body = exc.body
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"]
    if isinstance(body, str) and body.strip():
        return body.strip()[:500]
    return str(exc.message)


def _describe(exc: Exception) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_server_message(exc)}"
    cause = exc.__cause__
    return f"{exc}" + (f" ({type(cause).__name__}: {cause})" if cause else "")


def _one_line(text: str, limit: int = 300) -> str:
    """A message for one terminal line: a server's HTML error page or multi-line body squeezed and cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, (openai.APIConnectionError, openai.RateLimitError)):  # includes APITimeoutError
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code >= 500 or exc.status_code in (408, 409))


class LLMAgent:
    """Plays an episode by asking a chat model for one action per step."""

    name = "llm"

    def __init__(
        self, model: str, *, base_url: str | None = None, api_key: str | None = None, temperature: float = 0.0,
        mode: str = "auto", request_timeout: float = 120.0, max_retries: int = 5, context_tokens: int = 32000,
        max_output_chars: int = MAX_OUTPUT_CHARS, prices: PriceTable | None = None, backoff_base: float = 1.0,
        backoff_max: float = 60.0, max_reply_tokens: int | None = None,
    ):
        if not model:
            raise ConfigError("The LLM agent needs a model name (e.g. --model gpt-4o-mini).")
        if mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
        if max_retries < 0 or context_tokens < 1024 or request_timeout <= 0:
            raise ConfigError("max_retries must be >= 0, context_tokens >= 1024 and request_timeout > 0.")
        api_key = api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key:
            raise ConfigError("No API key for the model server: set OPENAI_API_KEY or pass api_key "
                              "(for a local server that ignores keys, any value such as 'none' works).")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.temperature, self.mode = temperature, mode
        self.request_timeout, self.max_retries = request_timeout, max_retries
        self.context_tokens, self.max_output_chars = context_tokens, max_output_chars
        self.backoff_base, self.backoff_max, self.max_reply_tokens = backoff_base, backoff_max, max_reply_tokens
        self.prices = prices if prices is not None else PriceTable.default()
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key, timeout=request_timeout, max_retries=0)
        self._tools = tool_schemas()
        self._sleep: Callable[[float], None] = time.sleep
        self._rng = random.Random()
        self._conv: Conversation | None = None
        self._usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
        self._requests = 0
        self._mode = "json" if mode == "json" else "tools"
        self._tools_confirmed = self._drop_temperature = False
        self._ignored_calls = 0
        self._spec: dict[str, Any] = {}
        self._start_budget: dict[str, Any] = {}

    # ----- Agent protocol --------------------------------------------------------------

    def check_connection(self) -> None:
        """One cheap request (GET /models) so a wrong URL or key fails before any kernel starts.

        Only an unreachable server (a connection error or timeout) and a refused key (401, 403) fail it:
        any other answer proves the server is there, and many OpenAI-compatible servers serve chat
        completions without a model list (404, 405, 501, or a body that is not one)."""
        try:
            page = self._client.models.list(timeout=min(15.0, self.request_timeout))
        except openai.APIConnectionError as exc:  # timeouts too
            message = f"cannot reach the model server at {self.base_url}: {_describe(exc)}"
            raise AgentError(_one_line(message)) from exc
        except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
            message = f"the model server at {self.base_url} refused the API key: {_describe(exc)}"
            raise AgentError(_one_line(message)) from exc
        except Exception as exc:  # noqa: BLE001 - it answered (any status, any body): reachable, no model list
            log.info("The server at %s lists no models (%s); going on.", self.base_url, _describe(exc))
            return
        ids = [str(getattr(m, "id", m)) for m in getattr(page, "data", None) or []]
        if ids and self.model not in ids:
            log.warning("The server at %s does not list model %r (it lists %s).", self.base_url, self.model,
                        ", ".join(ids[:10]))

    def reset(self, observation: str, info: dict[str, Any]) -> None:
        self._reset_state(observation, info)

    def act(self, observation: str, info: dict[str, Any]) -> dict[str, Any]:
        if self._conv is None:
            raise AgentError("LLMAgent.act() was called before reset().")
        if self._conv.awaiting_observation:
            footer = self._footer(info)
            self._conv.add_observation(observation, status=str(info.get("status", "?")), footer=footer)
        step = int(info.get("step", len(self._conv.turns))) + 1
        action, message = self._ask()
        self._conv.add_reply(step, action, message)
        return action

    def usage(self) -> dict[str, Any] | None:
        """Tokens and USD since the last call (None if no request was made)."""
        if not self._requests:
            return None
        usage = dict(self._usage)
        self._usage = {"prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0}
        self._requests = 0
        return usage

    # ----- conversation ----------------------------------------------------------------

    def _reset_state(self, observation: str, info: dict[str, Any]) -> None:
        self._mode = "json" if self.mode == "json" else "tools"
        self._tools_confirmed = self._drop_temperature = False
        self._ignored_calls = 0
        self._spec = dict(info.get("spec") or {})
        self._start_budget = dict(info.get("budget") or {})
        self._conv = Conversation(self._system(), observation, context_tokens=self.context_tokens,
                                  max_output_chars=self.max_output_chars, reply_tokens=self.max_reply_tokens)

    def _system(self) -> str:
        return system_prompt(self._spec, self._start_budget, self._mode)

    def _footer(self, info: dict[str, Any]) -> str:
        notes = []
        if self._ignored_calls:
            notes.append(f"(Only your first tool call was run; {self._ignored_calls} more were ignored: "
                         "one action per turn.)")
            self._ignored_calls = 0
        if info.get("budget"):
            notes.append(budget_footer(info["budget"]))
        return "\n".join(notes)

    def _ask(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """One action from the model: a second, corrective turn if the first reply has none."""
        extra: list[dict[str, Any]] = []
        for attempt in (1, 2):
            reply = self._complete(extra)
            try:
                return self._parse(reply)
            except InvalidActionError as exc:
                message = _assistant_message(reply, first_call_only=True)
                log.info("reply %d had no valid action: %s", attempt, str(exc).split(" Valid actions:")[0])
                if attempt == 2:
                    return _raw_action(reply), message
                extra = [message, self._correction(message, exc)]
        raise AssertionError("unreachable")

    def _correction(self, message: dict[str, Any], exc: InvalidActionError) -> dict[str, Any]:
        problem = str(exc).split(" Valid actions:")[0]
        if self._mode == "json":
            how = f"as one JSON object in a ```json block, e.g. {JSON_EXAMPLE}"
        else:
            how = f"as one tool call (or, if you cannot call tools, one JSON object such as {JSON_EXAMPLE})"
        text = f"Your reply had no valid action: {problem} Reply with exactly one action {how}."
        if message.get("tool_calls"):
            return {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": text}
        return {"role": "user", "content": text}

    def _parse(self, reply: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """(action dict, assistant message to keep) or InvalidActionError."""
        content = (reply.content or "").strip()
        calls = list(reply.tool_calls or [])
        if calls:
            self._tools_confirmed = True  # the server does tool calling, whatever the model put in this one
            self._ignored_calls = len(calls) - 1
            call = calls[0]
            action = parse_action({"name": call.function.name, "arguments": call.function.arguments or "{}"})
            data = action_to_dict(action)
            if content and "thought" not in data:
                data["thought"] = content
        else:
            data = action_to_dict(parse_action_text(content))
        return data, _assistant_message(reply, first_call_only=True)

    # ----- requests --------------------------------------------------------------------

    def _complete(self, extra: list[dict[str, Any]]) -> Any:
        """One assistant message, retrying transient failures and adapting to what the server refuses."""
        failures = adaptations = 0
        while True:
            tools = self._tools if self._mode == "tools" else None
            fixed = len(json.dumps(tools)) if tools else 0
            self._conv.system = self._system()
            messages = self._conv.messages(extra, fixed_chars=fixed)
            kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
            if tools:
                kwargs["tools"] = tools
            if not self._drop_temperature:
                kwargs["temperature"] = self.temperature
            if self.max_reply_tokens:
                kwargs["max_tokens"] = self.max_reply_tokens
            try:
                response = self._client.chat.completions.create(**kwargs)
            except openai.BadRequestError as exc:
                if adaptations < MAX_ADAPTATIONS and self._adapt(exc):
                    adaptations += 1
                    continue
                raise AgentError(f"The model server at {self.base_url} refused the request: {_describe(exc)}") from exc
            except openai.APIError as exc:
                if not _is_retryable(exc):
                    raise AgentError(f"The model server at {self.base_url} refused the request: "
                                     f"{_describe(exc)}") from exc
                if failures >= self.max_retries:
                    raise AgentError(f"The model server at {self.base_url} failed {failures + 1} times in a row; "
                                     f"last error: {_describe(exc)}") from exc
                delay = self._delay(failures, exc)
                failures += 1
                log.warning("model request failed (%s); retry %d/%d in %.1f s", _describe(exc), failures,
                            self.max_retries, delay)
                self._sleep(delay)
                continue
            chars = sum(message_chars(m) for m in messages) + fixed
            reply = self._account(response, chars)
            if reply is not None:
                return reply
            # A 200 without a message: treat as a transient failure.
            if failures >= self.max_retries:
                raise AgentError(f"The model server at {self.base_url} answered without a message "
                                 f"{failures + 1} times in a row.")
            failures += 1
            self._sleep(self._delay(failures - 1, None))

    def _adapt(self, exc: openai.BadRequestError) -> bool:
        """Change the request after a 400 the server explains; False if nothing can be changed."""
        text = _server_message(exc).lower()
        if self._mode == "tools" and self.mode == "auto" and not self._tools_confirmed and (
                "tool" in text or "function" in text):
            log.warning("The server refused tool calling (%s); asking for JSON actions in text instead.",
                        _describe(exc))
            self._mode = "json"
            return True
        if "temperature" in text and not self._drop_temperature:
            self._drop_temperature = True
            return True
        if any(w in text for w in ("context length", "context window", "maximum context", "too long",
                                   "too many tokens", "reduce the length")):
            self._conv.context_tokens = max(1024, int(self._conv.context_tokens * 0.6))
            log.warning("The prompt was too long for the server; keeping %d tokens of context from now on.",
                        self._conv.context_tokens)
            return True
        return False

    def _delay(self, failures: int, exc: Exception | None) -> float:
        after = _retry_after(exc) if exc is not None else None
        if after is not None:
            return min(after, MAX_RETRY_AFTER_S)
        return min(self.backoff_max, self.backoff_base * 2 ** failures) * self._rng.uniform(0.5, 1.5)

    def _account(self, response: Any, chars_sent: int) -> Any:
        """Add the response's usage (or an estimate) and cost; the assistant message, or None if there is none."""
        choices = getattr(response, "choices", None) or []
        reply = choices[0].message if choices and getattr(choices[0], "message", None) is not None else None
        usage = getattr(response, "usage", None)
        prompt = getattr(usage, "prompt_tokens", None) if usage is not None else None
        completion = getattr(usage, "completion_tokens", None) if usage is not None else None
        if prompt:
            self._conv.calibrate(chars_sent, prompt)
        else:
            prompt = int(chars_sent / self._conv.chars_per_token)
        if completion is None:
            completion = int(message_chars(_assistant_message(reply)) / self._conv.chars_per_token) if reply else 0
        self._usage["prompt_tokens"] += int(prompt)
        self._usage["completion_tokens"] += int(completion)
        self._usage["cost"] += self.prices.cost(self.model, int(prompt), int(completion))
        self._requests += 1
        return reply


def _assistant_message(reply: Any, *, first_call_only: bool = False) -> dict[str, Any]:
    """The reply as a plain message dict to send back in later requests."""
    calls = list(reply.tool_calls or [])
    if first_call_only:
        calls = calls[:1]
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or (None if calls else "")}
    if calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.function.name, "arguments": c.function.arguments or "{}"}}
            for c in calls
        ]
    return message


def _raw_action(reply: Any) -> dict[str, Any]:
    """A reply without a valid action, as the env should record it (an invalid step, not a crash)."""
    calls = list(reply.tool_calls or [])
    content = (reply.content or "").strip()
    if calls:
        raw: dict[str, Any] = {"name": calls[0].function.name, "arguments": calls[0].function.arguments or ""}
    else:
        objects = [o for o in extract_json_objects(content) if "action" in o or "name" in o]
        raw = dict(objects[0]) if objects else {"reply": truncate_middle(content, 2000) or "(empty reply)"}
    return raw
