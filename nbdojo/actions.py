"""The actions an agent can take, and parsing them from dicts, tool calls and JSON text.

An action arrives in whatever shape an agent produces: a plain dict
(`{"action": "execute_code", "code": "x = 1"}`), an OpenAI-style tool call
(`{"name": "execute_code", "arguments": "{\"code\": \"x = 1\"}"}`), JSON text
(bare or fenced), or one of the dataclasses below. `parse_action` turns all of
them into a dataclass or raises `InvalidActionError` whose message says what is valid.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Union

from nbdojo.errors import InvalidActionError

TOPICS = ("overview", "data", "sample_submission", "metric", "hardware", "budget", "all")
DEFAULT_SUBMISSION = "submission.csv"
#: Caps on what an agent can send: a cell's code, a free-text reply that holds an action, and how
#: many candidate objects are tried in it (each try is a scan of the text).
MAX_CODE_CHARS = 1_000_000
MAX_TEXT_CHARS = 2_000_000
MAX_THOUGHT_CHARS = 100_000
MAX_JSON_TRIES = 200


@dataclass(frozen=True)
class RequestInfo:
    """Ask about the competition; costs no kernel time."""

    topic: str = "all"
    thought: str | None = field(default=None, compare=False)
    name: ClassVar[str] = "request_info"


@dataclass(frozen=True)
class ExecuteCode:
    """Run a cell in the persistent kernel."""

    code: str
    thought: str | None = field(default=None, compare=False)
    name: ClassVar[str] = "execute_code"


@dataclass(frozen=True)
class Validate:
    """Check a submission's format and get its public score."""

    path: str = DEFAULT_SUBMISSION
    thought: str | None = field(default=None, compare=False)
    name: ClassVar[str] = "validate"


@dataclass(frozen=True)
class Submit:
    """Grade the submission on the private answers and end the episode."""

    path: str = DEFAULT_SUBMISSION
    thought: str | None = field(default=None, compare=False)
    name: ClassVar[str] = "submit"


@dataclass(frozen=True)
class RestartKernel:
    """Start a fresh kernel; all state is lost."""

    thought: str | None = field(default=None, compare=False)
    name: ClassVar[str] = "restart_kernel"


@dataclass(frozen=True)
class GetHistory:
    """List earlier steps with their status."""

    thought: str | None = field(default=None, compare=False)
    name: ClassVar[str] = "get_history"


Action = Union[RequestInfo, ExecuteCode, Validate, Submit, RestartKernel, GetHistory]
ACTION_TYPES: dict[str, type] = {
    cls.name: cls for cls in (RequestInfo, ExecuteCode, Validate, Submit, RestartKernel, GetHistory)
}

# One-line descriptions used in help texts, prompts and tool schemas.
ACTION_HELP = {
    "request_info": "ask about the competition (topic: " + ", ".join(TOPICS) + "); costs no kernel time",
    "execute_code": "run Python `code` as a cell in the persistent Jupyter kernel; state persists",
    "validate": "check the submission file's format (`path`, default submission.csv) and get its public score",
    "submit": "grade the submission (`path`, default submission.csv) on the private answers; ends the episode",
    "restart_kernel": "start a fresh kernel; every variable is lost",
    "get_history": "list the earlier steps with their status",
}

USAGE = (
    "Valid actions: "
    + "; ".join(f"{name}: {text}" for name, text in ACTION_HELP.items())
    + '. Example: {"action": "execute_code", "code": "print(1 + 1)"}.'
)


def action_to_dict(action: Action) -> dict[str, Any]:
    """The plain-dict form of an action (the form `env.step` accepts)."""
    data = {"action": action.name, **{k: v for k, v in asdict(action).items() if v is not None}}
    return data


def _fail(problem: str) -> InvalidActionError:
    return InvalidActionError(f"{problem} {USAGE}")


