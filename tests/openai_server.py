"""A real HTTP server on 127.0.0.1 that speaks enough of the OpenAI API for the LLM agent's tests.

It answers `POST /v1/chat/completions` from a script (a queue of replies) or a
policy (a callable that gets each request body and returns a reply), and
`GET /v1/models` (with `models_status`, an error there instead: 404, 405 or 501 as
servers without a model list answer, 401 or 403 as one that refuses the key). Every
request body is recorded. Replies are plain dicts made by the helpers below: `tool_call`,
`text`, `error`, `slow`.

It also checks the chat protocol as OpenAI does (every tool call answered by a
`tool` message, no `tool` message without a preceding call) and answers a
violation with a 400, so a bug in the agent's history shows up in tests.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Reply = dict[str, Any]
Policy = Callable[[dict[str, Any]], Reply]

_ids = itertools.count(1)


def tool_call(name: str, arguments: dict[str, Any] | str | None = None, *, content: str | None = None,
              usage: tuple[int, int] | None = (1000, 50), extra_calls: list[tuple[str, dict]] = ()) -> Reply:
    """The model calls one tool (or several, with `extra_calls`); `content` is its text before the call."""
    args = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    calls = [(name, args)] + [(n, json.dumps(a)) for n, a in extra_calls]
    return {"kind": "tool", "calls": calls, "content": content, "usage": usage}


def text(content: str, *, usage: tuple[int, int] | None = (1000, 50)) -> Reply:
    """The model answers in plain text (a JSON action in it, fenced or bare, or nothing usable)."""
    return {"kind": "text", "content": content, "usage": usage}


def error(status: int, message: str = "", *, headers: dict[str, str] | None = None) -> Reply:
    """An HTTP error with an OpenAI-style body, e.g. `error(429, headers={"Retry-After": "0.2"})`."""
    return {"kind": "error", "status": status, "message": message or f"test error {status}",
            "headers": dict(headers or {})}


def slow(seconds: float, then: Reply) -> Reply:
    """Sleep before answering with `then` (a client with a shorter timeout gives up first)."""
    return {"kind": "slow", "seconds": seconds, "then": then}


def protocol_problem(messages: list[dict[str, Any]]) -> str | None:
    """What OpenAI would refuse in a message list, or None."""
    pending: set[str] = set()
    for i, msg in enumerate(messages):
        role = msg.get("role")
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if call_id not in pending:
                return f"messages[{i}]: a 'tool' message must answer a preceding assistant tool call ({call_id!r})"
            pending.discard(call_id)
            continue
        if pending:
            return f"messages[{i}]: tool calls {sorted(pending)} were not answered by 'tool' messages"
        if role == "assistant":
            pending = {c["id"] for c in msg.get("tool_calls") or []}
        elif role not in ("system", "user"):
            return f"messages[{i}]: unknown role {role!r}"
    if messages and messages[0].get("role") != "system":
        return "the first message should be the system prompt"
    return None


class OpenAIServer:
    """`with OpenAIServer(script=[...]) as server: ... server.url ...`; `server.requests` holds the bodies."""

    def __init__(self, script: list[Reply] | None = None, *, policy: Policy | None = None,
                 models: tuple[str, ...] = ("test-model",), check_protocol: bool = True, models_status: int = 200):
        self.script: deque[Reply] = deque(script or [])
        self.policy = policy
        self.models = models
        self.models_status = models_status
        self.check_protocol = check_protocol
        self.requests: list[dict[str, Any]] = []
        self.model_list_calls = 0
        self.protocol_errors: list[str] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def push(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def start(self) -> OpenAIServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/") != "/v1/models":
                    return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                server.model_list_calls += 1
                if server.models_status == 501:  # what the standard library says for a method it lacks
                    return self.send_error(501, f"Unsupported method ({self.command!r})")
                if server.models_status != 200:
                    return self._json(server.models_status, {"error": {
                        "message": f"GET /models answers {server.models_status} here", "type": "test_error"}})
                self._json(200, {"object": "list", "data": [
                    {"id": m, "object": "model", "created": 0, "owned_by": "nbdojo-tests"} for m in server.models]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    return self._json(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}})
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                server._answer(self, body)

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="openai-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ----- answering ---------------------------------------------------------------------

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.popleft()
        if self.policy is not None:
            return self.policy(body)
        return error(418, "the test script has no more replies")

    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        problem = protocol_problem(body.get("messages") or []) if self.check_protocol else None
        if problem:
            with self._lock:
                self.requests.append(body)
                self.protocol_errors.append(problem)
            return handler._json(400, {"error": {"message": problem, "type": "invalid_request_error"}})
        reply = self._next_reply(body)
        while reply["kind"] == "slow":
            time.sleep(reply["seconds"])
            reply = reply["then"]
        if reply["kind"] == "error":
            kind = "rate_limit_error" if reply["status"] == 429 else "server_error"
            return handler._json(reply["status"], {"error": {"message": reply["message"], "type": kind}},
                                 reply["headers"])
        message: dict[str, Any] = {"role": "assistant", "content": reply.get("content")}
        finish = "stop"
        if reply["kind"] == "tool":
            message["tool_calls"] = [
                {"id": f"call_{next(_ids)}", "type": "function", "function": {"name": name, "arguments": args}}
                for name, args in reply["calls"]
            ]
            finish = "tool_calls"
        payload: dict[str, Any] = {
            "id": f"chatcmpl-{next(_ids)}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "test-model"),
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        }
        if reply.get("usage"):
            prompt, completion = reply["usage"]
            payload["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                "total_tokens": prompt + completion}
        handler._json(200, payload)


def observations(body: dict[str, Any]) -> list[str]:
    """The observations (tool and user messages after the first user message) in a request."""
    return [m["content"] for m in body["messages"][2:] if m["role"] in ("tool", "user")]
