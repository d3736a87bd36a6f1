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
from pathlib import Path


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
    this host (a killed writer) is stale and taken over; a live one, or one from another host (whose pid cannot be
    checked), makes `acquire` raise `error` naming its pid. A lock with no readable owner (empty: an older version
    killed between creating and filling it, or a full disk) is stale once UNREADABLE_STALE_S old; a younger one
    may be being filled in by such a version, and counts as held.
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
            # Remove the stale lock only if it is still the one judged stale (another writer may have taken it).
            again, age = self._read(), self._age()
            if other and again == other:
                self.path.unlink(missing_ok=True)
                print(f"{self.path}: taking over the lock of process {other['pid']}, which is gone")
            elif other is None and again is None and age is not None and age > self.UNREADABLE_STALE_S:
                self.path.unlink(missing_ok=True)
                print(f"{self.path}: taking over a lock that names no owner, {age:.0f} s old (its writer is gone)")
        raise self.error(self._busy_message(self._read()))

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

    def _failure(self, err: OSError) -> Exception:
        """A lock that cannot be written (full disk, permissions), as one line naming the lock."""
        from .command_line import error_line

        return self.error(error_line(OSError(err.errno, err.strerror, str(self.path))))

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
