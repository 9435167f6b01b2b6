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
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskGroup

from abatch.config.settings import RuntimeSettings
from abatch.executors.base import Executor, Handle, StartError
from abatch.model.enums import ExecutorKind, JobStatus, ResourceState
from abatch.model.errors import ClientError, NotFoundError
from abatch.model.job import Attempt, JobRecord, log_stream_name
from abatch.model.runspec import ExitResult, RunSpec
from abatch.scheduler.placement import CapacityPool, QueueView, plan, queued_reason
from abatch.scheduler.resolve import job_environment, substitute
from abatch.scheduler.retry import decide_retry
from abatch.scheduler.transitions import transition
from abatch.store.lock import StateLock
from abatch.store.sqlite import SqliteStore

from .bus import EventBus
from .graph import ArrayState, Graph, RecentlyFinished
from .registry import Registry
from .resources import ResourceManager
from .submit import SubmitMixin

S = JobStatus
REASON_EXITED = "Essential container in task exited"
REASON_START_FAILED = "Task failed to start"
REASON_TIMEOUT = "Job attempt duration exceeded timeout"
REASON_INTERRUPTED = "Runtime stopped; attempt interrupted and requeued"
REASON_ABANDONED = "Runtime restarted; attempt abandoned and requeued"
REASON_DEPENDENCY = "Dependent Job failed"
REASON_ARRAY_CHILD = "Array Child Job failed"


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class Running:
    """An attempt on a host: what the runtime needs to stop it."""

    job: JobRecord
    attempt: Attempt
    executor: Executor
    handle: Handle | None = None
    final_reason: str | None = None  # set by terminate/timeout: ends FAILED, never retried
    kill_requested: bool = False
    timer: asyncio.TimerHandle | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


