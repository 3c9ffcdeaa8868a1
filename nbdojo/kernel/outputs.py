"""A cell's outputs as the host keeps them: shaped as nbformat wants, and capped, whatever the kernel sends.

The kernel runs agent code, which can publish any message on its iopub channel: a 100 MB
image, an error whose message is 50 MB, ten thousand displays, or content of the wrong
shape. Each output type has its own cap (stream text, rich bundles, error text and
traceback, the number of outputs), each cut keeps a head and a tail or names what was
dropped, and anything malformed becomes a short marker instead of reaching the notebook.
"""

from __future__ import annotations

import json
from typing import Any

from nbformat.notebooknode import NotebookNode

__all__ = ["CellOutputs", "capped_error", "cut_text"]

#: Rich outputs (display_data, execute_result) of one cell may hold this many times the stream cap.
RICH_FACTOR = 4
MAX_OUTPUTS = 500
MAX_ERROR_CHARS = 20_000
MAX_TRACEBACK_LINES = 100
MAX_TRACEBACK_LINE_CHARS = 5_000
MAX_MIME_CHARS = 200
_STREAM_NAMES = ("stdout", "stderr")


def _new_output(output_type: str, **fields: Any) -> NotebookNode:
    """An output as nbformat.v4.new_output makes it from fields already shaped here, without its schema check
    (half a millisecond with jsonschema, on every result): the trajectory's save checks each new cell once."""
    return NotebookNode(output_type=output_type, **fields)


def cut_text(text: str, limit: int, what: str = "characters") -> str:
    """`text` kept to about `limit` characters: its head and tail with a marker between them."""
    if len(text) <= limit:
        return text
    head = limit // 2
    tail = limit - head
    return f"{text[:head]}\n... [nbdojo: {len(text) - limit:,} {what} cut] ...\n{text[len(text) - tail:]}"


def _as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


def capped_error(content: dict) -> dict:
    """An error's ename, evalue and traceback as strings, each within its cap."""
    ename = content.get("ename")
    evalue = content.get("evalue")
    traceback = content.get("traceback")
    lines = [line for line in traceback if isinstance(line, str)] if isinstance(traceback, list) else []
    if len(lines) > MAX_TRACEBACK_LINES:
        half = MAX_TRACEBACK_LINES // 2
        lines = [*lines[:half], f"... [nbdojo: {len(lines) - 2 * half:,} traceback lines cut] ...", *lines[-half:]]
    return {
        "ename": cut_text(ename if isinstance(ename, str) else repr(type(ename).__name__), 200),
        "evalue": cut_text(evalue if isinstance(evalue, str) else "", MAX_ERROR_CHARS),
        "traceback": [cut_text(line, MAX_TRACEBACK_LINE_CHARS) for line in lines],
    }


def _nbytes(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "replace"))


def _byte_slice(text: str, start: int | None, stop: int | None) -> str:
    """text[start:stop] counted in UTF-8 bytes; a character cut in two is dropped."""
    if text.isascii():
        return text[start:stop]
    return text.encode("utf-8", "replace")[start:stop].decode("utf-8", "ignore")


def _value_size(value: Any) -> int:
    text = _as_text(value)
    if text is not None:
        return _nbytes(text)
    try:
        return len(json.dumps(value))
    except (TypeError, ValueError, RecursionError):
        return -1


