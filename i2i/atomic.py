"""Writing files whole or not at all, and never through a link somebody planted: the one
home of i2i's file writes into run directories and output folders.

A file is written into a new temporary beside its target (a private ``0700`` folder made by
:func:`tempfile.mkdtemp`, so nobody else can put anything in its place), then renamed over
the target with :func:`os.replace`, which replaces a symlink found at the target instead of
writing through it. A write that fails (a full disk, a writer's error) removes its
temporary and leaves the target as it was: never a truncated or empty file. A folder where
a file is to go is refused with :class:`WriteError` naming it. Lines appended to a log
(:func:`append_text`) open it with ``O_NOFOLLOW``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from i2i.errors import I2IError

#: Prefix of the temporaries' private folders (a restarted run removes those a killed writer left).
TEMP_PREFIX = ".i2i-tmp-"


class WriteError(I2IError):
    """A file cannot be written where i2i writes it (a folder or a special file in its place)."""


def check_target(path: Path) -> None:
    """Refuse a target that exists as something other than a file or a link (a folder, a
    FIFO, a device): a rename would fail on it, or replace a folder of the user's."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
        return
    kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
    raise WriteError(f"{path}: is {kind}; i2i writes a file of that name there: move it away, or choose "
                     "another output location")


@contextlib.contextmanager
def atomic_path(path: str | Path, durable: bool = False, exclusive: bool = False) -> Iterator[Path]:
    """A temporary path of the same name as ``path`` for a writer that takes a file name
    (an image library, a DICOM writer), moved over ``path`` (its folder made when missing)
    when the block ends without an error; removed with its private folder otherwise, and a
    writer's error then names ``path``. ``durable`` fsyncs the file and its folder
    (checkpoint data); ``exclusive`` never replaces an existing ``path`` (``FileExistsError``)."""
    path = Path(path)
    check_target(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=path.parent))
    temporary = folder / path.name
    try:
        yield temporary
        if not temporary.is_file() or temporary.is_symlink():
            raise WriteError(f"{path}: the writer left no file")
        if durable:
            fsync(temporary)
        os.chmod(temporary, 0o666 & ~current_umask())
        try:
            if exclusive:
                os.link(temporary, path, follow_symlinks=False)  # fails when anything is there
            else:
                os.replace(temporary, path)
        except IsADirectoryError:
            check_target(path)
            raise
        if durable:
            fsync(path.parent)
    except Exception as exc:
        _name_the_target(exc, temporary, path)
        raise
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _name_the_target(exc: Exception, temporary: Path, path: Path) -> None:
    """A writer's error names the file the user asked for, not the private temporary."""
    if isinstance(exc, OSError) and exc.filename == str(temporary):
        exc.filename = str(path)
    elif len(exc.args) == 1 and isinstance(exc.args[0], str) and str(temporary) in exc.args[0]:
        exc.args = (exc.args[0].replace(str(temporary), str(path)),)


def write_bytes(path: str | Path, data: bytes, durable: bool = False, exclusive: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (see the module's docstring); ``exclusive``: only
    when nothing is there (``FileExistsError`` otherwise)."""
    with atomic_path(path, durable, exclusive) as temporary:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            _write_all(temporary, f, data)
    return Path(path)


def write_text(path: str | Path, text: str, durable: bool = False, exclusive: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`write_bytes`)."""
    return write_bytes(path, text.encode("utf-8"), durable, exclusive)


@contextlib.contextmanager
def atomic_folder(path: str | Path) -> Iterator[Path]:
    """A private staging folder to fill, renamed to ``path`` (which must not exist, or be an
    empty folder) when the block ends without an error; removed otherwise, so a failure
    (a full disk) never leaves half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=path.parent))
    try:
        yield staging
        os.chmod(staging, 0o777 & ~current_umask())
        if path.is_symlink():
            raise WriteError(f"{path}: is a symbolic link; i2i does not write through it: remove it")
        os.replace(staging, path)  # an existing folder must be empty, else OSError (ENOTEMPTY)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` to the log file ``path`` (created when missing), refusing a link or
    anything but a regular file in its place."""
    path = Path(path)
    check_target(path)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise WriteError(f"{path}: is a symbolic link; i2i appends to its own log file there and does not "
                             "follow links: remove the link") from None
        raise
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise WriteError(f"{path}: is not a regular file; i2i appends its log there: move it away")
        f.write(text)


def _write_all(path: Path, f, data: bytes) -> None:
    """The one place bytes reach a file, ``f`` open on ``path`` (tests replace it to fake a full disk)."""
    f.write(data)


def fsync(path: Path) -> None:
    """Flush a file's or a folder's entries to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process's umask (new files get ``0o666 & ~umask``, folders ``0o777 & ~umask``)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
