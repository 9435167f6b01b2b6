"""Watching one container until it exits: its exit code and its complete log.

`run_to_exit` waits for the exit (`POST /containers/{id}/wait`) while a follower copies the
logs; once the exit is known the follower gets a few seconds to deliver the last lines (the
engine ends a follow stream when the container stops). A follower that lost its connection is
resumed from the last line written (`since` = its engine timestamp + 1 ns), and a copy that
could not finish while following is completed by one last non-following read, so the log has
every line once.

An engine that stops answering is retried with backoff, for up to `lost_after_s`; after that
the exit is reported as unknown with a `DockerTimeoutError:` reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiodocker

from abatch.executors.docker_engine import EngineClient, unreachable_why
from abatch.executors.docker_logs import LogStreamBroken, LogWriter, copy_logs, since_after

__all__ = ["run_to_exit"]

_RETRY_MIN_S, _RETRY_MAX_S = 0.2, 5.0
_GONE = "CannotInspectContainerError: "


async def _wait_request(docker: aiodocker.Docker, container_id: str) -> dict[str, Any]:
    """POST /containers/{id}/wait. Not aiodocker's container.wait(): that one leaks its
    connection when cancelled while the engine holds the answer back (which is the whole
    time the container runs)."""
    async with docker._query(f"containers/{container_id}/wait", method="POST") as response:
        try:
            data = await response.json()
        finally:
            response.close()
    return dict(data) if isinstance(data, dict) else {}


async def _wait_exit(
    engine: EngineClient, container_id: str, lost_after_s: float
) -> tuple[int | None, str | None]:
    loop = asyncio.get_running_loop()
    lost_at: float | None = None
    delay = _RETRY_MIN_S
    while True:
        try:
            docker = await engine.get()
            data = await _wait_request(docker, container_id)
            code = data.get("StatusCode")
            return (int(code), None) if code is not None else (None, f"{_GONE}no exit status")
        except Exception as exc:
            why = unreachable_why(exc)
            if why is None:
                if isinstance(exc, aiodocker.DockerError):
                    return None, (_GONE + str(exc.message))[:255]
                raise
            now = loop.time()
            lost_at = now if lost_at is None else lost_at
            if now - lost_at > lost_after_s:
                lost = f"DockerTimeoutError: lost the Docker engine at {engine.url}: {why}"
                return None, lost[:255]
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RETRY_MAX_S)


async def _follow(
    engine: EngineClient,
    container_id: str,
    writer: LogWriter,
    since: str | None,
    exited: asyncio.Event,
) -> bool:
    """Copy the logs while the container runs. True once the copy is complete; False when
    the connection was lost and the container has exited meanwhile (finish with one read)."""
    delay = _RETRY_MIN_S
    while True:
        try:
            docker = await engine.get()
            await copy_logs(docker, container_id, writer, follow=True, since=since)
            return True
        except Exception as exc:
            if not isinstance(exc, LogStreamBroken) and unreachable_why(exc) is None:
                writer.note(f"cannot read the container's logs: {exc}")
                return True  # the engine said no; asking again would not help
        if writer.last_ns:
            since = since_after(writer.last_ns)
        if exited.is_set():
            return False
        await asyncio.sleep(delay)
        delay = min(delay * 2, _RETRY_MAX_S)


async def _finish_log(
    engine: EngineClient, container_id: str, writer: LogWriter, since: str | None
) -> None:
    if writer.last_ns:
        since = since_after(writer.last_ns)
    try:
        docker = await engine.get()
        async with asyncio.timeout(30):
            await copy_logs(docker, container_id, writer, follow=False, since=since)
    except Exception as exc:
        writer.note(f"the end of the container's log may be missing: {exc}")


async def run_to_exit(
    engine: EngineClient,
    container_id: str,
    writer: LogWriter | None,
    since: str | None,
    *,
    drain_s: float,
    lost_after_s: float,
) -> tuple[int | None, str | None]:
    """Wait for the container to exit with its log copied into `writer` (closed on return);
    return (exit code, None), or (None, reason) when the exit status cannot be had."""
    exited = asyncio.Event()
    follower = (
        asyncio.get_running_loop().create_task(_follow(engine, container_id, writer, since, exited))
        if writer is not None
        else None
    )
    try:
        outcome = await _wait_exit(engine, container_id, lost_after_s)
        exited.set()
        if follower is not None and writer is not None:
            complete = False
            try:
                complete = await asyncio.wait_for(asyncio.shield(follower), drain_s)
            except TimeoutError:
                follower.cancel()
            if not complete:
                await _finish_log(engine, container_id, writer, since)
        return outcome
    finally:
        if follower is not None:
            follower.cancel()
            await asyncio.gather(follower, return_exceptions=True)
        if writer is not None:
            writer.close()
