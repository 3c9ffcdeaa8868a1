"""Running code on a kernel through JupyterLab's kernel websocket, as a console attached to it does (test helper)."""

from __future__ import annotations

import json
import time
import uuid


def execute_via_lab(base: str, token: str, kernel_id: str, code: str, *, timeout: float = 20) -> str:
    """The cell's stdout, and the traceback of an error, as text."""
    import websocket

    ws = websocket.create_connection(f"{base.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={token}",
                                     timeout=timeout)
    try:
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": "test", "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False},
        }))
        text, deadline = "", time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                text += msg["content"]["text"]
            elif msg["msg_type"] == "error":
                text += "\n".join(msg["content"]["traceback"])
            elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        return text
    finally:
        ws.close()
