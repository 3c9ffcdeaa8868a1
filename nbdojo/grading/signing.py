"""Signed results: an HMAC over a grade and the notebook it belongs to, keyed by a secret in nbdojo's home.

A notebook is untrusted (anyone can write `metadata.nbdojo.final`); nbdojo's home is not: no
kernel sees it (the sandbox binds only the system, the Python environment, the public data
folder and the workspace). So every grade nbdojo writes carries `sign(grade, identity)`, and a
reader (`compare`, `export`, `score`) believes a grade only when `verify` says the same key
signed that grade for that notebook. The key is 32 random bytes, made once per home.

A leaf: imports nothing of nbdojo but its config and errors.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nbdojo.config import nbdojo_home
from nbdojo.errors import ConfigError

ALGORITHM = "hmac-sha256"
KEY_FILE = "signing.key"
KEY_BYTES = 32

_cache: dict[Path, bytes] = {}


def key_path() -> Path:
    return nbdojo_home() / KEY_FILE


def _read_key(path: Path) -> bytes:
    """The key at `path`; a file being written by a racing process (no link: see `_create`) is waited for."""
    for _ in range(50):
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
        time.sleep(0.02)
    raise ConfigError(f"The signing key {path} is not {KEY_BYTES} bytes long: remove it to make a new one "
                      "(results it signed will then read as unverified).")


def _create(path: Path) -> None:
    """Make the key once, atomically: written whole to a private temp file (O_EXCL, mode 0600), then linked
    to its name, which fails if another process got there first: then both use that process's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{os.urandom(4).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(os.urandom(KEY_BYTES))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links: create the name itself, exclusively
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return
            with os.fdopen(fd, "wb") as fh:
                fh.write(tmp.read_bytes())
                fh.flush()
                os.fsync(fh.fileno())
    finally:
        tmp.unlink(missing_ok=True)


def load_key() -> bytes:
    """This home's signing key, made on first use."""
    path = key_path()
    if path not in _cache:
        if not path.exists():
            _create(path)
        _cache[path] = _read_key(path)
    return _cache[path]


def existing_key() -> bytes | None:
    """This home's signing key if it has one (a reader never makes a key: with none, nothing verifies)."""
    path = key_path()
    if path not in _cache and not path.exists():
        return None
    return load_key()


def key_id(key: bytes | None = None) -> str | None:
    """A short public fingerprint of the key (which home signed), never the key itself."""
    key = key if key is not None else existing_key()
    return hashlib.sha256(b"nbdojo-key-id:" + key).hexdigest()[:12] if key is not None else None


def canonical(value: Any, *, legacy_nan: bool = False) -> bytes:
    """One byte string per JSON value: sorted keys, no spaces; floats as repr. NaN and infinities read as null,
    as the trajectory file writes them (strict JSON), so a notebook read back signs the same as the dict written.
    `legacy_nan`: keep them as `NaN`, as notebooks written before strict JSON were signed."""
    return json.dumps(value if legacy_nan else _finite(value), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=True).encode("ascii")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def _mac(key: bytes, record: Mapping[str, Any] | None, notebook_identity: Mapping[str, Any], *,
         legacy_nan: bool = False) -> str:
    message = canonical({"grade": record, "notebook": notebook_identity}, legacy_nan=legacy_nan)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(record: Mapping[str, Any] | None, notebook_identity: Mapping[str, Any]) -> str:
    """The HMAC-SHA256 (hex) of a grade record bound to the notebook it is written into."""
    return _mac(load_key(), record, notebook_identity)


def verify(record: Mapping[str, Any] | None, notebook_identity: Mapping[str, Any], signature: Any) -> bool:
    """Whether this home's key signed this record for this notebook (False without a key or a signature)."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        key = existing_key()
    except (OSError, ConfigError):
        return False
    if key is None:
        return False
    try:
        return any(hmac.compare_digest(_mac(key, record, notebook_identity, legacy_nan=legacy), signature)
                   for legacy in (False, True))  # True: a grade with a NaN, signed before strict JSON
    except (TypeError, ValueError):  # not JSON (a hand-made record): nothing nbdojo signed
        return False