def _finite(value: Any) -> Any:
    """`value` with NaN and +-Infinity as null: Python's json reads and writes them, strict JSON parsers do not
    (a kernel can send a bare NaN in a hand-built message). None if it is not JSON at all."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return None
    if "NaN" not in text and "Infinity" not in text:
        return value
    return json.loads(text, parse_constant=lambda _: None)


class _Bundles:
    """Caps on rich mime bundles: one budget of bytes for the whole cell."""

    def __init__(self, cap: int):
        self.cap, self.used = cap, 0

    def shape(self, data: Any, metadata: Any) -> tuple[dict, dict, int]:
        """(data, metadata, bytes kept): oversized or malformed values replaced by a text/plain note."""
        if not isinstance(data, dict):
            return {"text/plain": "[nbdojo: a display without a mime bundle was dropped]"}, {}, 0
        kept: dict[str, Any] = {}
        notes: list[str] = []
        size = 0
        for mime, value in data.items():
            if not isinstance(mime, str) or not 0 < len(mime) <= MAX_MIME_CHARS or "/" not in mime:
                notes.append("an output with a malformed mime type was dropped")
                continue
            is_json = mime.endswith("json")
            text = _as_text(value)
            if text is None and is_json:
                value = _finite(value)
            if text is None and not is_json:
                notes.append(f"a {mime[:60]} value that is not text was dropped")
                continue
            n = _value_size(value)
            if n < 0:
                notes.append(f"a {mime[:60]} value that is not JSON was dropped")
            elif self.used + size + n > self.cap and mime == "text/plain" and text is not None:
                room = max(self.cap - self.used - size, 2_000)
                kept[mime] = cut_text(text, room)
                size += _value_size(kept[mime])
            elif self.used + size + n > self.cap:
                notes.append(f"{mime[:60]} output of {n:,} bytes dropped: over the cell's {self.cap:,}-byte cap "
                             "for rich outputs")
            else:
                kept[mime], size = (text if text is not None else value), size + n
        if notes:
            note = "[nbdojo: " + "; ".join(notes[:5]) + "]"
            plain = kept.get("text/plain")
            kept["text/plain"] = f"{plain}\n{note}" if isinstance(plain, str) else note
        meta = _finite(metadata) if isinstance(metadata, dict) and _value_size(metadata) <= 10_000 else {}
        self.used += size
        return kept, meta, size


class CellOutputs:
    """A cell's outputs as Jupyter shows them, holding at most ~`cap` bytes of stream text.

    Past the cap, stream text is cut from the middle: the first half of the cap is kept as it
    came, the second half is a window sliding over the newest text, and a marker stands where
    text was cut. Rich bundles share a budget of RICH_FACTOR x `cap`; errors and tracebacks are
    cut head and tail; past MAX_OUTPUTS outputs, the rest are counted, not kept.
    """

    def __init__(self, cap: int):
        self.head_cap, self.tail_cap = cap // 2, cap - cap // 2
        self.rich_cap = RICH_FACTOR * cap
        self._clear_on_next = False
        self.changes = 0  # messages taken so far: a reader of the running cell knows when to look again
        self.notes: list[str] = []  # what the host could not take from the kernel; a clear does not forget it
        self._reset()

    def _reset(self) -> None:
        self.items: list[dict] = []
        self.displays: dict[str, list[tuple[dict, int]]] = {}  # display_id -> the outputs showing it
        self.bundles = _Bundles(self.rich_cap)
        self.cut: int | None = None  # index in items where the marker goes
        self.head_bytes = self.tail_bytes = 0
        self.dropped = 0  # cleared text is not "lost", so a clear forgets this too
        self.dropped_outputs = 0

    def add(self, msg: dict) -> None:
        kind, content = msg.get("msg_type"), msg.get("content")
        if not isinstance(content, dict):
            return
        self.changes += 1
        transient = content.get("transient")
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        display_id = display_id if isinstance(display_id, str) and len(display_id) <= 200 else None
        if kind == "clear_output":
            self._clear_on_next = bool(content.get("wait"))
            if not self._clear_on_next:
                self._reset()
        elif kind == "update_display_data":
            self._update(display_id, content)
        else:
            if self._clear_on_next:  # clear_output(wait=True) clears when the next output arrives
                self._reset()
            self._clear_on_next = False
            if kind == "stream":
                name, text = content.get("name"), content.get("text")
                if name in _STREAM_NAMES and isinstance(text, str):
                    self._add_stream(name, text)
                return
            if len(self.items) >= MAX_OUTPUTS:
                self.dropped_outputs += 1
                return
            output, size = self._output(kind, content)
            if output is None:
                return
            self.items.append(output)
            if kind == "display_data" and display_id:
                self.displays.setdefault(display_id, []).append((output, size))

    def note(self, text: str) -> None:
        """Say, after the outputs, that something the kernel sent did not reach them (said once per text)."""
        if text not in self.notes:
            self.notes.append(text)
            self.changes += 1

    def _output(self, kind: Any, content: dict) -> tuple[dict | None, int]:
        """The nbformat output for a message, and the rich-output bytes it holds."""
        if kind == "error":
            return _new_output("error", **capped_error(content)), 0
        if kind not in ("display_data", "execute_result"):
            return None, 0
        data, meta, size = self.bundles.shape(content.get("data"), content.get("metadata"))
        if kind == "display_data":
            return _new_output("display_data", data=data, metadata=meta), size
        count = content.get("execution_count")
        count = count if isinstance(count, int) and not isinstance(count, bool) and 0 <= count < 2**31 else None
        return _new_output("execute_result", data=data, metadata=meta, execution_count=count), size

    def _update(self, display_id: str | None, content: dict) -> None:
        shown = self.displays.get(display_id or "", [])
        for i, (out, size) in enumerate(shown):
            self.bundles.used -= size  # the old bundle is replaced, its bytes come back
            out["data"], out["metadata"], new_size = self.bundles.shape(content.get("data"), content.get("metadata"))
            shown[i] = (out, new_size)

    def _append(self, name: str, text: str, start: int) -> None:
        last = self.items[-1] if len(self.items) > start else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.items.append({"output_type": "stream", "name": name, "text": text})

    def _add_stream(self, name: str, text: str) -> None:
        if self.cut is None:
            room = self.head_cap - self.head_bytes
            kept = text if _nbytes(text) <= room else _byte_slice(text, None, max(room, 0))
            if kept:
                self._append(name, kept, 0)
                self.head_bytes += _nbytes(kept)
            if len(kept) == len(text):
                return
            self.cut, text = len(self.items), text[len(kept) :]
        self._append(name, text, self.cut)
        self.tail_bytes += _nbytes(text)
        i = self.cut
        while self.tail_bytes > self.tail_cap and i < len(self.items):  # slide the window
            out = self.items[i]
            if out["output_type"] != "stream":
                i += 1
                continue
            size = _nbytes(out["text"])
            if size <= self.tail_bytes - self.tail_cap:
                del self.items[i]
                removed = size
            else:
                out["text"] = _byte_slice(out["text"], self.tail_bytes - self.tail_cap, None)
                removed = size - _nbytes(out["text"])
            self.tail_bytes -= removed
            self.dropped += removed

    def finish(self) -> list[dict]:
        """The outputs with the cut markers in place and neighbouring like-named streams merged."""
        items = list(self.items)
        if self.cut is not None and self.dropped:
            before = items[self.cut - 1] if self.cut else {}
            name = before.get("name", "stdout") if before.get("output_type") == "stream" else "stdout"
            marker = f"\n... [nbdojo: {self.dropped:,} bytes of output cut] ...\n"
            items.insert(self.cut, {"output_type": "stream", "name": name, "text": marker})
        if self.dropped_outputs:
            items.append({"output_type": "stream", "name": "stderr",
                          "text": f"\n[nbdojo: {self.dropped_outputs:,} more outputs dropped: "
                                  f"a cell keeps at most {MAX_OUTPUTS} displays, results and errors]\n"})
        items.extend({"output_type": "stream", "name": "stderr", "text": f"\n[nbdojo: {note}]\n"} for note in self.notes)
        merged: list[dict] = []
        for out in items:
            prev = merged[-1] if merged else {}
            if out["output_type"] == prev.get("output_type") == "stream" and out["name"] == prev["name"]:
                merged[-1] = {**prev, "text": prev["text"] + out["text"]}
            else:
                merged.append(out)
        return merged
