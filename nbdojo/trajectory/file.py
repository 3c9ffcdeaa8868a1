"""Writing a trajectory notebook after every step at a cost that does not grow with the episode.

`nbformat.write` validates and re-serializes the whole notebook (after a deep copy, with the
pure-Python JSON encoder that `indent` forces), so an episode's saves cost the square of its
length. `NotebookFile` keeps each written cell's JSON, byte for byte as nbformat writes it, and
on each save validates and serializes only the cells that are new or that the owner says it
changed (`forget`), plus the small notebook metadata. The file is still the whole notebook,
written to a temporary file and renamed over the old one, so a reader (JupyterLab, `nbdojo
watch`) never sees half a file and a killed host leaves the last complete save.

Durability: each save is in the page cache when `write` returns, so it survives a SIGKILL of
the host process. It reaches the disk on `fsync`, which costs milliseconds and is throttled: at
most one every `fsync_interval_s` (5 s), counted from the file's first save (a reset's, which holds
no step), and always when the caller asks (`durable=True`: the episode's end). After a power cut or an OS crash, the notebook is the last fsynced save or, on
file systems that order a rename after its data (ext4's default auto_da_alloc, btrfs, XFS), a
later complete one; on others a save not yet fsynced may come back empty.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbformat.notebooknode import NotebookNode, from_dict
from nbformat.v4.nbbase import random_cell_id
from nbformat.v4.nbjson import BytesEncoder

__all__ = ["FSYNC_INTERVAL_S", "NotebookFile", "cell_json", "durable_path", "new_cell"]

FSYNC_INTERVAL_S = 5.0
#: Mime types nbformat splits into lines although they are not text/* (nbformat.v4.rwbase).
_SPLIT_MIMES = frozenset({"application/javascript", "image/svg+xml"})
#: Notebook metadata nbformat drops when it writes (nbformat.v4.rwbase.strip_transient).
_TRANSIENT_META = ("orig_nbformat", "orig_nbformat_minor", "signature")
_CELL_INDENT = "\n  "  # cells sit two levels deep in the file: {"cells": [ <here> ]}


def new_cell(cell_type: str, source: str, **fields: Any) -> NotebookNode:
    """A cell as nbformat.v4's new_code_cell / new_markdown_cell make it, without their schema check
    (about a millisecond each, with jsonschema): `NotebookFile.write` checks every new cell once."""
    cell = NotebookNode(id=random_cell_id(), cell_type=cell_type, metadata=NotebookNode(), source=source)
    if cell_type == "code":
        cell.update(execution_count=None, outputs=[])
    cell.update(from_dict(fields))
    return cell


def _dumps(value: Any, *, ascii_only: bool = False) -> str:
    """Strict JSON: a NaN or Infinity that got this far (outputs are cleaned as the kernel sends them) is
    written as null, never as the bare NaN that JupyterLab and jq refuse."""
    dump = functools.partial(json.dumps, cls=BytesEncoder, indent=1, sort_keys=True, separators=(",", ": "),
                             ensure_ascii=ascii_only, allow_nan=False)
    try:
        return dump(value)
    except ValueError:  # Out of range float values are not JSON compliant
        return dump(json.loads(json.dumps(value, cls=BytesEncoder), parse_constant=lambda _: None))


def _encode(value: Any, indent: str = "") -> bytes:
    """UTF-8 JSON as nbformat writes it; text a kernel sent with lone surrogates (not UTF-8) is escaped."""
    try:
        return _dumps(value).replace("\n", "\n" + indent if indent else "\n").encode("utf-8")
    except UnicodeEncodeError:
        return _dumps(value, ascii_only=True).replace("\n", "\n" + indent if indent else "\n").encode("ascii")


def _split_bundle(bundle: Any) -> Any:
    if not isinstance(bundle, Mapping):
        return bundle
    return {mime: value.splitlines(True) if isinstance(value, str) and (mime.startswith("text/") or mime in _SPLIT_MIMES)
            else value for mime, value in bundle.items()}


def _file_output(output: Any) -> Any:
    if not isinstance(output, Mapping):
        return output
    kind = output.get("output_type")
    if kind in ("execute_result", "display_data") and "data" in output:
        return {**output, "data": _split_bundle(output["data"])}
    if kind == "stream" and isinstance(output.get("text"), str):
        return {**output, "text": output["text"].splitlines(True)}
    return output


def _file_cell(cell: Mapping[str, Any]) -> dict[str, Any]:
    """A cell as nbformat puts it in the file (split_lines, strip_transient), built without touching the cell."""
    form = dict(cell)
    if isinstance(form.get("source"), str):
        form["source"] = form["source"].splitlines(True)
    meta = form.get("metadata")
    if isinstance(meta, Mapping) and "trusted" in meta:
        form["metadata"] = {k: v for k, v in meta.items() if k != "trusted"}
    if isinstance(form.get("attachments"), Mapping):
        form["attachments"] = {name: _split_bundle(b) for name, b in form["attachments"].items()}
    if form.get("cell_type") == "code" and isinstance(form.get("outputs"), list):
        form["outputs"] = [_file_output(o) for o in form["outputs"]]
    return form


def cell_json(cell: Mapping[str, Any]) -> bytes:
    """One cell's bytes in the notebook file, indented for its place in the cell list."""
    return _encode(_file_cell(cell), _CELL_INDENT[1:])


