"""Executors: one protocol (start, wait, kill) over a resolved RunSpec.

`ProcessExecutor` runs local process groups under the state directory's supervisor daemon
(`supervisor`), so they outlive the runtime; `FakeExecutor` is the scripted double for
runtime tests. An executor knows nothing of queues, jobs or AWS shapes.
"""

from __future__ import annotations

from abatch.executors.base import Executor, Handle, StartError
from abatch.executors.fake import FakeExecutor, FakeHandle, FakeOutcome
from abatch.executors.process import ProcessExecutor, ProcessHandle, live_pids_in_group

__all__ = [
    "Executor",
    "FakeExecutor",
    "FakeHandle",
    "FakeOutcome",
    "Handle",
    "ProcessExecutor",
    "ProcessHandle",
    "StartError",
    "live_pids_in_group",
]
