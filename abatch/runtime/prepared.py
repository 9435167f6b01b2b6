"""Attempt files made ahead of time, off the event loop.

Each attempt needs a working directory and a log file. Creating them costs 0.05-0.6 ms each
on this project's VMs (a journal-less ext4, where each new inode first skips the ones deleted
in the last minute; README, Benchmarks), more than spawning the job, and it would block the
event loop. A background thread keeps a small pool of task ids
whose files already exist; placing an attempt takes one, and the pool refills behind it.
The pool starts small and doubles each time it runs half empty: a one-job run makes 16
pairs of files, not 256 (on this VM's root filesystem the extra 480 creations and removals
cost a one-job `abatch run` 0.25 s), while a long run soon has 256 ready.
Both are the owner's only (directory 0700, log 0600), whatever the umask: a job's output may
hold its secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections import deque
from pathlib import Path

import anyio

from abatch.model.paths import work_dir

POOL_START = 16
POOL_MAX = 256


def _create(state_dir: Path, task_ids: list[str]) -> None:
    logs = state_dir / "logs"
    logs.mkdir(mode=0o700, parents=True, exist_ok=True)
    (state_dir / "work").mkdir(mode=0o700, parents=True, exist_ok=True)
    for task_id in task_ids:
        os.mkdir(work_dir(state_dir, task_id), 0o700)
        fd = os.open(logs / task_id, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)


def _remove(state_dir: Path, task_ids: list[str]) -> None:
    for task_id in task_ids:
        with contextlib.suppress(OSError):
            os.rmdir(work_dir(state_dir, task_id))
        with contextlib.suppress(OSError):
            os.unlink(state_dir / "logs" / task_id)


class PreparedAttempts:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.ready: deque[str] = deque()
        self.target = POOL_START
        self._need = asyncio.Event()

    def take(self) -> str:
        """A task id whose working directory and (empty) log file exist, or a fresh id whose
        files the executor will make if the pool has run dry."""
        if len(self.ready) <= self.target // 2 and not self._need.is_set():
            self.target = min(2 * self.target, POOL_MAX)
            self._need.set()
        if self.ready:
            return self.ready.popleft()
        # Dry (a burst, or a slow disk): make the working directory here, which is cheaper
        # than letting the spawn fail on it; the executor creates the log file itself.
        task_id = uuid.uuid4().hex
        with contextlib.suppress(OSError):
            os.makedirs(work_dir(self.state_dir, task_id), 0o700, exist_ok=True)
        return task_id

    async def run(self) -> None:
        """The refill task; lives in the runtime's task group."""
        self._need.set()
        try:
            while True:
                await self._need.wait()
                # Cleared only once the pool is full again: a take while a fill is under way
                # (the first attempt of a run, before the first fill is done) must not double
                # the target as if the pool were being drawn down.
                while len(self.ready) < self.target:
                    batch = [uuid.uuid4().hex for _ in range(self.target - len(self.ready))]
                    try:
                        await anyio.to_thread.run_sync(_create, self.state_dir, batch)
                    except OSError:
                        # Disk full, permissions: attempts make their own files and report
                        # the error; try again on the next demand.
                        _remove(self.state_dir, batch)
                        break
                    self.ready.extend(batch)
                self._need.clear()
        finally:
            leftover = list(self.ready)
            self.ready.clear()
            _remove(self.state_dir, leftover)
