"""One writer per output folder: a lock file holding the writer's pid, host and start time.

Used for run folders (`engine.records.RunLock`), synthetic dataset roots (`actionlib synth`) and flow / pose output
roots (`actionlib flow`, `actionlib pose`): two processes writing one folder would mix their files silently.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None


def temporary_path(path: str | Path) -> Path:
    """A hidden temporary name beside `path`, unique per process and call, so two writers never share one."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


class FolderBusyError(ValueError):
    """Another process writes the folder (or its lock cannot be written): a command says so in one line."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


class FolderLock:
    """The lock file `path` of `folder` (by default the folder holding it).

    The lock is written to a temporary beside it and hard-linked into place: the link fails while a lock exists,
    so exactly one writer wins, and no writer ever sees a lock without its owner. A lock whose process is dead on
    this host (a killed writer) is stale and taken over, one takeover at a time (see `_take_over`); a live one, or
    one from another host (whose pid cannot be checked), makes `acquire` raise `error` naming its pid. A lock with
    no readable owner (empty: an older version killed between creating and filling it, or a full disk) is stale
    once UNREADABLE_STALE_S old; a younger one may be being filled in by such a version, and counts as held.
    """

    UNREADABLE_STALE_S = 10.0
    WRITER = "process"  # what writes the folder, in messages

    def __init__(self, path: str | Path, folder: str | Path | None = None, error: type[Exception] = RuntimeError):
        self.path = Path(path)
        self.folder = Path(folder) if folder is not None else self.path.parent
        self.error = error
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        self.held = False

    def acquire(self) -> FolderLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            if self._create():
                self.held = True
                return self
            other = self._read()
            if not self._stale(other):
                raise self.error(self._busy_message(other))
            self._take_over(other)
        raise self.error(self._busy_message(self._read()))

    def _take_over(self, other: dict | None) -> None:
        """Remove the stale lock `other`, if it is still the one in place.

        Re-reading the lock and removing it are two steps: a writer that took the lock between them would lose it.
        So both happen under the takeover guard, which every takeover holds: no one else removes a stale lock
        meanwhile, and a lock that is no longer stale can only be a live writer's, which this re-read sees and
        leaves alone.
        """
        with self._takeover_guard():
            again, age = self._read(), self._age()
            if other and again == other:
                self.path.unlink(missing_ok=True)
                print(f"{self.path}: taking over the lock of process {other['pid']}, which is gone")
            elif other is None and again is None and age is not None and age > self.UNREADABLE_STALE_S:
                self.path.unlink(missing_ok=True)
                print(f"{self.path}: taking over a lock that names no owner, {age:.0f} s old (its writer is gone)")

    @contextmanager
    def _takeover_guard(self) -> Iterator[None]:
        """Hold an exclusive `flock` on the hidden file `.<lock>.takeover` beside the lock, removed on leaving.

        The file is removed while still locked, so a process that opened it before and gets the lock after finds
        its file no longer the one at that name, and opens the new one: two holders never lock different files.
        The lock dies with its process, so a killed takeover leaves nothing to clear but the file. Where there is
        no `flock` (no fcntl, or a file system refusing it), the takeover goes on unguarded, as it did before.
        """
        guard = self.path.with_name(f".{self.path.name}.takeover")
        fd = self._lock_guard(guard)
        try:
            yield
        finally:
            guard.unlink(missing_ok=True)
            if fd is not None:
                os.close(fd)

    def _lock_guard(self, guard: Path) -> int | None:
        """An open descriptor of `guard` holding its exclusive lock; None where files cannot be locked."""
        if fcntl is None:
            return None
        while True:
            try:
                fd = os.open(guard, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as err:
                raise self._failure(err, guard) from err
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                held, named = os.fstat(fd), os.stat(guard)
            except FileNotFoundError:  # the previous holder removed it: lock the one now there
                os.close(fd)
                continue
            except OSError:  # e.g. ENOLCK on a network file system without locks
                os.close(fd)
                return None
            if (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino):
                return fd
            os.close(fd)

    def _create(self) -> bool:
        """Put the lock in place with its content in one step; False when a lock exists already."""
        tmp = temporary_path(self.path)
        try:
            try:
                self._write_owner(open(tmp, "w"))
            except OSError as err:
                raise self._failure(err) from err
            try:
                os.link(tmp, self.path)
            except (FileExistsError, FileNotFoundError):  # not found: the holder removed its stale temporaries
                return False
            except OSError as err:
                if err.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):  # a file system without hard links
                    return self._create_in_place()
                raise self._failure(err) from err
            return True
        finally:
            tmp.unlink(missing_ok=True)

    def _create_in_place(self) -> bool:
        """Where there are no hard links: create with O_EXCL, then fill in (others see it empty meanwhile)."""
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as err:
            raise self._failure(err) from err
        try:
            self._write_owner(os.fdopen(fd, "w"))
        except OSError as err:
            self.path.unlink(missing_ok=True)
            raise self._failure(err) from err
        return True

    def _write_owner(self, file) -> None:
        with file:
            json.dump(self.owner, file)
            file.flush()
            os.fsync(file.fileno())

    def _failure(self, err: OSError, path: Path | None = None) -> Exception:
        """A lock that cannot be written (full disk, permissions), as one line naming the lock (or `path`)."""
        from .command_line import error_line

        return self.error(error_line(OSError(err.errno, err.strerror, str(path or self.path))))

    def release(self) -> None:
        if self.held and self._read() == self.owner:
            self.path.unlink(missing_ok=True)
        self.held = False

    def _read(self) -> dict | None:
        """The lock's owner; {} when there is no lock, None when it names no owner (empty, torn, unreadable)."""
        try:
            value = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            return None
        return value if isinstance(value, dict) and isinstance(value.get("pid"), int) else None

    def _age(self) -> float | None:
        """Seconds since the lock was written; None when it is gone."""
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return None

    def _stale(self, other: dict | None) -> bool:
        if other == {}:  # removed meanwhile
            return True
        if other is None:
            age = self._age()
            return age is None or age > self.UNREADABLE_STALE_S
        if other.get("host") != self.owner["host"]:
            return False
        return other["pid"] != os.getpid() and not _alive(other["pid"])

    def _busy_message(self, other: dict | None) -> str:
        if not other:
            age = self._age()
            return (
                f"{self.folder} is being written by another process ({self.path} exists, {age or 0:.0f} s old, "
                f"with no owner yet): try again in a few seconds, or remove it if no {self.WRITER} is writing"
            )
        return (
            f"{self.folder} is being written by process {other.get('pid')} on {other.get('host')}: wait for it to "
            f"finish, or remove {self.path} if that process is gone"
        )

    def __enter__(self) -> FolderLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
