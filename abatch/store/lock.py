"""One runtime per state directory: an exclusive, non-blocking flock on `<state>/runtime.lock`.

The lock file holds the owner's pid so a second runtime can name the holder. The kernel drops
the lock when the process dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from abatch.model.errors import StateDirLockedError

LOCK_NAME = "runtime.lock"


def read_holder(state_dir: Path) -> int | None:
    try:
        text = (state_dir / LOCK_NAME).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def holder_if_locked(state_dir: Path) -> int | None:
    """The pid of the runtime holding the directory, or None when nobody holds it."""
    path = state_dir / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return read_holder(state_dir) or -1
    finally:
        os.close(fd)
    return None


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = read_holder(self.path.parent)
            who = f"the runtime with pid {pid}" if pid else "another runtime"
            raise StateDirLockedError(
                f"state directory {self.path.parent} is in use by {who}; stop it first or "
                "use another state_dir",
                holder_pid=pid,
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