class Runtime(SubmitMixin, ResourceManager):
    def __init__(
        self,
        settings: RuntimeSettings,
        executors: dict[ExecutorKind, Executor] | None = None,
    ) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        self.bus = EventBus()
        self.registry = Registry()
        self.pools: dict[str, CapacityPool] = {}
        self.jobs: dict[str, JobRecord] = {}  # every unfinished job
        self.runnable: dict[str, deque[JobRecord]] = {}  # per queue, head first
        self.running: dict[str, Running] = {}
        self.graph = Graph()
        self.recent = RecentlyFinished()
        self._submitted: list[JobRecord] = []
        self._executors = executors if executors is not None else {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._seq_hi = 0
        self._seq_lo = 0
        self._lock = StateLock(self.state_dir)
        self._tg: TaskGroup | None = None
        self.store: SqliteStore
        self.started_at = now_ms()

    # ------------------------------------------------------------------ lifecycle

    async def _startup(self) -> None:
        from abatch.store.sqlite import SqliteStore

        try:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            from abatch.model.errors import StateDirError

            raise StateDirError(
                f"cannot create state directory {self.state_dir}: {exc.strerror}"
            ) from None
        try:
            self._lock.acquire()
        except PermissionError:
            from abatch.model.errors import StateDirError

            raise StateDirError(f"state directory {self.state_dir} is not writable") from None
        try:
            self.store = await SqliteStore.open(self.state_dir)
            await self._load()
        except BaseException:
            self._lock.release()
            raise

    async def _load(self) -> None:
        for ce in await self.store.compute_environments():
            self._set_ce(ce)
        for jq in await self.store.job_queues():
            self.registry.job_queues[jq.job_queue_name] = jq
            self.runnable.setdefault(jq.job_queue_name, deque())
        for jd in await self.store.job_definitions():
            self.registry.add_definition(jd)
        now = now_ms()
        jobs = await self.store.unfinished_jobs()
        seqs = [j.seq for j in jobs] or [0]
        self._seq_hi = max(max(seqs) + 1, now * 1000)
        self._seq_lo = min(min(seqs) - 1, -1)
        for job in jobs:
            self.jobs[job.job_id] = job
        await self._rebuild_graph(jobs)
        for job in jobs:
            if job.status is S.SUBMITTED:
                self._submitted.append(job)
            elif job.status is S.PENDING and job.job_id not in self.graph.arrays:
                if not self.graph.unmet(job.job_id):
                    self._promote(job, now)
            elif job.status is S.RUNNABLE:
                self.runnable.setdefault(job.job_queue, deque()).append(job)
            elif job.status in (S.STARTING, S.RUNNING):
                self._abandon(job, now)
        self._wake.set()

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

    def _abandon(self, job: JobRecord, now: int) -> None:
        """A job that was on a host when the previous runtime died: stop what is left of its
        attempt and queue it again at the front, without using up a retry."""
        attempt = job.current_attempt
        if attempt is not None:
            if attempt.pid:
                kill_orphan(attempt.pid, job.job_id, attempt.number)
            attempt.stopped_at = attempt.stopped_at or now
            attempt.status_reason = REASON_ABANDONED
            self.store.mark_attempt(job, attempt)
        self._requeue_front(job, now)

    async def _shutdown(self) -> None:
        """Stop placing; stop running attempts (they are requeued); commit everything."""
        self._stopping = True
        for run in list(self.running.values()):
            self._kill(run, grace=self.settings.kill_grace_seconds)
        for run in list(self.running.values()):
            await run.done.wait()
        for ex in self._executors.values():
            await ex.close()
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
            self.schedule_once()
            # Let attempt tasks and the writer run before the next pass.
            await anyio.sleep(0)

    def schedule_once(self) -> int:
        """One scheduling pass. Returns the number of jobs placed."""
        now = now_ms()
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
                views.append(QueueView(name, jq.priority, jq.ce_names(), dq))
        decisions = plan(views, self.pools)
        for place in decisions.placements:
            self._place(place.job, place.ce, now)
        for wait in decisions.waits:
            if wait.job.status_reason != wait.reason:
                wait.job.status_reason = wait.reason
                self.store.mark_job(wait.job)
                self.bus.publish(wait.job)
        return len(decisions.placements)

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
            self.runnable.setdefault(job.job_queue, deque()).append(job)

    def _requeue_front(self, job: JobRecord, now: int, reason: str | None = None) -> None:
        job.seq = self._seq_lo
        self._seq_lo -= 1
        job.ce = None
        if job.status is not S.RUNNABLE:
            self._move(job, S.RUNNABLE, now, reason)
        self.runnable.setdefault(job.job_queue, deque()).appendleft(job)

    def _move(self, job: JobRecord, to: JobStatus, now: int, reason: str | None = None) -> None:
        """Every status change of the runtime goes through here: the legal-move check, the
        store, the bus, array counts, and what a finished job means for others."""
        before = job.status
        transition(job, to, now, reason)
        self.store.mark_job(job)
        self.bus.publish(job)
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
        self.store.mark_job(job)
        self.bus.publish(job)
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

    def _place(self, job: JobRecord, ce_name: str, now: int) -> None:
        ce = self.registry.compute_environments[ce_name]
        executor = self._executor(ce.executor)
        task_id = uuid.uuid4().hex
        jd_name = job.job_definition.partition(":")[0]
        attempt = Attempt(
            number=len(job.attempts) + 1,
            ce=ce_name,
            task_id=task_id,
            log_stream=log_stream_name(jd_name, task_id),
            created_at=now,
        )
        job.attempts.append(attempt)
        job.ce = ce_name
        self._move(job, S.STARTING, now)
        self.store.mark_attempt(job, attempt)
        run = Running(job, attempt, executor)
        self.running[job.job_id] = run
        assert self._tg is not None
        self._tg.start_soon(self._supervise, run)

    def _executor(self, kind: ExecutorKind) -> Executor:
        ex = self._executors.get(kind)
        if ex is None:
            if kind is ExecutorKind.PROCESS:
                from abatch.executors.process import ProcessExecutor

                ex = ProcessExecutor()
            else:
                raise ClientError(f"executor {kind.value!r} is not available in this runtime")
            self._executors[kind] = ex
        return ex

    def run_spec(self, job: JobRecord, attempt: Attempt) -> RunSpec:
        container: dict[str, Any] = job.spec.get("container") or {}
        argv = substitute(list(container.get("command") or []), job.spec.get("parameters") or {})
        env = job_environment(
            container,
            job_id=job.job_id,
            attempt=attempt.number,
            queue=job.job_queue,
            ce=attempt.ce,
            extra=job.spec.get("_env"),
        )
        return RunSpec(
            key=attempt.task_id,
            argv=tuple(argv),
            env=env,
            workdir=self.state_dir / "work" / attempt.task_id,
            log_path=self.log_path(attempt.log_stream),
            vcpus=job.vcpus,
            memory_mib=job.memory,
            image=container.get("image"),
            container=container,
            labels={
                "abatch.job-id": job.job_id,
                "abatch.attempt": str(attempt.number),
                "abatch.runtime": str(self.state_dir),
            },
        )

    def log_path(self, stream: str) -> Any:
        # Stream names are `{definition name}/default/{hex}`: the definition name is
        # validated to [A-Za-z0-9_-], so the path cannot leave the logs directory.
        return self.state_dir / "logs" / stream

    # ------------------------------------------------------------------ attempts

    async def _supervise(self, run: Running) -> None:
        job, attempt = run.job, run.attempt
        try:
            try:
                spec = self.run_spec(job, attempt)
                run.handle = await run.executor.start(spec)
            except StartError as exc:
                self._attempt_ended(run, ExitResult(None, exc.reason), REASON_START_FAILED)
                return
            now = now_ms()
            attempt.pid = run.handle.pid
            attempt.started_at = now
            self._move(job, S.RUNNING, now)
            self.store.mark_attempt(job, attempt)
            if run.kill_requested:
                self._kill(run, grace=self.settings.kill_grace_seconds)
            else:
                self._arm_timeout(run)
            result = await run.executor.wait(run.handle)
            self._attempt_ended(run, result, REASON_EXITED)
        finally:
            if run.timer is not None:
                run.timer.cancel()
            self.running.pop(job.job_id, None)
            run.done.set()

    def _arm_timeout(self, run: Running) -> None:
        seconds = (run.job.spec.get("timeout") or {}).get("attemptDurationSeconds")
        if seconds:
            loop = asyncio.get_running_loop()
            run.timer = loop.call_later(float(seconds), self._on_timeout, run)

    def _on_timeout(self, run: Running) -> None:
        if run.final_reason is None:
            run.final_reason = REASON_TIMEOUT
        self._kill(run, grace=self.settings.kill_grace_seconds)

    def _kill(self, run: Running, grace: float) -> None:
        run.kill_requested = True
        if run.handle is not None:
            assert self._tg is not None
            self._tg.start_soon(run.executor.kill, run.handle, grace)

    def _attempt_ended(self, run: Running, result: ExitResult, status_reason: str) -> None:
        job, attempt = run.job, run.attempt
        now = now_ms()
        attempt.stopped_at = now
        attempt.exit_code = result.exit_code
        attempt.reason = result.reason
        pool = self.pools.get(attempt.ce)
        if pool is not None:
            pool.give(job)
        if run.final_reason is not None:
            attempt.status_reason = run.final_reason
            self._finish(job, S.FAILED, now, run.final_reason)
        elif self._stopping and run.kill_requested:
            attempt.status_reason = REASON_INTERRUPTED
            self._requeue_front(job, now)
        elif result.exit_code == 0 and result.reason is None:
            attempt.status_reason = status_reason
            self._finish(job, S.SUCCEEDED, now, status_reason)
        else:
            attempt.status_reason = status_reason
            counted = sum(
                1 for a in job.attempts
                if a.status_reason not in (REASON_INTERRUPTED, REASON_ABANDONED)
            )  # fmt: skip
            decision = decide_retry(
                job.spec.get("retryStrategy"),
                counted,
                exit_code=result.exit_code,
                reason=result.reason,
                status_reason=status_reason,
            )
            if decision.retry:
                self._requeue_front(job, now)
            else:
                self._finish(job, S.FAILED, now, status_reason)
        self.store.mark_attempt(job, attempt)
        self._wake.set()

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
        if job is None:
            if await self.store.get_job(job_id) is None:
                raise NotFoundError(f"job {job_id} does not exist")
            return  # finished: a no-op, as on AWS
        now = now_ms()
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
                self._kill(run, grace=self.settings.kill_grace_seconds)

    # ------------------------------------------------------------------ reads

    async def get_jobs(self, job_ids: list[str]) -> list[JobRecord]:
        """Jobs by id in the order asked, unknown ids left out (as DescribeJobs)."""
        missing = [j for j in job_ids if j not in self.jobs]
        from_store: dict[str, JobRecord] = {}
        if missing:
            await self.store.flush()
            from_store = {j.job_id: j for j in await self.store.get_jobs(missing)}
        out = []
        for jid in job_ids:
            job = self.jobs.get(jid) or from_store.get(jid)
            if job is not None:
                out.append(job)
        return out

    def explain(self, job: JobRecord) -> str | None:
        """Why a job waits: its own reason at the head, else who is ahead of it."""
        if job.status is not S.RUNNABLE:
            return job.status_reason
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


def kill_orphan(pid: int, job_id: str, attempt: int) -> None:
    """Kill the process group of a process left by a previous runtime, after checking from
    its environment that it really is that attempt (pids are reused)."""
    import os
    import signal

    marker = f"AWS_BATCH_JOB_ID={job_id}\0".encode()
    marker2 = f"AWS_BATCH_JOB_ATTEMPT={attempt}\0".encode()
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return
    if marker in env and marker2 in env:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


@asynccontextmanager
async def open_runtime(
    settings: RuntimeSettings,
    executors: dict[ExecutorKind, Executor] | None = None,
    on_ready: Callable[[Runtime], None] | None = None,
) -> AsyncIterator[Runtime]:
    """Start a runtime on `settings.state_dir`; stop it cleanly when the block ends."""
    rt = Runtime(settings, executors)
    await rt._startup()
    try:
        async with anyio.create_task_group() as tg:
            rt._tg = tg
            tg.start_soon(rt.store.run_writer)
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
            await rt.store.close()
            rt._lock.release()


__all__ = ["ResourceState", "Runtime", "open_runtime"]
