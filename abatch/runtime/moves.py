"""Status moves: every change of a job's status, and what it means for other jobs.

`_move` is the one door: the legal-move check (scheduler.transitions), the store, the event
bus, array counts, and the release of dependents when a job finishes. Cancel and terminate
follow the reference's table (§2).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError, NotFoundError
from abatch.model.job import JobRecord
from abatch.scheduler.transitions import transition

from .graph import Graph, RecentlyFinished

if TYPE_CHECKING:
    from abatch.config.settings import RuntimeSettings
    from abatch.store.sqlite import SqliteStore

    from .attempts import Running
    from .bus import EventBus

S = JobStatus
REASON_DEPENDENCY = "Dependent Job failed"
REASON_ARRAY_CHILD = "Array Child Job failed"


def now_ms() -> int:
    import time

    return int(time.time() * 1000)


Clock = Callable[[], float]  # seconds since the epoch, as time.time


class MovesMixin:
    settings: RuntimeSettings
    store: SqliteStore
    bus: EventBus
    graph: Graph
    recent: RecentlyFinished
    jobs: dict[str, JobRecord]
    runnable: dict[str, deque[JobRecord]]
    running: dict[str, Running]
    _wake: asyncio.Event
    _seq_lo: int
    clock: Clock

    _kill: Callable[[Running, float], None]  # AttemptsMixin
    _nodes_follow: Callable[[JobRecord, int], None]  # MultiNodeMixin
    _enqueue: Callable[..., None]  # SharesMixin
    _share_note: Callable[[JobRecord, JobStatus, JobStatus, int], None]  # SharesMixin

    def _now(self) -> int:
        """Epoch milliseconds from the runtime's clock (a test can drive it)."""
        return int(self.clock() * 1000)

    def _promote(self, job: JobRecord, now: int) -> None:
        """SUBMITTED (or PENDING whose dependencies are met) to where it belongs next."""
        if job.job_id in self.graph.doomed:
            self.graph.doomed.discard(job.job_id)
            self._move(job, S.FAILED, now, REASON_DEPENDENCY)
        elif job.job_id in self.graph.arrays:
            if job.status is S.SUBMITTED:
                self._move(job, S.PENDING, now)
            self._check_array_done(job, now)
        elif self.graph.unmet(job.job_id):
            if job.status is S.SUBMITTED:
                self._move(job, S.PENDING, now)
        else:
            self._move(job, S.RUNNABLE, now)
            self._enqueue(job)

    def _requeue_front(self, job: JobRecord, now: int, reason: str | None = None) -> None:
        job.seq = self._seq_lo
        self._seq_lo -= 1
        job.ce = None
        if job.status is not S.RUNNABLE:
            self._move(job, S.RUNNABLE, now, reason)
        self._enqueue(job, front=True)

    def _move(self, job: JobRecord, to: JobStatus, now: int, reason: str | None = None) -> None:
        """Every status change of the runtime goes through here: the legal-move check, the
        store, the bus, array counts, and what a finished job means for others."""
        before = job.status
        transition(job, to, now, reason)
        self._share_note(job, before, to, now)
        self.store.mark_job(job)
        self.bus.publish(job)
        if job.is_multinode:
            self._nodes_follow(job, now)
        parent_id = job.spec.get("_parent")
        if parent_id is not None:
            state = self.graph.arrays.get(parent_id)
            if state is not None:
                state.counts[before] -= 1
                state.counts[to] += 1
                state.updated_at = now
        if not to.is_terminal:
            return
        # A finished job releases its waiters; cascades use a worklist, not recursion (a
        # failing 10,000-child SEQUENTIAL chain would overflow the stack).
        work = [job]
        while work:
            done = work.pop()
            self.jobs.pop(done.job_id, None)
            self.recent.add(done.job_id, done.status)
            self.graph.forget(done.job_id)
            self.graph.arrays.pop(done.job_id, None)
            if done.status is S.SUCCEEDED:
                for waiter_id in self.graph.satisfied(done.job_id):
                    waiter = self.jobs.get(waiter_id)
                    if waiter is not None and waiter.status is S.PENDING:
                        self._promote(waiter, now)
            else:
                for waiter_id in self.graph.failed(done.job_id):
                    waiter = self.jobs.get(waiter_id)
                    if waiter is not None and not waiter.status.is_terminal:
                        self._fail_quietly(waiter, now, REASON_DEPENDENCY, work)
            pid = done.spec.get("_parent")
            if pid is not None:
                parent = self.jobs.get(pid)
                if parent is not None:
                    self._check_array_done(parent, now, work)
        self._wake.set()

    def _fail_quietly(self, job: JobRecord, now: int, reason: str, work: list[JobRecord]) -> None:
        """FAILED without the cascade (the caller's worklist carries it on)."""
        before = job.status
        transition(job, S.FAILED, now, reason)
        self._share_note(job, before, S.FAILED, now)
        self.store.mark_job(job)
        self.bus.publish(job)
        if job.is_multinode:
            self._nodes_follow(job, now)
        state = self.graph.arrays.get(job.spec.get("_parent") or "")
        if state is not None:
            state.counts[before] -= 1
            state.counts[S.FAILED] += 1
        work.append(job)

    def _check_array_done(
        self, parent: JobRecord, now: int, work: list[JobRecord] | None = None
    ) -> None:
        state = self.graph.arrays.get(parent.job_id)
        if state is None or state.done < state.size or parent.status.is_terminal:
            return
        if parent.status is S.SUBMITTED:
            self._move(parent, S.PENDING, now)
        if state.counts[S.FAILED]:
            if work is None:
                self._move(parent, S.FAILED, now, REASON_ARRAY_CHILD)
            else:
                self._fail_quietly(parent, now, REASON_ARRAY_CHILD, work)
        else:
            self._move(parent, S.SUCCEEDED, now)

    def _finish(self, job: JobRecord, status: JobStatus, now: int, reason: str | None) -> None:
        self._move(job, status, now, reason)

    # ------------------------------------------------------------------ cancel / terminate

    async def cancel_job(self, job_id: str, reason: str) -> None:
        await self._stop_job(job_id, reason, terminate=False)

    async def terminate_job(self, job_id: str, reason: str) -> None:
        await self._stop_job(job_id, reason, terminate=True)

    async def _stop_job(self, job_id: str, reason: str, *, terminate: bool) -> None:
        if len(reason) > 1024:
            raise ClientError("reason is longer than 1024 characters")
        job = self.jobs.get(job_id)
        if job is not None and job.multinode_parent is not None:
            # A node of a multi-node job: the job is what runs, and stops, as a whole.
            job = self.jobs.get(job.multinode_parent)
        if job is None:
            if await self.store.get_job(job_id) is None:
                raise NotFoundError(f"job {job_id} does not exist")
            return  # finished: a no-op, as on AWS
        now = self._now()
        state = self.graph.arrays.get(job_id)
        if state is not None:
            # An array parent: cancel stops every child not yet started, terminate all of
            # them; the parent ends FAILED once every child has.
            # Last child first, so children waiting on earlier ones (SEQUENTIAL) get the
            # caller's reason rather than "Dependent Job failed".
            if terminate:
                job.is_terminated = True
            else:
                job.is_cancelled = True
            self.store.mark_job(job)
            for i in reversed(range(state.size)):
                child = self.jobs.get(f"{job_id}:{i}")
                if child is not None:
                    self._stop_one(child, reason, terminate, now)
            await self.store.flush()
            return
        self._stop_one(job, reason, terminate, now)
        await self.store.flush()

    def _stop_one(self, job: JobRecord, reason: str, terminate: bool, now: int) -> None:
        if job.status in (S.SUBMITTED, S.PENDING, S.RUNNABLE):
            if terminate:
                job.is_terminated = True
            else:
                job.is_cancelled = True
            self._finish(job, S.FAILED, now, reason)
        elif terminate and job.status in (S.STARTING, S.RUNNING):
            job.is_terminated = True
            run = self.running.get(job.job_id)
            if run is not None:
                run.final_reason = reason
                self._kill(run, self.settings.kill_grace_seconds)
