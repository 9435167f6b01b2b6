"""SubmitJob: validate against current state, build the job record, persist, wake the loop.

A submission is acknowledged only once it is committed, so a job that was answered is never
lost. Many submissions in one call share one commit.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING

from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.scheduler.resolve import effective_spec, resources_of

if TYPE_CHECKING:
    from abatch.config.settings import RuntimeSettings
    from abatch.store.sqlite import SqliteStore

    from .bus import EventBus
    from .registry import Registry


class SubmitMixin:
    settings: RuntimeSettings
    registry: Registry
    store: SqliteStore
    bus: EventBus
    jobs: dict[str, JobRecord]
    runnable: dict[str, deque[JobRecord]]
    _submitted: list[JobRecord]
    _seq_hi: int
    _wake: asyncio.Event

    def prepare_job(self, req: SubmitJobRequest, now: int) -> JobRecord:
        """Check a request against current state and build its record (nothing stored)."""
        if req.array_properties is not None:
            raise ClientError("array jobs are not supported yet (arrayProperties)")
        if req.depends_on:
            raise ClientError("job dependencies are not supported yet (dependsOn)")
        if req.node_overrides is not None:
            raise ClientError("multi-node jobs are not supported yet (nodeOverrides)")
        jq = self.registry.queue_for_submit(req.job_queue)
        jd = self.registry.definition(req.job_definition)
        if jd.container_properties is None:
            raise ClientError(
                f"job definition {jd.job_definition_name}:{jd.revision} is {jd.type.value}; "
                "only container job definitions can be submitted"
            )
        spec = effective_spec(jd, req)
        if self.settings.strict:
            seconds = (spec.get("timeout") or {}).get("attemptDurationSeconds")
            if seconds is not None and seconds < 60:
                raise ClientError(
                    f"timeout.attemptDurationSeconds is {seconds}; AWS requires at least 60 "
                    "(strict mode)"
                )
        vcpus, memory, gpus = resources_of(spec["container"])
        if not spec["container"].get("command"):
            raise ClientError(
                f"job definition {jd.job_definition_name}:{jd.revision} has no command and the "
                "submission gives none in containerOverrides"
            )
        seq = self._seq_hi
        self._seq_hi += 1
        return JobRecord(
            job_id=str(uuid.uuid4()),
            job_name=req.job_name,
            job_queue=jq.job_queue_name,
            job_definition=f"{jd.job_definition_name}:{jd.revision}",
            status=JobStatus.SUBMITTED,
            created_at=now,
            seq=seq,
            vcpus=vcpus,
            memory=memory,
            gpus=gpus,
            spec=spec,
            history=[(JobStatus.SUBMITTED, now)],
        )

    async def submit(self, req: SubmitJobRequest) -> JobRecord:
        return (await self.submit_many([req]))[0]

    async def submit_many(self, reqs: list[SubmitJobRequest]) -> list[JobRecord]:
        """Submit all or none: every request is checked before any is stored."""
        now = int(time.time() * 1000)
        jobs = [self.prepare_job(r, now) for r in reqs]
        self.store.insert_jobs(jobs)
        await self.store.flush()
        # Scheduled only once stored: a job that runs has always been recorded first.
        for job in jobs:
            self.jobs[job.job_id] = job
            self.bus.publish(job)
        self._submitted.extend(jobs)
        self._wake.set()
        return jobs
