"""Process executors for the executor tests: each on the test's own supervisor, closed when
the test ends, and the test waits until that supervisor has left (it does, once nothing is
connected and nothing runs). Import `close_executors` into a test module to use it."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from abatch.executors import ProcessExecutor

_made: list[ProcessExecutor] = []


def new_executor(tmp_path: Path, **kw: int) -> ProcessExecutor:
    """An executor on the test's own supervisor, disconnected when the test ends."""
    executor = ProcessExecutor(tmp_path / "supervisor", **kw)
    _made.append(executor)
    return executor


@pytest.fixture(autouse=True)
async def close_executors() -> AsyncIterator[None]:
    yield
    daemons = set()
    while _made:
        executor = _made.pop()
        if executor.supervisor_pid is not None:
            daemons.add(executor.supervisor_pid)
        await executor.close()
    # With no runtime connected and nothing running, the supervisor leaves.
    deadline = time.monotonic() + 20
    while any(os.path.exists(f"/proc/{pid}") for pid in daemons):
        assert time.monotonic() < deadline, f"supervisor still running: {daemons}"
        await asyncio.sleep(0.02)