def _shell(nb: Mapping[str, Any]) -> dict[str, Any]:
    """The notebook without its cells (metadata, nbformat), as it is written."""
    meta = nb.get("metadata") or {}
    return {**{k: v for k, v in nb.items() if k != "cells"},
            "metadata": {k: v for k, v in meta.items() if k not in _TRANSIENT_META}, "cells": []}


def _fill(shell: bytes, body: bytes | bytearray) -> bytes:
    empty = b'{\n "cells": [],'
    if not shell.startswith(empty):
        raise ValueError("a notebook's JSON must start with its cells")  # sort_keys puts "cells" first
    if not body:
        return shell + b"\n"
    return b"".join((b'{\n "cells": [', body, b"\n ],", shell[len(empty):], b"\n"))


class NotebookFile:
    """A notebook's file, rewritten whole and atomically on each `write`, re-serializing only what changed.

    A cell is known by identity: a cell object written before is reused as it was written,
    unless `forget(cell)` said it changed. Replacing, inserting or removing cells is noticed;
    editing a written cell in place without `forget` is not (the owner, `Trajectory`, says).
    """

    def __init__(self, path: str | Path, *, fsync_interval_s: float = FSYNC_INTERVAL_S):
        self.path = Path(path)
        self.fsync_interval_s = fsync_interval_s
        self._cells: list[Any] = []  # cells whose bytes are in _body, in order
        self._ids: list[Any] = []  # their ids (nbformat 4.5: unique in a notebook)
        self._ends: list[int] = []  # where each one's bytes end in _body
        self._body = bytearray()
        self._shell_key: str | None = None  # the last validated shell, compactly encoded
        self._shell = b""
        # the throttle starts with the file: the first save (a reset's, no step in it yet) is not worth an fsync
        self._last_fsync = time.monotonic()
        #: cells serialized and bytes written so far: what a save cost, counted (tests read these)
        self.cells_serialized = 0
        self.saves = 0
        self.fsyncs = 0

    def forget(self, cell: Any) -> None:
        """`cell` changed in place: serialize it (and those after it) again at the next write."""
        for index in range(len(self._cells) - 1, -1, -1):  # the newest cells are the ones that change
            if self._cells[index] is cell:
                self._truncate(index)
                return

    def _truncate(self, index: int) -> None:
        del self._cells[index:], self._ids[index:], self._ends[index:]
        del self._body[(self._ends[-1] if self._ends else 0):]

    def write(self, nb: Mapping[str, Any], *, durable: bool = False) -> Path:
        """Validate what is new, then replace the file atomically; fsync when durable or when one is due."""
        cells = nb.get("cells") or []
        same = 0
        for known, cell in zip(self._cells, cells):
            if known is not cell:
                break
            same += 1
        if same < len(self._cells):
            self._truncate(same)
        new = list(cells[same:])
        shell = _shell(nb)
        key = json.dumps(shell, cls=BytesEncoder, sort_keys=True, ensure_ascii=False)  # the C encoder: cheap
        if new or key != self._shell_key:
            self._validate(shell, new)
            self._shell, self._shell_key = _encode(shell), key
        for cell in new:
            self._body += b"," if self._cells else b""
            self._body += _CELL_INDENT.encode() + cell_json(cell)
            self._cells.append(cell)
            self._ids.append(cell.get("id"))
            self._ends.append(len(self._body))
        self.cells_serialized += len(new)
        now = time.monotonic()
        sync = durable or now - self._last_fsync >= self.fsync_interval_s
        _replace(self.path, _fill(self._shell, self._body), sync=sync)
        self.saves += 1
        if sync:
            self._last_fsync, self.fsyncs = now, self.fsyncs + 1
        return self.path

    def _validate(self, shell: dict[str, Any], new: list[Any]) -> None:
        """nbformat's schema on the metadata and the new cells; cell ids unique across the whole notebook."""
        nbformat.validate({**shell, "cells": new})  # fastjsonschema when installed: microseconds per cell
        seen = set(self._ids)
        for cell in new:
            cell_id = cell.get("id")
            if cell_id is not None and cell_id in seen:
                raise nbformat.ValidationError(f"Non-unique cell id {cell_id!r} detected.")
            seen.add(cell_id)


