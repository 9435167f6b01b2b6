"""Many finished jobs written straight into a runtime's store, for the 100,000-job test, the
benchmark and the screenshots: the jobs view reads pages from the store, so these look to it
exactly as jobs that ran. Only for a fresh runtime (they do not enter its memory)."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from abatch.model.enums import JobStatus
from abatch.model.job import Attempt, JobRecord

if TYPE_CHECKING:
    from abatch.runtime import Runtime


async def fill(rt: Runtime, n: int, queue: str = "q", definition: str = "d:1") -> None:
    """`n` jobs named `job-000000` .. in `queue`, created 1 ms apart, mostly SUCCEEDED, every
    tenth FAILED."""
    now = int(time.time() * 1000) - n
    batch: list[JobRecord] = []
    for i in range(n):
        failed = i % 10 == 7
        status = JobStatus.FAILED if failed else JobStatus.SUCCEEDED
        at = now + i
        job = JobRecord(
            job_id=str(uuid.UUID(int=i + 1)),
            job_name=f"job-{i:06d}",
            job_queue=queue,
            job_definition=definition,
            status=status,
            created_at=at,
            seq=at * 1000,
            vcpus=1.0,
            memory=64,
            gpus=0,
            spec={},
            started_at=at,
            stopped_at=at + 250,
            history=[(JobStatus.SUBMITTED, at), (status, at + 250)],
            attempts=[
                Attempt(
                    1,
                    "ce",
                    uuid.UUID(int=i + 1).hex,
                    f"d/default/{i:032x}",
                    at,
                    at,
                    at + 250,
                    1 if failed else 0,
                )
            ],
        )
        batch.append(job)
        rt.store.mark_attempt(job, job.attempts[0])
        if len(batch) == 10_000:
            rt.store.insert_jobs(batch)
            await rt.store.flush()
            batch = []
    rt.store.insert_jobs(batch)
    await rt.store.flush()
