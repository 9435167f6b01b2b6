"""The supervisor's journal: what it started and how each attempt ended, on disk.

One append-only file of JSON lines in the supervisor's home (`<state dir>/supervisor/journal`):

- `{"k": key, "pid": pid, "at": ms, "log": path, "m": {...}}`: the attempt `key` was started
  as process group `pid` at `at` (epoch milliseconds); `m` is the attempt as the runtime
  names it (job id `job`, attempt number `n`, ...), which also identifies the process after
  a crash (its environment carries both; pids are reused). A start without `m` carries `t`,
  the leader's start time from /proc, instead.
- `{"k": key, "code": c, "sig": s, "reason": r, "at": ms, "m": {...}, "st": ms}`: it ended
  (`code` None when the exit status is lost, with `reason` saying why); `at` is when, `st`
  when it started, `m` as in its start.
- `{"forget": [keys]}`: the runtime has recorded those exits in its own store.

Rules: a record is one line written with one `write` on an O_APPEND descriptor, so it
reaches the page cache whole before anyone is told about it (it survives the death of any
process); a torn last line (a machine crash) fails to parse and is skipped. `fdatasync` runs
in the background, grouped, so a machine crash loses at most the last moments of records,
as the store's own `synchronous=NORMAL` commits would. `compact` rewrites the file with only
what is still wanted (temporary file, fsync, rename, fsync of the directory).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Journal", "JournalState", "read_journal"]

JOURNAL = "journal"


@dataclass(slots=True)
class JournalState:
    """What a journal says: attempts started and not ended, and exits not forgotten."""

    started: dict[str, dict[str, Any]] = field(default_factory=dict)
    exits: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_journal(path: Path) -> JournalState:
    """Replay the journal at `path` (missing: empty). Lines that do not parse are skipped."""
    state = JournalState()
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; a missing file is an empty journal
    except FileNotFoundError:
        return state
    with f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a torn last line
            if not isinstance(rec, dict):
                continue
            if "forget" in rec:
                for key in rec["forget"]:
                    state.exits.pop(key, None)
                continue
            key = rec.get("k")
            if not isinstance(key, str):
                continue
            if "pid" in rec:
                state.started[key] = rec
            else:
                state.started.pop(key, None)
                state.exits[key] = rec
    return state


class Journal:
    """The append side. Not thread-safe except `sync`, which a worker thread may run."""

    def __init__(self, home: Path) -> None:
        self.path = home / JOURNAL
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        self.dirty = False
        self.records = 0  # records written since the last compaction

    def append(self, *records: dict[str, Any]) -> bool:
        """Write `records`, one line each, in one write call. False when the disk refused
        (full, say): the caller carries on (a runtime still hears of the exit), those
        records are just not durable."""
        data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError:
            return False
        finally:
            self.dirty = True
            self.records += len(records)
        return True

    def sync(self) -> None:
        """fdatasync the journal (from a worker thread; never while `compact` runs)."""
        self.dirty = False
        os.fdatasync(self._fd)

    def compact(self, state: JournalState) -> None:
        """Replace the file with `state` alone: running attempts' starts and kept exits."""
        tmp = self.path.with_name(JOURNAL + ".tmp")
        lines = [*state.started.values(), *state.exits.values()]
        data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in lines)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        old, self._fd = self._fd, os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        os.close(old)
        self.dirty = False
        self.records = len(lines)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.fdatasync(self._fd)
        os.close(self._fd)
