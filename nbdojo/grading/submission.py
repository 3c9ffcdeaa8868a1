"""The one trusted path from a file an agent or a person wrote to the grader.

Everything in a workspace is written by untrusted code that may still be running: a
submission can be a symlink, a FIFO, a sparse file of any apparent size, or swapped for
one of those between two looks at it. So a submission is opened exactly once, relative
to the workspace, without following links and without blocking; `fstat` on that one
descriptor must show a regular file under the size cap; its bytes are copied into a
host-private folder, and validation and grading read that copy alone.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from nbdojo.errors import SubmissionError

__all__ = ["MAX_PATH_CHARS", "check_relative_path", "default_cap", "private_copy", "quote"]

#: Longest submission path accepted (characters), and longest quote of any value in a message.
MAX_PATH_CHARS = 512
QUOTE_CHARS = 100
#: A submission may be this many times its competition's sample_submission.csv, and never less than the floor.
SIZE_FACTOR = 32
SIZE_FLOOR = 16 * 1024**2
_CHUNK = 1 << 20


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """repr() of a value, cut to about `limit` characters with a marker: messages never echo floods."""
    text = repr(value if isinstance(value, str) else str(value))
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}…[{len(text):,} characters]"


def default_cap(sample_submission: Path) -> int:
    """The apparent-size cap for a competition's submissions: generous next to a real one."""
    try:
        size = os.stat(sample_submission).st_size
    except OSError:
        size = 0
    return max(SIZE_FLOOR, SIZE_FACTOR * size)


def check_relative_path(path: object) -> PurePosixPath:
    """A submission path as given by an agent: relative, inside the workspace, no tricks."""
    if not isinstance(path, str) or not path.strip():
        raise SubmissionError("The submission path must be a non-empty string such as 'submission.csv'.")
    if "\x00" in path:
        raise SubmissionError("The submission path contains a NUL byte; use a plain file name such as 'submission.csv'.")
    if len(path) > MAX_PATH_CHARS:
        raise SubmissionError(f"The submission path is {len(path):,} characters long (at most {MAX_PATH_CHARS}); "
                              "use a short name such as 'submission.csv'.")
    relative = PurePosixPath(path.strip())
    if relative.is_absolute() or ".." in relative.parts:
        raise SubmissionError(f"The submission path {quote(path)} points outside the workspace; "
                              "give a path inside it (e.g. 'submission.csv').")
    if not relative.parts or relative.parts == (".",):
        raise SubmissionError("The submission path names the workspace itself; give a file such as 'submission.csv'.")
    return relative


def _open_inside(workspace: Path, relative: PurePosixPath, shown: str) -> int:
    """A descriptor for `relative` under `workspace`, no component followed through a link."""
    flags_dir = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(workspace, flags_dir)
    except OSError as exc:
        raise SubmissionError(f"The workspace cannot be opened ({exc.strerror}).") from None
    try:
        for part in relative.parts[:-1]:
            try:
                child = os.open(part, flags_dir, dir_fd=fd)
            except OSError as exc:
                raise _open_error(exc, shown, folder=part) from None
            os.close(fd)
            fd = child
        try:
            return os.open(relative.parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=fd)
        except OSError as exc:
            raise _open_error(exc, shown) from None
    finally:
        os.close(fd)


def _open_error(exc: OSError, shown: str, folder: str | None = None) -> SubmissionError:
    where = f"its folder {quote(folder)}" if folder else shown
    if exc.errno == errno.ENOENT:
        return SubmissionError(f"{shown} was not found; write your predictions with "
                               "`submission.to_csv('submission.csv', index=False)` before validating.")
    if exc.errno in (errno.ELOOP, errno.EMLINK) or (folder and exc.errno == errno.ENOTDIR):
        what = "a symbolic link or not a folder" if folder else "a symbolic link"
        return SubmissionError(f"{where} is {what}, which could point outside the workspace; the grader reads "
                               "only regular files inside the workspace: write the CSV itself there.")
    return SubmissionError(f"{shown} cannot be opened ({exc.strerror}).")


def _copy(fd: int, dest: Path, cap: int, shown: str) -> None:
    """Copy at most `cap` bytes (the file may still be growing: never trust the first fstat alone)."""
    copied = 0
    with open(dest, "wb") as out:
        while True:
            try:
                block = os.read(fd, _CHUNK)
            except BlockingIOError:  # cannot happen on a regular file; never wait on one that would block
                raise SubmissionError(f"{shown} could not be read without blocking.") from None
            if not block:
                return
            copied += len(block)
            if copied > cap:
                raise SubmissionError(f"{shown} grew past {cap:,} bytes while being read; "
                                      "write it once and validate when it is complete.")
            out.write(block)


@contextlib.contextmanager
def private_copy(workspace: str | Path, path: object, *, cap: int) -> Iterator[Path]:
    """Yield a host-private copy of the workspace's file `path`; every refusal is a `SubmissionError`.

    The copy lives in a fresh 0700 folder of the host's temp dir (the sandbox has its own /tmp)
    and is removed when the block ends.
    """
    relative = check_relative_path(path)
    shown = relative.name
    fd = _open_inside(Path(workspace), relative, shown)
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise SubmissionError(f"{shown} is a folder, not a file; write a CSV file with one row per test id.")
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{shown} is not a regular file (a FIFO, socket or device); "
                                  "write the CSV itself with `DataFrame.to_csv`.")
        if info.st_size > cap:
            raise SubmissionError(f"{shown} is {info.st_size:,} bytes, over the {cap:,}-byte cap for this "
                                  "competition's submissions; write one row per test id and nothing more.")
        with tempfile.TemporaryDirectory(prefix="nbdojo-grade-") as folder:
            dest = Path(folder) / shown  # messages name the file as the agent did
            _copy(fd, dest, cap, shown)
            os.close(fd)
            fd = -1
            yield dest
    finally:
        if fd >= 0:
            os.close(fd)
