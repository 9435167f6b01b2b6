"""`LocalBackend`: the terminal UI's view of a runtime in the same process.

Reads go through `abatch.runtime.view` (pages from the store, live records from memory);
changes are learnt from the runtime's event bus, which calls back synchronously on every
state change, so the callback here only sets a flag and pokes the UI's subscribers, which
coalesce on their own timers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from abatch.model.enums import ALL_STATUSES, JobStatus, ResourceState
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.runtime import view

from .backend import AttemptRow, CeRow, JobInfo, JobRow, PageFilter, QueueRow, SubmitForm
from .logfile import read_from, tail

if TYPE_CHECKING:
    from abatch.runtime import Runtime

COUNTS_EVERY = 2.0  # seconds between recounts of finished jobs per queue


def job_row(job: JobRecord) -> JobRow:
    a = job.current_attempt
    size = (job.spec.get("arrayProperties") or {}).get("size")
    return JobRow(
        job_id=job.job_id,
        name=job.job_name,
        queue=job.job_queue,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        stopped_at=job.stopped_at,
        vcpus=job.vcpus,
        memory=job.memory,
        gpus=job.gpus,
        attempts=len(job.attempts),
        exit_code=a.exit_code if a is not None else None,
        reason=job.status_reason,
        array_size=size if "_parent" not in job.spec else None,
    )


class LocalBackend:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.title = f"abatch · {rt.state_dir}"
        self._counts: dict[str, dict[JobStatus, int]] = {}
        self._counted_at = 0.0
        self._changed = True

    # ------------------------------------------------------------------ events

    def subscribe(self, fn: Callable[[], None]) -> Callable[[], None]:
        def on_job(_: JobRecord) -> None:
            self._changed = True
            fn()

        return self.rt.bus.subscribe(on_job)

    # ------------------------------------------------------------------ jobs

    async def job_count(self, f: PageFilter) -> int:
        return await view.job_count(self.rt, f)

    async def job_page(self, f: PageFilter, offset: int, limit: int) -> list[JobRow]:
        return [job_row(j) for j in await view.job_page(self.rt, f, offset, limit)]

    async def job_info(self, job_id: str) -> JobInfo | None:
        rt = self.rt
        jobs = await rt.get_jobs([job_id])
        if not jobs:
            return None
        job = jobs[0]
        details = await rt.describe_jobs([job_id])
        detail = details[0] if details else job.to_detail()
        array = detail.get("arrayProperties") or {}
        return JobInfo(
            row=job_row(job),
            detail=detail,
            attempts=[
                AttemptRow(
                    a.number,
                    a.log_stream,
                    a.started_at,
                    a.stopped_at,
                    a.exit_code,
                    a.reason,
                    a.status_reason,
                )
                for a in job.attempts
            ],
            history=[(s.value, t) for s, t in job.history],
            why=rt.explain(job),
            position=await view.queue_position(rt, job),
            depends_on=list(job.spec.get("_waitFor") or []),
            dependents=await view.dependents(rt, job_id),
            array_summary=array.get("statusSummary"),
        )

    # ------------------------------------------------------------------ resources

    async def queues(self) -> list[QueueRow]:
        rt = self.rt
        now = time.monotonic()
        if (self._changed and now - self._counted_at >= COUNTS_EVERY) or not self._counts:
            self._counts = await view.finished_counts(rt)
            self._counted_at, self._changed = now, False
        rows = []
        for jq in sorted(rt.registry.job_queues.values(), key=lambda q: -q.priority):
            counts = {s: self._counts.get(jq.job_queue_name, {}).get(s, 0) for s in ALL_STATUSES}
            rows.append(
                QueueRow(
                    name=jq.job_queue_name,
                    state=jq.state.value,
                    priority=jq.priority,
                    compute_environments=tuple(jq.ce_names()),
                    counts=counts,
                )
            )
        return rows

    async def compute_environments(self) -> list[CeRow]:
        rows = []
        for name, ce in sorted(self.rt.registry.compute_environments.items()):
            pool = self.rt.pools.get(name)
            kind = ce.type.value
            cr = ce.compute_resources
            if cr is not None:
                kind += f" {cr.type.value}"
            rows.append(
                CeRow(
                    name=name,
                    state=ce.state.value,
                    kind=kind,
                    vcpus=(pool.used_vcpus, pool.vcpus) if pool else (0.0, 0.0),
                    memory=(pool.used_memory, pool.memory) if pool else (0, 0),
                    gpus=(pool.used_gpus, pool.gpus) if pool else (0, 0),
                    note=pool.unavailable if pool else None,
                )
            )
        return rows

    def queue_names(self) -> list[str]:
        return sorted(self.rt.registry.job_queues)

    def definition_names(self) -> list[str]:
        return sorted(self.rt.registry.job_definitions)

    # ------------------------------------------------------------------ actions

    async def cancel(self, job_id: str, reason: str) -> None:
        await self.rt.cancel_job(job_id, reason)

    async def terminate(self, job_id: str, reason: str) -> None:
        await self.rt.terminate_job(job_id, reason)

    async def resubmit(self, job_id: str) -> str:
        jobs = await self.rt.get_jobs([job_id])
        if not jobs:
            raise LookupError(f"job {job_id} does not exist")
        job = jobs[0]
        spec = job.spec
        fields: dict[str, object] = {
            "jobName": job.job_name,
            "jobQueue": job.job_queue,
            "jobDefinition": job.job_definition,
        }
        if spec.get("parameters"):
            fields["parameters"] = spec["parameters"]
        size = (spec.get("arrayProperties") or {}).get("size")
        if size is not None and "_parent" not in spec:
            fields["arrayProperties"] = {"size": size}
        for key in ("retryStrategy", "timeout", "tags", "shareIdentifier"):
            if spec.get(key) is not None:
                fields[key] = spec[key]
        command = (spec.get("container") or {}).get("command")
        if command:
            fields["containerOverrides"] = {"command": command}
        new = await self.rt.submit(SubmitJobRequest.model_validate(fields))
        return new.job_id

    async def submit(self, form: SubmitForm) -> str:
        fields: dict[str, object] = {
            "jobName": form.name,
            "jobQueue": form.queue,
            "jobDefinition": form.definition,
        }
        if form.parameters:
            fields["parameters"] = form.parameters
        if form.command:
            fields["containerOverrides"] = {"command": form.command}
        if form.array_size is not None:
            fields["arrayProperties"] = {"size": form.array_size}
        new = await self.rt.submit(SubmitJobRequest.model_validate(fields))
        return new.job_id

    async def set_queue_state(self, name: str, enabled: bool) -> None:
        state = ResourceState.ENABLED if enabled else ResourceState.DISABLED
        await self.rt.update_job_queue(name, {"state": state.value})

    async def set_ce_state(self, name: str, enabled: bool) -> None:
        state = ResourceState.ENABLED if enabled else ResourceState.DISABLED
        await self.rt.update_compute_environment(name, {"state": state.value})

    # ------------------------------------------------------------------ logs

    async def log_tail(self, stream: str, lines: int) -> tuple[list[str], int]:
        return await asyncio.to_thread(tail, view.log_path(self.rt, stream), lines)

    async def log_read(self, stream: str, offset: int) -> tuple[list[str], int]:
        return await asyncio.to_thread(read_from, view.log_path(self.rt, stream), offset)
