"""`LocalBackend`: the terminal UI's view of a runtime in the same process.

Reads go through `abatch.runtime.view` (pages from the store, live records from memory);
changes are learnt from the runtime's event bus, which calls back synchronously on every
state change, so the callback here only sets a flag and pokes the UI's subscribers, which
coalesce on their own timers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from abatch.model.enums import ALL_STATUSES, JobStatus, ResourceState
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.runtime import view

from .backend import (
    CeRow,
    InstanceRow,
    JobInfo,
    JobRow,
    LogCursor,
    PageFilter,
    QueueRow,
    SubmitForm,
)
from .docs import info_from_doc, instance_from_doc
from .logfile import read_from, tail
from .ordering import SortedPages
from .recount import Recount

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
        self.problem: str | None = None  # a runtime in this process is always there
        self._counts: dict[str, dict[JobStatus, int]] = {}
        self._subscribers: list[Callable[[], None]] = []
        self._recount = Recount(COUNTS_EVERY, self._wake)
        self._sorted = SortedPages(self._order, self._rows_at)

    # ------------------------------------------------------------------ events

    def subscribe(self, fn: Callable[[], None]) -> Callable[[], None]:
        """`fn` on every job event, and on every instance launched, retired or reclaimed
        (an idle instance retires with no job event)."""

        def on_job(_: JobRecord) -> None:
            self._recount.changed()
            fn()

        async def on_instances() -> None:
            while True:
                await self.rt.instances_changed()
                fn()

        unsubscribe = self.rt.bus.subscribe(on_job)
        task = asyncio.get_running_loop().create_task(on_instances())
        self._subscribers.append(fn)

        def both() -> None:
            unsubscribe()
            task.cancel()
            if fn in self._subscribers:
                self._subscribers.remove(fn)
            if not self._subscribers:
                self._recount.close()

        return both

    def _wake(self) -> None:
        for fn in list(self._subscribers):
            fn()

    # ------------------------------------------------------------------ jobs

    async def job_count(self, f: PageFilter) -> int:
        if not f.by_position:
            return await self._sorted.count(f)
        return await view.job_count(self.rt, f)

    async def job_page(self, f: PageFilter, offset: int, limit: int) -> list[JobRow]:
        if not f.by_position:
            return await self._sorted.page(f, offset, limit)
        return [job_row(j) for j in await view.job_page(self.rt, f, offset, limit)]

    async def _order(self, f: PageFilter) -> list[int]:
        return await view.job_order(self.rt, f)

    async def _rows_at(self, keys: list[int]) -> list[JobRow]:
        return [job_row(j) for j in await view.jobs_at(self.rt, keys)]

    async def job_info(self, job_id: str) -> JobInfo | None:
        doc = await view.job_view(self.rt, job_id)
        return None if doc is None else info_from_doc(doc)

    # ------------------------------------------------------------------ resources

    async def queues(self) -> list[QueueRow]:
        rt = self.rt
        if self._recount.due():
            self._counts = await view.finished_counts(rt)
        return [
            QueueRow(
                name=q.name,
                state=q.state,
                priority=q.priority,
                compute_environments=q.compute_environments,
                counts={s: self._counts.get(q.name, {}).get(s, 0) for s in ALL_STATUSES},
            )
            for q in view.queue_lines(rt)
        ]

    async def compute_environments(self) -> list[CeRow]:
        return view.ce_lines(self.rt)

    async def instances(self) -> list[InstanceRow]:
        return [instance_from_doc(i.to_json()) for i in view.instances(self.rt)]

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
        fields = view.resubmit_fields(jobs[0])
        new = await self.rt.submit(SubmitJobRequest.model_validate(fields))
        return new.job_id

    async def submit(self, form: SubmitForm) -> str:
        new = await self.rt.submit(SubmitJobRequest.model_validate(form.submit_body()))
        return new.job_id

    async def set_queue_state(self, name: str, enabled: bool) -> None:
        state = ResourceState.ENABLED if enabled else ResourceState.DISABLED
        await self.rt.update_job_queue(name, {"state": state.value})

    async def set_ce_state(self, name: str, enabled: bool) -> None:
        state = ResourceState.ENABLED if enabled else ResourceState.DISABLED
        await self.rt.update_compute_environment(name, {"state": state.value})

    async def reclaim(self, instance_id: str) -> None:
        view.reclaim(self.rt, instance_id)

    # ------------------------------------------------------------------ logs

    async def log_tail(self, stream: str, lines: int) -> tuple[list[str], LogCursor]:
        return await asyncio.to_thread(tail, view.log_path(self.rt, stream), lines)

    async def log_read(self, stream: str, at: LogCursor) -> tuple[list[str], LogCursor]:
        offset = at if isinstance(at, int) else 0
        return await asyncio.to_thread(read_from, view.log_path(self.rt, stream), offset)
