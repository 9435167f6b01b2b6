"""The runtime: the imperative shell around the scheduler, the store and the executors.

One anyio task group owns every loop: the store writer, the scheduling loop and one
supervisor task per running attempt. The scheduling loop sleeps on an event that submissions,
exits, cancels and capacity changes set; a burst of events becomes one scheduling pass.

State lives in memory for every unfinished job (per-queue deques of RUNNABLE jobs in FIFO
order, capacity pools per compute environment); the store receives each change write-behind
and commits in batches. Finished jobs leave memory once recorded; reads fall back to the store.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from anyio.abc import TaskGroup

from abatch.config.settings import RuntimeSettings
from abatch.executors.base import Executor
from abatch.executors.gpus import GpuDetection, detect_gpus
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.errors import StateDirError
from abatch.model.job import JobRecord
from abatch.model.policy import SchedulingPolicy
from abatch.scheduler.devices import DeviceLedger
from abatch.scheduler.fairshare import ShareQueue
from abatch.scheduler.placement import QUEUED_CODE, CapacityPool, QueueView, plan, queued_reason
from abatch.store.lock import StateLock
from abatch.store.sqlite import SqliteStore

from .attempts import AttemptsMixin, Running
from .bus import EventBus
from .graph import ArrayState, Graph, RecentlyFinished
from .instances import InstancesMixin
from .jstla import TimeLimitMixin
from .moves import Clock, MovesMixin
from .multinode import MultiNodeMixin
from .operations import OperationsMixin
from .prepared import PreparedAttempts
from .recovery import RecoveryMixin
from .registry import Registry
from .resources import ResourceManager
from .shares import SharesMixin
from .submit import SubmitMixin

if TYPE_CHECKING:
    from abatch.config import ConfigSchedule

    from .schedules import ScheduleState

S = JobStatus
EXPLAIN_DEPTH = 10_000  # how far down a fair-share queue a job's position is worked out
LEAVE_SETTLE_S = 1.0  # after its executor is closed, how long a left attempt may take to settle


class StopMode(enum.Enum):
    """What stopping the runtime does with the attempts still running."""

    REQUEUE = "requeue"  # SIGTERM, SIGKILL after the grace; back to the front of the queue
    LEAVE = "leave"  # left running, adopted on the next start (others as REQUEUE)
    DRAIN = "drain"  # wait for them to finish; `stop_now` then leaves or stops the rest


class Runtime(
    MovesMixin,
    AttemptsMixin,
    MultiNodeMixin,
    RecoveryMixin,
    TimeLimitMixin,
    SubmitMixin,
    ResourceManager,
    InstancesMixin,
    OperationsMixin,
    SharesMixin,
):
    def __init__(
        self,
        settings: RuntimeSettings,
        executors: dict[ExecutorKind, Executor] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock if clock is not None else time.time
        self.state_dir = settings.state_dir
        self.bus = EventBus()
        self.registry = Registry()
        self.pools: dict[str, CapacityPool] = {}
        self.devices = DeviceLedger()  # GPU ids held by running jobs, per host
        self.host_gpus = GpuDetection()  # this machine's GPUs (nvidia-smi), found at start
        self.jobs: dict[str, JobRecord] = {}  # every unfinished job
        self.node_jobs: dict[str, list[JobRecord]] = {}  # multi-node job -> its nodes
        self.runnable: dict[str, deque[JobRecord]] = {}  # per FIFO queue, head first
        self.shares: dict[str, ShareQueue] = {}  # per fair-share queue
        self.policies: dict[str, SchedulingPolicy] = {}  # by name
        self.running: dict[str, Running] = {}
        self.graph = Graph()
        self.recent = RecentlyFinished()
        self._submitted: list[JobRecord] = []
        self._stuck_since: dict[str, tuple[str, int]] = {}
        self._jstla_timer: asyncio.TimerHandle | None = None
        self.schedules: list[ScheduleState] = []
        self.prepared = PreparedAttempts(self.state_dir)
        self._executors = executors if executors is not None else {}
        self._ce_executors: dict[tuple[str, str | None, bool], Executor] = {}
        self._engine_backoff: dict[str, float] = {}
        self._orphans: list[JobRecord] = []
        self._held_orphans: set[str] = set()
        self._sweeps: list[tuple[anyio.CancelScope, anyio.Event]] = []
        self._fresh_keys: set[str] = set()
        self._recorded: dict[Executor, list[str]] = {}
        self._releasing = False
        # Names this runtime's containers (a label) so a restart finds them again.
        digest = hashlib.sha1(str(self.state_dir.resolve()).encode()).hexdigest()[:12]
        self.runtime_id = f"abatch-{digest}"
        self._wake = asyncio.Event()
        self._stopping = False
        self.stop_mode = StopMode.REQUEUE
        self._drain_scope: anyio.CancelScope | None = None
        self._seq_hi = 0
        self._seq_lo = 0
        self._lock = StateLock(self.state_dir)
        self.rng = random.Random()  # Spot reclaims at random; tests seed their own
        self._reclaim_timers: dict[str, asyncio.TimerHandle] = {}
        self._instances_event = asyncio.Event()
        self._scale_timer: asyncio.TimerHandle | None = None
        self._scale_at: int | None = None
        self._tg: TaskGroup | None = None
        self.store: SqliteStore
        self.started_at = self._now()

    # ------------------------------------------------------------------ lifecycle

    async def _startup(self) -> None:
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise StateDirError(
                f"cannot create state directory {self.state_dir}: {exc.strerror}"
            ) from None
        try:
            self._lock.acquire()
        except OSError as exc:
            raise StateDirError(
                f"state directory {self.state_dir} is not usable: {exc.strerror}"
            ) from None
        try:
            self.store = await SqliteStore.open(self.state_dir)
        except BaseException:
            self._lock.release()
            raise
        self.store.on_recovered.append(self.wake)
        try:
            self.host_gpus = await detect_gpus()
            await self._load()
        except BaseException:
            await self.store.close()
            self._lock.release()
            raise

    async def _load(self) -> None:
        for ce in await self.store.compute_environments():
            self._set_ce(ce)
        await self._load_instances()
        for jq in await self.store.job_queues():
            self.registry.job_queues[jq.job_queue_name] = jq
            self.runnable.setdefault(jq.job_queue_name, deque())
        for jd in await self.store.job_definitions():
            self.registry.add_definition(jd)
        now = self._now()
        jobs = await self.store.unfinished_jobs()
        seqs = [j.seq for j in jobs] or [0]
        self._seq_hi = max(max(seqs) + 1, now * 1000)
        self._seq_lo = min(min(seqs) - 1, -1)
        for job in jobs:
            self.jobs[job.job_id] = job
        await self._take_back_unrecorded(jobs)
        await self._load_nodes(jobs)
        jobs = [j for j in jobs if j.multinode_parent is None]  # nodes follow their job
        await self._rebuild_graph(jobs)
        await self._load_shares(jobs, now)
        for job in jobs:
            if job.status is S.SUBMITTED:
                self._submitted.append(job)
            elif job.status is S.PENDING and job.job_id not in self.graph.arrays:
                if not self.graph.unmet(job.job_id):
                    self._promote(job, now)
            elif job.status is S.RUNNABLE:
                job.status_reason = None  # why it waited is worked out afresh
                self._enqueue(job)
            elif job.status in (S.STARTING, S.RUNNING):
                self._orphans.append(job)  # recovered once the task group runs
        self._wake.set()

    async def _load_nodes(self, jobs: list[JobRecord]) -> None:
        """The nodes of unfinished multi-node jobs, finished ones included (a retry runs
        them again)."""
        wanted = [
            f"{j.job_id}#{i}"
            for j in jobs
            if j.is_multinode
            for i in range(int(j.spec["nodeProperties"]["numNodes"]))
        ]
        if not wanted:
            return
        found = {j.job_id: j for j in await self.store.get_jobs(wanted)}
        for job in jobs:
            if job.is_multinode:
                n = int(job.spec["nodeProperties"]["numNodes"])
                nodes = [
                    self.jobs.get(f"{job.job_id}#{i}") or found[f"{job.job_id}#{i}"]
                    for i in range(n)
                ]
                self.node_jobs[job.job_id] = nodes

    async def _rebuild_graph(self, jobs: list[JobRecord]) -> None:
        """Dependencies and array counts of unfinished jobs, from their stored specs."""
        wanted = {d for j in jobs for d in j.spec.get("_waitFor") or [] if d not in self.jobs}
        finished = {j.job_id: j for j in await self.store.get_jobs(sorted(wanted))}
        for job in jobs:
            for dep in job.spec.get("_waitFor") or []:
                target = self.jobs.get(dep) or finished.get(dep)
                if target is not None and target.status is S.FAILED:
                    self.graph.doomed.add(job.job_id)
                elif target is not None and target.status is not S.SUCCEEDED:
                    self.graph.add_wait(job.job_id, dep)
            size = (job.spec.get("arrayProperties") or {}).get("size")
            if size is not None:
                state = ArrayState(size)
                state.counts.update(await self.store.child_status_counts(job.job_id))
                self.graph.arrays[job.job_id] = state

    def start_schedules(self, schedules: list[ConfigSchedule]) -> list[ScheduleState]:
        """Run `[[schedule]]` entries in this runtime's task group until it stops. Call after
        the config is applied: a tick missed while no runtime ran fires once, at once."""
        from .schedules import ScheduleRunner

        runner = ScheduleRunner(self, schedules)
        assert self._tg is not None
        self._tg.start_soon(runner.run)
        self.schedules = runner.states
        return runner.states

    def kill_running(self, grace: float) -> None:
        """Stop every running attempt, with `grace` seconds between SIGTERM and SIGKILL
        (0: at once). The attempts are requeued if the runtime is stopping."""
        for run in list(self.running.values()):
            self._kill(run, grace)

    def stop_now(self) -> None:
        """A stop that must not wait (a second Ctrl-C): stop waiting for a drain, leave every
        attempt that can be left, SIGKILL the others (they are requeued)."""
        if self._drain_scope is not None:
            self._drain_scope.cancel()
        self._stop_attempts(grace=0, leave=self.stop_mode is not StopMode.REQUEUE)

    def can_leave(self, run: Running) -> bool:
        """Whether a stop may leave this attempt running: it has started, nothing asked to
        stop it, and its executor finds its attempts again on the next start. A multi-node
        job never is (a restart runs it again)."""
        return (
            run.handle is not None
            and run.gang is None
            and not run.kill_requested
            and hasattr(run.executor, "adopt")
        )

    def _stop_attempts(self, grace: float, *, leave: bool) -> None:
        for run in list(self.running.values()):
            if run.leaving or (leave and self.can_leave(run)):
                run.leaving = True
            else:
                self._kill(run, grace)

    async def _shutdown(self) -> None:
        """Stop placing; drain, leave or stop the running attempts (`stop_mode`); commit
        everything."""
        self._stopping = True
        if self._jstla_timer is not None:
            self._jstla_timer.cancel()
        for timer in [*self._reclaim_timers.values(), self._scale_timer]:
            if timer is not None:
                timer.cancel()
        if self.stop_mode is StopMode.DRAIN:
            # Running attempts finish as usual (a retry goes back to its queue, unplaced);
            # `stop_now` ends the wait.
            with anyio.CancelScope() as self._drain_scope:
                for run in list(self.running.values()):
                    await run.done.wait()
        leave = self.stop_mode is StopMode.LEAVE
        self._stop_attempts(self.settings.kill_grace_seconds, leave=leave)
        for run in list(self.running.values()):
            if not run.leaving:
                await run.done.wait()
        await self.stop_sweeps()
        await self.release_records()
        # Closing an executor ends the waits of the attempts left running: an attempt that
        # ended meanwhile gets its exit recorded now, the others are left to the next runtime.
        for ex in [*self._executors.values(), *self._ce_executors.values()]:
            await ex.close()
        with anyio.move_on_after(LEAVE_SETTLE_S):
            for run in list(self.running.values()):
                await run.done.wait()
        for run in list(self.running.values()):
            run.scope.cancel()  # an executor whose close leaves its waits pending
            await run.done.wait()
        await self.store.flush()

    # ------------------------------------------------------------------ scheduling

    def wake(self) -> None:
        self._wake.set()

    async def _schedule_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            if self.store.write_error is not None:
                # Nothing starts while its attempt can't be recorded (a full disk); the store
                # wakes this loop once a commit works again.
                continue
            self.schedule_once()
            # Let attempt tasks and the writer run before the next pass.
            await anyio.sleep(0)

    def schedule_once(self) -> int:
        """One scheduling pass. Returns the number of jobs placed."""
        now = self._now()
        if self._submitted:
            submitted, self._submitted = self._submitted, []
            for job in submitted:
                if job.status is S.SUBMITTED:
                    self._promote(job, now)
        views = []
        for name, dq in self.runnable.items():
            while dq and dq[0].status is not S.RUNNABLE:
                dq.popleft()
            jq = self.registry.job_queues.get(name)
            if dq and jq is not None:
                views.append(QueueView(name, jq.priority, self.registry.ce_names(jq), dq))
        views.extend(self._share_views(now))
        decisions = plan(views, self.pools, now, self.new_instance_id)
        self._carry_out(decisions)
        for place in decisions.placements:
            self._place(place.job, place.ce, now, place.instance)
        # Placed jobs are a prefix of their deque: drop them now, so a job that fails and is
        # requeued at the front before the next pass is never in its deque twice.
        for view in views:
            line = self.runnable.get(view.name)
            while line and line[0].status is not S.RUNNABLE:
                line.popleft()
        for wait in decisions.waits:
            if wait.job.status_reason != wait.reason:
                wait.job.status_reason = wait.reason
                self.store.mark_job(wait.job)
                self.bus.publish(wait.job)
        self.note_heads((w.job for w in decisions.waits), now)
        return len(decisions.placements)

    # ------------------------------------------------------------------ reads

    async def get_jobs(self, job_ids: list[str]) -> list[JobRecord]:
        """Jobs by id in the order asked, unknown ids left out (as DescribeJobs)."""
        # The live records are taken before the store is read: a job that finishes during
        # that await leaves `self.jobs`, and was not among the ids read from the store.
        live = {j: self.jobs[j] for j in job_ids if j in self.jobs}
        missing = [j for j in job_ids if j not in live]
        from_store: dict[str, JobRecord] = {}
        if missing:
            await self.store.flush_for_read()
            from_store = {j.job_id: j for j in await self.store.get_jobs(missing)}
        out = []
        for jid in job_ids:
            job = self.jobs.get(jid) or live.get(jid) or from_store.get(jid)
            if job is not None:
                out.append(job)
        return out

    def explain(self, job: JobRecord) -> str | None:
        """Why a job waits: its own reason at the head, else who is ahead of it."""
        if job.status is not S.RUNNABLE:
            return job.status_reason
        order = self.share_order(job.job_queue, EXPLAIN_DEPTH)
        if order is not None:
            if not order or order[0] is job:
                return job.status_reason
            where = next((i for i, j in enumerate(order, 1) if j is job), None)
            if where is not None:
                return queued_reason(order[0], where)
            return (
                f"{QUEUED_CODE} - more than {EXPLAIN_DEPTH} jobs ahead in fair-share order, "
                f"behind job {order[0].job_id} ({order[0].job_name})"
            )
        dq = self.runnable.get(job.job_queue)
        if not dq:
            return job.status_reason
        head = next((j for j in dq if j.status is S.RUNNABLE), None)
        if head is None or head is job:
            return job.status_reason
        position = 1
        for j in dq:
            if j is job:
                break
            if j.status is S.RUNNABLE:
                position += 1
        return queued_reason(head, position)


@asynccontextmanager
async def open_runtime(
    settings: RuntimeSettings,
    executors: dict[ExecutorKind, Executor] | None = None,
    on_ready: Callable[[Runtime], None] | None = None,
    clock: Clock | None = None,
) -> AsyncIterator[Runtime]:
    """Start a runtime on `settings.state_dir`; stop it cleanly when the block ends. `clock`
    (seconds, as time.time) is for tests that drive time themselves."""
    rt = Runtime(settings, executors, clock)
    await rt._startup()
    try:
        async with anyio.create_task_group() as tg:
            rt._tg = tg
            tg.start_soon(rt.store.run_writer)
            tg.start_soon(rt.prepared.run)
            await rt._recover_orphans()
            tg.start_soon(rt._schedule_loop)
            if on_ready is not None:
                on_ready(rt)
            try:
                yield rt
            finally:
                with anyio.CancelScope(shield=True):
                    await rt._shutdown()
                tg.cancel_scope.cancel()
    finally:
        with anyio.CancelScope(shield=True):
            try:
                await rt.store.close()
            finally:
                rt._lock.release()


__all__ = ["Runtime", "StopMode", "open_runtime"]
