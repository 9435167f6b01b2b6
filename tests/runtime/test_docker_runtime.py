"""The runtime with Docker compute environments: an unreachable engine, timeouts and
TerminateJob on real containers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from abatch.model.enums import JobStatus
from tests.docker_support import build_busybox_image

from .helpers import ce, jd, jq, req, runtime, wait_for, wait_status

S = JobStatus
IMAGE = "abatch-test-busybox:latest"


def busybox(name: str, script: str) -> object:
    d = jd(name, ["sh", "-c", script])
    assert d.container_properties is not None
    d.container_properties.image = IMAGE
    return d


async def test_unreachable_engine_keeps_jobs_waiting_with_a_reason(tmp_path: Path) -> None:
    async with runtime(tmp_path, setup=False) as rt:
        await rt.put_compute_environment(
            ce("far", executor="docker", docker_host="unix:///nonexistent/docker.sock")
        )
        await rt.put_job_queue(jq("q", 1, ["far"]))
        await rt.register_job_definition(busybox("d", "true"))  # type: ignore[arg-type]
        job = await rt.submit(req("a"))
        await wait_for(
            rt, lambda: job.status_reason is not None and "unavailable" in job.status_reason
        )
        assert job.status is S.RUNNABLE
        assert "cannot reach the Docker engine" in (job.status_reason or "")
        assert job.attempts == []  # nothing started: nothing listed, no retry used


@pytest.mark.docker
async def test_timeout_and_terminate_stop_containers(tmp_path: Path) -> None:
    await build_busybox_image()
    async with runtime(tmp_path, setup=False, grace=1.0) as rt:
        await rt.put_compute_environment(ce("dock", vcpus=2, executor="docker"))
        await rt.put_job_queue(jq("q", 1, ["dock"]))
        await rt.register_job_definition(
            busybox("stubborn", "trap '' TERM; echo up; sleep 300")  # type: ignore[arg-type]
        )
        timed = await rt.submit(
            req("timed", definition="stubborn", timeout={"attemptDurationSeconds": 2})
        )
        stopped = await rt.submit(req("stopped", definition="stubborn"))
        await wait_status(rt, [stopped], S.RUNNING, timeout=60)
        await rt.terminate_job(stopped.job_id, "enough")
        await wait_status(rt, [timed, stopped], timeout=90)
        assert (timed.status, timed.status_reason) == (
            S.FAILED,
            "Job attempt duration exceeded timeout",
        )
        assert timed.attempts[0].exit_code == 137
        assert (stopped.status, stopped.status_reason) == (S.FAILED, "enough")
        assert stopped.attempts[0].exit_code == 137
        log = rt.log_path(stopped.attempts[0].log_stream).read_text()
        assert "up" in log


@pytest.mark.docker
async def test_ended_container_removed_once_its_exit_is_committed(tmp_path: Path) -> None:
    """The ended container is the exit's only record until the store commits it; then the
    runtime has it removed (a kill -9 in between would otherwise run the job again)."""
    import aiodocker

    await build_busybox_image()
    async with runtime(tmp_path, setup=False) as rt:
        await rt.put_compute_environment(ce("dock", vcpus=2, executor="docker"))
        await rt.put_job_queue(jq("q", 1, ["dock"]))
        await rt.register_job_definition(busybox("quick", "echo done; exit 3"))  # type: ignore[arg-type]
        job = await rt.submit(req("quick", definition="quick"))
        await wait_status(rt, [job], timeout=60)
        assert job.status is S.FAILED and job.attempts[0].exit_code == 3
        name = f"abatch-{job.attempts[0].task_id}"

        async def present() -> bool:
            async with aiodocker.Docker() as docker:
                found = await docker.containers.list(all=True, filters={"name": [name]})
                return bool(found)

        await wait_for_async(present, want=False)


async def wait_for_async(
    probe: Callable[[], Awaitable[bool]], *, want: bool, timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while await probe() is not want:
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)
