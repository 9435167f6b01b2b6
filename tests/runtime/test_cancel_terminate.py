"""CancelJob and TerminateJob in every state, as the reference's table (§2)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from abatch.executors.fake import FakeExecutor, FakeHandle, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.runspec import RunSpec

from .helpers import req, runtime, wait_for, wait_status

S = JobStatus


def manual(_: RunSpec) -> FakeOutcome:
    return FakeOutcome(duration=None)


class SlowStart(FakeExecutor):
    """Stays in start() until released: the job sits in STARTING."""

    def __init__(self) -> None:
        super().__init__(manual)
        self.release = anyio.Event()

    async def start(self, spec: RunSpec) -> FakeHandle:
        await self.release.wait()
        return await super().start(spec)


@pytest.mark.parametrize("terminate", [False, True])
async def test_submitted_job(tmp_path: Path, terminate: bool) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        job = await rt.submit(req("a"))
        assert job.status is S.SUBMITTED
        stop = rt.terminate_job if terminate else rt.cancel_job
        await stop(job.job_id, "early")
        assert (job.status, job.status_reason) == (S.FAILED, "early")
        assert (job.is_cancelled, job.is_terminated) == (not terminate, terminate)
        assert not job.attempts


@pytest.mark.parametrize("terminate", [False, True])
async def test_pending_job(tmp_path: Path, terminate: bool) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake) as rt:
        first = await rt.submit(req("first"))
        waiting = await rt.submit(req("waiting", dependsOn=[{"jobId": first.job_id}]))
        await wait_for(rt, lambda: waiting.status is S.PENDING)
        stop = rt.terminate_job if terminate else rt.cancel_job
        await stop(waiting.job_id, "not needed")
        assert (waiting.status, waiting.status_reason) == (S.FAILED, "not needed")
        fake.finish(fake.started[0].key)
        await wait_status(rt, [first])
        assert first.status is S.SUCCEEDED


async def test_starting_job_cancel_is_noop_terminate_stops_it(tmp_path: Path) -> None:
    slow = SlowStart()
    async with runtime(tmp_path, slow) as rt:
        job = await rt.submit(req("a", retryStrategy={"attempts": 5}))
        await wait_for(rt, lambda: job.status is S.STARTING)
        await rt.cancel_job(job.job_id, "cancel")
        assert job.status is S.STARTING
        await rt.terminate_job(job.job_id, "terminated while starting")
        slow.release.set()
        await wait_status(rt, [job])
        assert (job.status, job.status_reason) == (S.FAILED, "terminated while starting")
        assert len(job.attempts) == 1 and job.is_terminated


async def test_terminate_array_parent_stops_every_child(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=2) as rt:
        parent = await rt.submit(req("arr", arrayProperties={"size": 4}))
        await wait_for(rt, lambda: len(fake.running) == 2)
        await rt.terminate_job(parent.job_id, "all of it")
        await wait_status(rt, [parent])
        kids = await rt.get_jobs([f"{parent.job_id}:{i}" for i in range(4)])
        assert [k.status_reason for k in kids] == ["all of it"] * 4
        assert parent.status is S.FAILED and parent.is_terminated


async def test_cancel_one_array_child_fails_the_parent(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        parent = await rt.submit(req("arr", arrayProperties={"size": 3}))
        await wait_for(rt, lambda: len(fake.running) == 1)
        await rt.cancel_job(f"{parent.job_id}:2", "just this one")
        for _ in range(2):
            await wait_for(rt, lambda: len(fake.running) == 1)
            fake.finish(next(iter(fake.running)))
        await wait_status(rt, [parent])
        assert parent.status is S.FAILED
        assert parent.status_reason == "Array Child Job failed"


async def test_reason_longer_than_1024_refused(tmp_path: Path) -> None:
    from abatch.model.errors import ClientError

    async with runtime(tmp_path, FakeExecutor()) as rt:
        job = await rt.submit(req("a"))
        with pytest.raises(ClientError, match="1024"):
            await rt.cancel_job(job.job_id, "x" * 1025)