def _replace(path: Path, data: bytes, *, sync: bool) -> None:
    """`data` at `path`, atomically: a temporary file swapped in. A synced save is also linked as
    `durable_path(path)`, the version a power cut cannot take."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fsync(fd)
        finally:
            os.close(fd)
        if sync or not _exchange(tmp, path):
            os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync:
        _fsync_dir(path.parent)
        _link_durable(path)


def durable_path(path: str | Path) -> Path:
    """Where the last fsynced save of a notebook is kept (a hard link, no copy): after a power cut that
    left the notebook empty or old, this is the newest version known to be on disk."""
    path = Path(path)
    return path.with_name(f".{path.name}.durable")


def _link_durable(path: Path) -> None:
    durable, tmp = durable_path(path), path.with_name(f".{path.name}.durable.{os.getpid()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        os.link(path, tmp)
        os.replace(tmp, durable)
    except OSError:  # no hard links here (some network file systems): the fsync itself still holds
        tmp.unlink(missing_ok=True)


_RENAME_EXCHANGE = 2
_renameat2: Any = None  # libc's renameat2, False where there is none


def _exchange(tmp: str, path: Path) -> bool:
    """Swap `tmp` in for `path` (Linux renameat2 RENAME_EXCHANGE), then drop the old version; False where
    that cannot be done (no such call, the file system refuses, no file at `path` yet): rename instead.

    A plain rename over an existing file makes ext4 (auto_da_alloc) start writing the new file out at
    once, a cost that grows with the notebook; an exchange does not, and a version replaced before it
    was written out never reaches the disk at all.
    """
    global _renameat2
    if _renameat2 is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _renameat2 = libc.renameat2
            _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
        except (OSError, AttributeError):
            _renameat2 = False
    if _renameat2 is False:
        return False
    import ctypes

    at_fdcwd = -100
    if _renameat2(at_fdcwd, os.fsencode(tmp), at_fdcwd, os.fsencode(path), _RENAME_EXCHANGE) != 0:
        errno = ctypes.get_errno()
        if errno in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: never here, rename from now on
            _renameat2 = False
        return False
    Path(tmp).unlink(missing_ok=True)  # the old version, now under the temporary name
    return True


def _fsync_dir(folder: Path) -> None:
    """The rename itself on disk (the folder's entry)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
