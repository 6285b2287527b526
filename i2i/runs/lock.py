"""An exclusive lock per run directory: one training process writes a run at a time.

``RUN/.i2i-run.lock`` is locked with ``flock`` by ``i2i run`` (and ``--resume``) for as long
as the process lives; the kernel releases it however the process ends (``kill -9``
included). While held, the file names the holder (pid, host, start time, command), so a
second process is refused with a message naming it. A clean exit removes the file; one
left behind by a killed process is a stale lock: the next run takes it over and says so.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import stat
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from i2i.errors import UsageError

LOCK_NAME = ".i2i-run.lock"


class RunInUse(UsageError):
    """The run directory is locked by another live process."""


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or held) a run directory's lock."""

    pid: int
    host: str
    started: str
    command: str

    def describe(self) -> str:
        """``process 1234 on host (i2i run ..., started 2025-01-01 12:00:00)``."""
        if self.pid <= 0:
            return "another process"
        return f"process {self.pid} on {self.host} ({self.command}, started {self.started})"

    def stale_description(self) -> str:
        """The holder of a lock nobody holds any more: it ended without removing the file
        (killed, or its machine stopped); its process id may since belong to another program."""
        if self.pid <= 0:
            return "a process that ended without releasing it"
        reused = self.host == socket.gethostname() and process_alive(self.pid)
        return (f"{self.describe()}, which ended without releasing it (killed or crashed"
                + ("; its process id now belongs to another program" if reused else "") + ")")

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["started"]), str(data["command"]))
        except (ValueError, KeyError, TypeError):
            return None


def current_holder() -> LockHolder:
    """This process as a lock holder."""
    command = " ".join(["i2i", *sys.argv[1:]])
    if len(command) > 120:
        command = command[:117] + "..."
    return LockHolder(os.getpid(), socket.gethostname(), time.strftime("%Y-%m-%d %H:%M:%S"), command)


class RunLock:
    """The lock of run directory ``folder``. :meth:`acquire` takes it or raises
    :class:`RunInUse`; ``stale`` is then the holder a killed process left behind, if any."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / LOCK_NAME
        self.stale: LockHolder | None = None
        self._fd: int | None = None
        self._created = False

    def acquire(self) -> RunLock:
        """Take the lock (creating the folder); never waits."""
        if self.folder.exists() and not self.folder.is_dir():
            raise UsageError(f"{self.folder}: is a file, not a run directory; choose another --out")
        self._created = not self.folder.exists()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"{self.folder}: cannot create the run directory there ({exc.strerror}); "
                             "choose another --out") from None
        while True:
            fd = _open_lock_file(self.path)
            try:
                _lock_soon(fd)
            except OSError as exc:
                holder = LockHolder.parse(_read(fd))
                os.close(fd)
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise UsageError(f"{self.path}: cannot lock the run directory: {exc}") from None
                who = holder.describe() if holder else "another process"
                raise RunInUse(f"{self.folder}: this run directory is in use by {who}; wait for it to end, "
                               f"stop it (kill -INT {holder.pid if holder else 'PID'} saves a checkpoint), "
                               "or choose another --out") from None
            if _same_file(fd, self.path):
                break
            os.close(fd)  # the holder released (and removed) the file between open and lock: retry
        self.stale = LockHolder.parse(_read(fd))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(current_holder().__dict__).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        return self

    def release(self) -> None:
        """Remove the lock file and release the lock (idempotent); a folder the lock created
        and nothing else filled is removed too."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None
        if self._created:
            with contextlib.suppress(OSError):
                self.folder.rmdir()  # only when empty

    def __enter__(self) -> RunLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: Any) -> None:
        self.release()


def holder_of(folder: str | Path) -> LockHolder | None:
    """The live process holding ``folder``'s lock, or None when nobody holds it."""
    path = Path(folder) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return LockHolder.parse(_read(fd)) or LockHolder(0, "?", "?", "?")
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _open_lock_file(path: Path) -> int:
    """The lock file opened for writing, created when missing; refused, naming it, when it is
    a link, a folder, a FIFO or any other non-regular file, or a hard link to another file
    (writing into it would change a file that is not the lock)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644)
    except OSError as exc:
        kind = {errno.ELOOP: "a symbolic link", errno.EISDIR: "a folder"}.get(exc.errno)
        if kind is None:
            raise UsageError(f"{path}: cannot create the run's lock file ({exc.strerror}); choose another --out") \
                from None
        raise UsageError(f"{path}: is {kind}, not i2i's lock file; remove it (a run never leaves one) and try "
                         "again") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        kind = "not a regular file" if not stat.S_ISREG(info.st_mode) else "a hard link to another file"
        raise UsageError(f"{path}: is {kind}, not i2i's lock file; remove it (a run never leaves one) and try again")
    return fd


def _lock_soon(fd: int, tries: int = 5) -> None:
    """``flock(LOCK_EX | LOCK_NB)``, retried briefly: :func:`holder_of` may hold a shared lock
    for an instant while it looks."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES) or attempt == tries - 1:
                raise
            time.sleep(0.02)


def process_alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this machine (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    return True


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def _same_file(fd: int, path: Path) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(fd).st_ino
    except FileNotFoundError:
        return False
