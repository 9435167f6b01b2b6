"""Helpers for the DockerExecutor tests (the fixtures are in this directory's conftest.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiodocker

from abatch.executors.docker import DockerExecutor
from abatch.model.runspec import ExitResult, RunSpec


async def remove_all(runtime_id: str) -> None:
    """Remove every container labelled with `runtime_id` (a test's own, whatever happened)."""
    async with aiodocker.Docker() as docker:
        found = await docker.containers.list(
            all=True, filters={"label": [f"abatch.runtime={runtime_id}"]}
        )
        for c in found:
            await c.delete(force=True)


async def container_names(runtime_id: str) -> list[str]:
    async with aiodocker.Docker() as docker:
        found = await docker.containers.list(
            all=True, filters={"label": [f"abatch.runtime={runtime_id}"]}
        )
        return [str(c._container["Names"][0]).lstrip("/") for c in found]


async def run(ex: DockerExecutor, spec: RunSpec, *, forget: bool = True) -> tuple[ExitResult, str]:
    """Start `spec`, wait for it; return how it ended and its log. Then, as the runtime does
    once its store holds the exit, let the executor forget it (remove the container)."""
    handle = await ex.start(spec)
    result = await asyncio.wait_for(ex.wait(handle), 60)
    if forget:
        await ex.forget([spec.key])
    return result, spec.log_path.read_text()


async def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


def log_is(spec: RunSpec, text: str) -> Callable[[], bool]:
    """A predicate: the attempt's log exists and holds exactly `text`."""
    return lambda: spec.log_path.exists() and spec.log_path.read_text() == text
