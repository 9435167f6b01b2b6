"""Reads that await the store while jobs change under them."""

from __future__ import annotations

from pathlib import Path

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.runspec import RunSpec

from .helpers import req, runtime, wait_status

S = JobStatus


def manual(spec: RunSpec) -> FakeOutcome:
    return FakeOutcome(duration=None)


async def test_a_job_that_finishes_during_a_describe_is_still_described(tmp_path: Path) -> None:
    # Found by the suite on a loaded host: DescribeJobs of a running job plus an unknown id
    # awaited the store for the unknown one; the running job finished meanwhile, left
    # memory, and was left out of the answer.
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("a"))
        await wait_status(rt, [job], S.RUNNING)
        read = rt.store.flush_for_read

        async def finish_meanwhile() -> None:
            fake.finish(job.attempts[-1].task_id)
            await wait_status(rt, [job])
            assert job.job_id not in rt.jobs
            await read()

        rt.store.flush_for_read = finish_meanwhile  # type: ignore[method-assign]
        got = await rt.get_jobs(["nope", job.job_id])
        assert [j.job_id for j in got] == [job.job_id]
        assert got[0].status is S.SUCCEEDED