def _short(value: object, limit: int = 80) -> str:
    """repr() cut to `limit` characters: an error message never echoes a flood back."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}…[{len(text):,} characters]"


def _from_dict(raw: dict[str, Any]) -> Action:
    data = dict(raw)
    # OpenAI tool-call shapes: {"name": ..., "arguments": {...} | "json"} or {"function": {...}}
    if "function" in data and isinstance(data["function"], dict):
        data = dict(data["function"])
    if "action" not in data and "name" in data:
        args = data.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise _fail(f"The arguments of {_short(data['name'])} are not valid JSON ({exc.msg}).") from None
        if not isinstance(args, dict):
            raise _fail(f"The arguments of {_short(data['name'])} must be a JSON object.")
        data = {"action": data["name"], **args}
    name = data.pop("action", None)
    if not isinstance(name, str) or not name:
        raise _fail("The action has no 'action' key naming what to do.")
    cls = ACTION_TYPES.get(name.strip().lower())
    if cls is None:
        raise _fail(f"Unknown action {_short(name)}.")
    thought = data.pop("thought", None)
    if thought is not None and not isinstance(thought, str):
        thought = repr(thought)[:MAX_THOUGHT_CHARS]
    if thought is not None and len(thought) > MAX_THOUGHT_CHARS:
        thought = thought[:MAX_THOUGHT_CHARS] + f"\n… [{len(thought) - MAX_THOUGHT_CHARS:,} characters cut by nbdojo]"
    allowed = {f for f in cls.__dataclass_fields__ if f != "thought"}
    extra = sorted(set(data) - allowed)
    if extra:
        raise _fail(f"{cls.name} does not take {', '.join(_short(e) for e in extra[:5])}.")
    for key, value in data.items():
        if not isinstance(value, str):
            raise _fail(f"{cls.name}: {key!r} must be a string, got {type(value).__name__}.")
    if cls is ExecuteCode and not data.get("code", "").strip():
        raise _fail("execute_code needs non-empty 'code'.")
    if cls is ExecuteCode and len(data["code"]) > MAX_CODE_CHARS:
        raise _fail(f"execute_code: the code is {len(data['code']):,} characters, over the {MAX_CODE_CHARS:,} cap; "
                    "write large data to a file from a smaller cell instead.")
    if cls is RequestInfo and data.get("topic", "all") not in TOPICS:
        raise _fail(f"request_info: unknown topic {_short(data['topic'])} (topics: {', '.join(TOPICS)}).")
    if cls in (Validate, Submit) and not data.get("path", DEFAULT_SUBMISSION).strip():
        raise _fail(f"{cls.name}: 'path' must not be empty.")
    return cls(**data, thought=thought)


_FENCE = re.compile(r"```(?:json|JSON)?\s*\n(.*?)```", re.DOTALL)


def extract_json_objects(text: str) -> list[dict[str, Any]]:
    """JSON objects found in free text: fenced blocks first, then bare top-level objects."""
    found: list[dict[str, Any]] = []
    for block in _FENCE.findall(text):
        try:
            value = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            found.append(value)
    if found:
        return found
    decoder = json.JSONDecoder()
    i, tries = text.find("{"), 0
    while i != -1 and tries < MAX_JSON_TRIES:  # each try may scan to the end: bound the total work
        tries += 1
        try:
            value, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        i = text.find("{", end)
    return found


def parse_action_text(text: str) -> Action:
    """Parse the first action found in an LLM's free-text reply; the text around it becomes the thought."""
    if len(text) > MAX_TEXT_CHARS:
        raise _fail(f"The reply is {len(text):,} characters, over the {MAX_TEXT_CHARS:,} cap for one action.")
    for obj in extract_json_objects(text):
        if "action" in obj or "name" in obj:
            action = _from_dict(obj)
            if action.thought is None:
                thought = _FENCE.sub("", text).strip()
                start = thought.find("{")
                thought = (thought[:start] if start > 0 else thought).strip()
                if thought and not thought.startswith("{"):
                    action = type(action)(**{**asdict(action), "thought": thought})
            return action
    raise _fail("No JSON action was found in the reply.")


def parse_action(raw: Action | dict[str, Any] | str) -> Action:
    """Any accepted form of an action -> an action dataclass (or `InvalidActionError`)."""
    if isinstance(raw, tuple(ACTION_TYPES.values())):
        return raw  # type: ignore[return-value]
    if isinstance(raw, dict):
        return _from_dict(raw)
    if isinstance(raw, str):
        return parse_action_text(raw)
    raise _fail(f"An action must be a dict, a JSON string or an nbdojo action, not {type(raw).__name__}.")


def tool_schemas() -> list[dict[str, Any]]:
    """The actions as OpenAI-style tool definitions (JSON Schema parameters)."""
    path = {"type": "string", "description": "submission file, relative to the workspace", "default": DEFAULT_SUBMISSION}
    params: dict[str, dict[str, Any]] = {
        "request_info": {"topic": {"type": "string", "enum": list(TOPICS)}},
        "execute_code": {"code": {"type": "string", "description": "Python source of one notebook cell"}},
        "validate": {"path": path},
        "submit": {"path": path},
        "restart_kernel": {},
        "get_history": {},
    }
    required = {"request_info": ["topic"], "execute_code": ["code"]}
    return [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": ACTION_HELP[name],
                "parameters": {
                    "type": "object",
                    "properties": props,
                    "required": required.get(name, []),
                    "additionalProperties": False,
                },
            },
        }
        for name, props in params.items()
    ]
