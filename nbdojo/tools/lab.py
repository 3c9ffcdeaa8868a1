"""JupyterLab for people, safely: what nbdojo's JupyterLab servers (`nbdojo play --open`, `nbdojo watch`) may
touch and start.

Those servers run as the person who started them (often root), on a folder that holds the workspace of a
sandboxed kernel (a person's play kernel, or an agent's episode kernel). That kernel can write anything into
its workspace, symbolic links included, pointing anywhere on the host: a server that followed them would read
the competition's private answers for it, or write any host file. So, here:

- `SafeContentsManager` (JupyterLab's contents API, `/files/`, `/view/`, `/nbconvert/`, collaboration) refuses
  any path with a symbolic link anywhere below its root, any `..` or `.` segment and anything outside the root,
  for reads, writes, renames, copies, deletes, checkpoints and directory listings (a listing leaves links out).
  The checks are not only made up front: every file and folder is then opened one path segment at a time with
  O_NOFOLLOW from the root (`openat`), so a link swapped in after the check is not followed either. A save
  writes a new file and renames it over the old one (never through a link or into another file's inode);
  deleting is permanent (moving to a trash folder works by path; a non-empty folder is refused unless
  `always_delete_dir`).
- `AttachOnlyKernelManager` (watch) starts no kernel at all: a notebook or console can only use a kernel that
  is already running, i.e. a live episode kernel published as an external kernel, which stays in its sandbox.
- `SandboxOnlyKernelManager` (play) starts only the kernel specs it is given, and only if their argv is nbdojo's
  sandbox launcher command: asking for `python3` by name does not start a host kernel.
- `server_args()` is the command line that wires them in, with terminals off and JupyterLab's extension
  manager read-only (both would give whoever holds the token a shell or code execution on the host).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import shutil
import stat
import uuid
from base64 import decodebytes
from collections.abc import Iterator
from functools import partial
from typing import Any

import nbformat
from anyio.to_thread import run_sync
from jupyter_core.paths import is_file_hidden, is_hidden
from jupyter_server.files.handlers import FilesHandler
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado import web
from traitlets import Bool, default

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_TMP_PREFIX = ".~nbdojo-"
LINK_REFUSED = "nbdojo's JupyterLab does not follow symbolic links"


def _refused_link(api_path: str) -> web.HTTPError:
    return web.HTTPError(403, f"{api_path} is a symbolic link, or lies inside one: {LINK_REFUSED}.")


class NoLinksMixin:
    """File access below `root_dir` that never follows a symbolic link, for a contents manager and its
    checkpoints (both FileManagerMixin classes). Put it first among the bases."""

    root_dir: str
    log: Any

    # ----- paths -----------------------------------------------------------------------------

    @property
    def _root(self) -> str:
        return os.path.abspath(self.root_dir)

    def _get_os_path(self, path: str) -> str:
        """The OS path of an API path, refused (HTTP 400/403/404) if it has a `.` or `..` segment, leaves the
        root, or has a symbolic link in any segment below the root."""
        segments = [s for s in str(path).strip("/").split("/") if s]
        if any(s in (".", "..") for s in segments):
            raise web.HTTPError(400, f"{path}: '.' and '..' are not allowed in a path here.")
        os_path = super()._get_os_path(path)  # type: ignore[misc]  # outside the root, NUL bytes: 404
        self._refuse_links(os_path)
        return os_path  # type: ignore[no-any-return]

    def _parts(self, os_path: str) -> list[str]:
        """The segments of an OS path below the root; HTTP 404 for one that is not below it."""
        root = self._root
        if os_path == root:
            return []
        prefix = root if root.endswith(os.sep) else root + os.sep
        if not os_path.startswith(prefix):
            raise web.HTTPError(404, "The path is outside the root folder.")
        parts = [p for p in os_path[len(prefix):].split(os.sep) if p]
        if any(p in (".", "..") for p in parts):
            raise web.HTTPError(400, "'.' and '..' are not allowed in a path here.")
        return parts

    def _api(self, os_path: str) -> str:
        with contextlib.suppress(web.HTTPError):
            return "/".join(self._parts(os_path))
        return os.path.basename(os_path)

    def _refuse_links(self, os_path: str) -> None:
        """HTTP 403 if a segment of the path below the root is a symbolic link (the missing tail of a path to
        be created is fine)."""
        parts = self._parts(os_path)
        current = self._root
        for i, part in enumerate(parts):
            current = os.path.join(current, part)
            try:
                info = os.lstat(current)
            except OSError:
                return  # not there (or not a folder on the way): whatever comes next fails on its own
            if stat.S_ISLNK(info.st_mode):
                raise _refused_link("/".join(parts[: i + 1]))

    # ----- opening without following links ---------------------------------------------------

    @contextlib.contextmanager
    def _fs_errors(self, os_path: str) -> Iterator[None]:
        """OS errors as HTTP errors: a link met (ELOOP, or ENOTDIR from O_DIRECTORY|O_NOFOLLOW), a missing
        file, a permission."""
        try:
            yield
        except OSError as exc:
            api = self._api(os_path)
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise web.HTTPError(403, f"{api}: a symbolic link or a file is on the way ({LINK_REFUSED}).") from exc
            if exc.errno == errno.ENOENT:
                raise web.HTTPError(404, f"No such file or directory: {api}") from exc
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise web.HTTPError(403, f"Permission denied: {api}") from exc
            raise

    def _open_dir(self, parts: list[str]) -> int:
        """A file descriptor of the folder root/parts..., each segment opened with O_NOFOLLOW (raises OSError)."""
        fd = os.open(self._root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            for part in parts:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return fd

    @contextlib.contextmanager
    def _dir_fd(self, os_path: str) -> Iterator[int]:
        with self._fs_errors(os_path):
            fd = self._open_dir(self._parts(os_path))
        try:
            yield fd
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _parent(self, os_path: str) -> Iterator[tuple[int, str]]:
        """(a descriptor of the parent folder, opened without following links; the last segment's name)."""
        parts = self._parts(os_path)
        if not parts:
            raise web.HTTPError(403, "The root folder itself cannot be changed here.")
        with self._fs_errors(os_path):
            fd = self._open_dir(parts[:-1])
        try:
            yield fd, parts[-1]
        finally:
            os.close(fd)

    def _lstat(self, os_path: str) -> os.stat_result | None:
        """The path's own status (a link's, not its target's), or None if there is nothing there."""
        if not self._parts(os_path):
            return os.stat(self._root)
        try:
            with self._parent(os_path) as (dir_fd, name):
                return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except web.HTTPError as exc:
            if exc.status_code == 404:
                return None
            raise
        except FileNotFoundError:
            return None

    def _open_file(self, os_path: str, flags: int, mode: int = 0o666) -> int:
        """A descriptor of a regular file, opened without following a link anywhere on its path."""
        with self._parent(os_path) as (dir_fd, name), self._fs_errors(os_path):
            fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, mode, dir_fd=dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # a FIFO would block the server, a device is not a file
            os.close(fd)
            raise web.HTTPError(400, f"{self._api(os_path)} is not a regular file.")
        return fd

    # ----- FileManagerMixin's file access -----------------------------------------------------

    @contextlib.contextmanager
    def open(self, os_path: str, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Open a file for reading (FileManagerMixin.open, used by _read_file) without following links."""
        mode = args[0] if args else kwargs.pop("mode", "r")
        if set(mode) & set("wax+"):
            raise web.HTTPError(500, "nbdojo's contents manager writes through atomic_writing only.")
        with self.perm_to_403(os_path):  # type: ignore[attr-defined]
            fd = self._open_file(os_path, os.O_RDONLY)
        with io.open(fd, mode, *args[1:], **kwargs) as f:  # noqa: UP020 - io.open on a descriptor
            yield f

    @contextlib.contextmanager
    def atomic_writing(self, os_path: str, text: bool = True, encoding: str = "utf-8", **kwargs: Any) -> Iterator[Any]:
        """Write a new file next to the target and rename it over the target: never through a link, never into
        another file's inode (a hard link). An existing file's mode and owner carry over."""
        kwargs.pop("log", None)
        with self.perm_to_403(os_path), self._parent(os_path) as (dir_fd, name):  # type: ignore[attr-defined]
            with self._fs_errors(os_path):
                try:
                    old: os.stat_result | None = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                except FileNotFoundError:
                    old = None
            if old is not None and stat.S_ISLNK(old.st_mode):
                raise _refused_link(self._api(os_path))
            if old is not None and not stat.S_ISREG(old.st_mode):
                raise web.HTTPError(400, f"{self._api(os_path)} is not a regular file.")
            if old is not None and not os.access(name, os.W_OK, dir_fd=dir_fd, follow_symlinks=False):
                raise PermissionError(errno.EACCES, "File is not writable", os_path)  # as writing in place would
            tmp = f"{_TMP_PREFIX}{uuid.uuid4().hex[:12]}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o600 if old is not None else 0o666, dir_fd=dir_fd)
            try:
                if old is not None:
                    os.fchmod(fd, stat.S_IMODE(old.st_mode))
                    with contextlib.suppress(OSError):
                        os.fchown(fd, old.st_uid, old.st_gid)
                if text:
                    kwargs.setdefault("newline", "\n")
                    f = io.open(fd, "w", encoding=encoding, **kwargs)  # noqa: UP020, SIM115
                else:
                    f = io.open(fd, "wb", **kwargs)  # noqa: UP020, SIM115
                with f:
                    yield f
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp, dir_fd=dir_fd)
                raise

    def _copy_nofollow(self, src: str, dest: str) -> None:
        """Copy a regular file (content, mode, times) without following a link at either end."""
        with self.perm_to_403(src):  # type: ignore[attr-defined]
            fd = self._open_file(src, os.O_RDONLY)
            with io.open(fd, "rb") as fsrc:  # noqa: UP020
                info = os.fstat(fsrc.fileno())
                with self.atomic_writing(dest, text=False) as fdst:
                    shutil.copyfileobj(fsrc, fdst)
                    fdst.flush()
                    with contextlib.suppress(OSError):
                        os.fchmod(fdst.fileno(), stat.S_IMODE(info.st_mode))
                        os.utime(fdst.fileno(), ns=(info.st_atime_ns, info.st_mtime_ns))

    async def _copy(self, src: str, dest: str) -> None:
        await run_sync(self._copy_nofollow, src, dest)

    def _rename_nofollow(self, old_os_path: str, new_os_path: str) -> None:
        with self._parent(old_os_path) as (old_fd, old_name), self._parent(new_os_path) as (new_fd, new_name), \
                self._fs_errors(old_os_path):
            os.rename(old_name, new_name, src_dir_fd=old_fd, dst_dir_fd=new_fd)

    def _unlink_nofollow(self, os_path: str) -> None:
        with self._parent(os_path) as (dir_fd, name), self._fs_errors(os_path):
            os.unlink(name, dir_fd=dir_fd)


class SafeCheckpoints(NoLinksMixin, AsyncFileCheckpoints):
    """File checkpoints (`.ipynb_checkpoints/` next to the file) made, listed, restored, renamed and deleted
    without following a link: a checkpoint folder or file that is a link is refused, never written through."""

    def checkpoint_path(self, checkpoint_id: str, path: str) -> str:
        path = path.strip("/")
        parent, name = ("/" + path).rsplit("/", 1)
        basename, ext = os.path.splitext(name)
        os_parent = self._get_os_path(parent.strip("/"))
        cp_dir = os.path.join(os_parent, self.checkpoint_dir)
        with self.perm_to_403(cp_dir), self._parent(cp_dir) as (dir_fd, dir_name), self._fs_errors(cp_dir):
            try:
                os.mkdir(dir_name, 0o755, dir_fd=dir_fd)
            except FileExistsError:
                if not stat.S_ISDIR(os.stat(dir_name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    raise _refused_link(self._api(cp_dir)) from None
        cp_path = os.path.join(cp_dir, f"{basename}-{checkpoint_id}{ext}")
        self._refuse_links(cp_path)
        return cp_path

    def _regular(self, os_path: str) -> os.stat_result | None:
        info = self._lstat(os_path)
        return info if info is not None and stat.S_ISREG(info.st_mode) else None

    async def checkpoint_model(self, checkpoint_id: str, os_path: str) -> dict[str, Any]:
        from jupyter_server import _tz as tz

        info = await run_sync(self._regular, os_path)
        if info is None:
            raise web.HTTPError(404, f"Checkpoint does not exist: {self._api(os_path)}")
        return {"id": checkpoint_id, "last_modified": tz.utcfromtimestamp(info.st_mtime)}

    async def list_checkpoints(self, path: str) -> list[dict[str, Any]]:
        os_path = self.checkpoint_path("checkpoint", path.strip("/"))
        if await run_sync(self._regular, os_path) is None:
            return []
        return [await self.checkpoint_model("checkpoint", os_path)]

    async def rename_checkpoint(self, checkpoint_id: str, old_path: str, new_path: str) -> None:
        old_cp = self.checkpoint_path(checkpoint_id, old_path)
        new_cp = self.checkpoint_path(checkpoint_id, new_path)
        if await run_sync(self._regular, old_cp) is not None:
            with self.perm_to_403():
                await run_sync(self._rename_nofollow, old_cp, new_cp)

    async def delete_checkpoint(self, checkpoint_id: str, path: str) -> None:
        path = path.strip("/")
        cp_path = self.checkpoint_path(checkpoint_id, path)
        if await run_sync(self._regular, cp_path) is None:
            self.no_such_checkpoint(path, checkpoint_id)
        with self.perm_to_403():
            await run_sync(self._unlink_nofollow, cp_path)


class SafeContentsManager(NoLinksMixin, AsyncLargeFileManager):
    """JupyterLab's file contents manager, refusing symbolic links and paths out of the root (see the module
    docstring). `/files/` goes through it too (jupyter_server's FilesHandler), not tornado's static handler."""

    delete_to_trash = Bool(False, config=True, help="Ignored: deleting is permanent (a trash works by path).")

    @default("checkpoints_class")
    def _checkpoints_class_default(self) -> type:
        return SafeCheckpoints

    @default("files_handler_class")
    def _files_handler_class_default(self) -> type:
        return FilesHandler

    @default("files_handler_params")
    def _files_handler_params_default(self) -> dict[str, Any]:
        return {"path": self.root_dir}  # tornado's StaticFileHandler.initialize wants one; FilesHandler reads via us

    # ----- reading ----------------------------------------------------------------------------

    async def _read_notebook(self, os_path: str, as_version: int = 4, capture_validation_error: Any = None,
                             raw: bool = False) -> Any:
        """As jupyter_server's, without its recovery from a `.~name` file (moved into place by path)."""
        answer = await self._read_file(os_path, "text", raw)
        try:
            nb = await run_sync(partial(nbformat.reads, as_version=as_version,
                                        capture_validation_error=capture_validation_error), answer[0])
        except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
            raise web.HTTPError(400, f"Unreadable Notebook: {self._api(os_path)} {exc!r}") from exc
        return (nb, answer[2]) if raw else nb

    def _list_dir(self, os_path: str) -> list[tuple[str, os.stat_result]]:
        """The regular files and folders in a folder (never a link, FIFO or device), read from a descriptor."""
        found = []
        with self._dir_fd(os_path) as fd, self._fs_errors(os_path), os.scandir(fd) as entries:
            for entry in entries:
                try:
                    info = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISREG(info.st_mode) or stat.S_ISDIR(info.st_mode):
                    found.append((entry.name, info))
        return found

    async def _dir_model(self, path: str, content: bool = True) -> dict[str, Any]:
        os_path = self._get_os_path(path)
        four_o_four = f"directory does not exist: {path!r}"
        info = await run_sync(self._lstat, os_path)
        if info is None or not stat.S_ISDIR(info.st_mode):
            raise web.HTTPError(404, four_o_four)
        if not self.allow_hidden and is_hidden(os_path, self.root_dir):
            raise web.HTTPError(404, four_o_four)
        model = self._base_model(path)
        model["type"] = "directory"
        model["size"] = None
        if content:
            model["content"] = contents = []
            for name, entry_info in await run_sync(self._list_dir, os_path):
                if not self.should_list(name):
                    continue
                if not self.allow_hidden and is_file_hidden(os.path.join(os_path, name), stat_res=entry_info):
                    continue
                try:
                    contents.append(await self.get(path=f"{path}/{name}", content=False))
                except (web.HTTPError, OSError):  # changed (to a link, say) since the listing: left out
                    continue
            model["format"] = "json"
        return model

    # ----- writing ----------------------------------------------------------------------------

    async def _save_large_file(self, os_path: str, content: str, format: str) -> None:  # noqa: A002
        """A later chunk of an upload, appended without following a link (jupyter_server's follows one)."""
        if format not in {"text", "base64"}:
            raise web.HTTPError(400, "Must specify format of file contents as 'text' or 'base64'")
        try:
            data = content.encode("utf8") if format == "text" else decodebytes(content.encode("ascii"))
        except Exception as exc:  # noqa: BLE001
            raise web.HTTPError(400, f"Encoding error saving {self._api(os_path)}: {exc}") from exc

        def append() -> None:
            with self.perm_to_403(os_path):
                fd = self._open_file(os_path, os.O_WRONLY | os.O_APPEND)
                with io.open(fd, "ab") as f:  # noqa: UP020
                    f.write(data)

        await run_sync(append)

    async def _save_directory(self, os_path: str, model: dict[str, Any], path: str = "") -> None:
        if not self.allow_hidden and is_hidden(os_path, self.root_dir):
            raise web.HTTPError(400, f"Cannot create hidden directory {path!r}")

        def mkdir() -> None:
            with self.perm_to_403(os_path), self._parent(os_path) as (dir_fd, name), self._fs_errors(os_path):
                try:
                    os.mkdir(name, dir_fd=dir_fd)
                except FileExistsError:
                    if not stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                        raise web.HTTPError(400, f"Not a directory: {path}") from None

        await run_sync(mkdir)

    async def delete_file(self, path: str) -> None:
        path = path.strip("/")
        os_path = self._get_os_path(path)
        if not self.allow_hidden and is_hidden(os_path, self.root_dir):
            raise web.HTTPError(400, f"Cannot delete file or directory {path!r}")
        cp_dir = getattr(self.checkpoints, "checkpoint_dir", None)

        def delete() -> None:
            with self.perm_to_403(os_path), self._parent(os_path) as (dir_fd, name), self._fs_errors(os_path):
                info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    raise _refused_link(path)
                if not stat.S_ISDIR(info.st_mode):
                    os.unlink(name, dir_fd=dir_fd)
                    return
                if not self.always_delete_dir:
                    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                    try:
                        left = set(os.listdir(fd)) - {cp_dir}
                    finally:
                        os.close(fd)
                    if left:
                        raise web.HTTPError(400, f"Directory {path} not empty")
                shutil.rmtree(name, dir_fd=dir_fd)  # fd-based: removes links, never follows them

        await run_sync(delete)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        old_path, new_path = old_path.strip("/"), new_path.strip("/")
        if new_path == old_path:
            return
        new_os_path = self._get_os_path(new_path)
        old_os_path = self._get_os_path(old_path)
        if not self.allow_hidden and (is_hidden(old_os_path, self.root_dir) or is_hidden(new_os_path, self.root_dir)):
            raise web.HTTPError(400, f"Cannot rename file or directory {old_path!r}")
        old = await run_sync(self._lstat, old_os_path)
        if old is None:
            raise web.HTTPError(404, f"File or directory does not exist: {old_path}")
        new = await run_sync(self._lstat, new_os_path)
        if new is not None and (new.st_dev, new.st_ino) != (old.st_dev, old.st_ino):
            raise web.HTTPError(409, f"File already exists: {new_path}")
        try:
            with self.perm_to_403():
                await run_sync(self._rename_nofollow, old_os_path, new_os_path)
        except web.HTTPError:
            raise
        except OSError as exc:
            if exc.errno == errno.EXDEV:
                raise web.HTTPError(400, f"Cannot move {old_path} to another file system here.") from exc
            raise web.HTTPError(500, f"Unknown error renaming file: {old_path} {exc}") from exc

    # ----- copying a folder -------------------------------------------------------------------

    def _links_in(self, fd: int, prefix: str) -> list[str]:
        """The links (and other non-files) under a folder descriptor, as paths relative to it."""
        bad = []
        with os.scandir(fd) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(info.st_mode):
                    child = os.open(entry.name, _DIR_FLAGS, dir_fd=fd)
                    try:
                        bad += self._links_in(child, f"{prefix}{entry.name}/")
                    finally:
                        os.close(child)
                elif not stat.S_ISREG(info.st_mode):
                    bad.append(prefix + entry.name)
        return bad

    def _copy_tree_at(self, src_fd: int, dst_parent_fd: int, name: str) -> None:
        os.mkdir(name, 0o777, dir_fd=dst_parent_fd)
        dst_fd = os.open(name, _DIR_FLAGS, dir_fd=dst_parent_fd)
        try:
            with os.scandir(src_fd) as entries:
                for entry in entries:
                    info = entry.stat(follow_symlinks=False)
                    if stat.S_ISDIR(info.st_mode):
                        child = os.open(entry.name, _DIR_FLAGS, dir_fd=src_fd)
                        try:
                            self._copy_tree_at(child, dst_fd, entry.name)
                        finally:
                            os.close(child)
                    elif stat.S_ISREG(info.st_mode):
                        fin = os.open(entry.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                                      dir_fd=src_fd)
                        with io.open(fin, "rb") as fsrc:  # noqa: UP020
                            if not stat.S_ISREG(os.fstat(fin).st_mode):
                                continue
                            fout = os.open(entry.name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                           | os.O_CLOEXEC, stat.S_IMODE(info.st_mode), dir_fd=dst_fd)
                            with io.open(fout, "wb") as fdst:  # noqa: UP020
                                shutil.copyfileobj(fsrc, fdst)
                    # a link (or FIFO...) that appeared after the check: never followed, not copied
        finally:
            os.close(dst_fd)

    async def _copy_dir(self, from_path: str, to_path_original: str, to_name: str, to_path: str) -> dict[str, Any]:
        src = self._get_os_path(from_path.strip("/"))
        dest = os.path.join(self._get_os_path(to_path_original.strip("/")), to_name)
        self._refuse_links(dest)

        def copy() -> None:
            with self._dir_fd(src) as src_fd, self._fs_errors(src):
                bad = self._links_in(src_fd, "")
                if bad:
                    shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
                    raise web.HTTPError(400, f"{from_path} holds symbolic links or special files ({shown}): "
                                             f"not copied ({LINK_REFUSED}).")
                with self._parent(dest) as (dst_parent_fd, dst_name), self._fs_errors(dest):
                    self._copy_tree_at(src_fd, dst_parent_fd, dst_name)

        try:
            with self.perm_to_403():
                await run_sync(copy)
        except OSError as exc:
            raise web.HTTPError(400, f"Can't copy '{from_path}' into folder '{to_path}'") from exc
        return await self.get(to_path, content=False)  # type: ignore[no-any-return]
