"""Recovery after a restart: attempts that were on a host when the previous runtime stopped.

An executor that can find its attempts again (Docker by label, processes through the state
directory's supervisor) gets them back under supervision with their logs and original
timeout; an attempt that ended while no runtime ran is recorded with the exit code and time
its executor kept. If its engine does not answer yet, the attempts keep their capacity and
recovery is tried again later: the containers may still be running, and giving up on them
could run a job twice. Attempts no executor knows of never started there: their jobs are
queued again at the front, without using up a retry. Containers and process groups of this
runtime that belong to no unfinished attempt (started just before a crash, before the store
recorded the attempt) are stopped.

Exits the process supervisor keeps for a runtime that may have died are released
(`forget`) in batches, once the store has committed them.

Process attempts start without waiting for the store to commit them: the supervisor
journals each start with the attempt's record (job id, number, compute environment, log
stream). An attempt the journal has and the store does not (the runtime died in between) is
put back on its job when the next runtime loads (`_take_back_unrecorded`), and then adopted
like any other, so a job never runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import anyio
import anyio.lowlevel

from abatch.executors.base import EngineUnavailableError, Executor, Handle, StartError
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.job import Attempt, JobRecord
from abatch.scheduler.transitions import transition

from .attempts import REASON_ABANDONED, Running, kill_orphan

if TYPE_CHECKING:
    from collections.abc import Callable

    from anyio.abc import TaskGroup

    from abatch.model.resources import ComputeEnvironment
    from abatch.scheduler.placement import CapacityPool
    from abatch.store.sqlite import SqliteStore

    from .registry import Registry

RECOVERY_RETRY_S = 5.0
# Exits recorded before the executor is told it may forget them (see `_note_recorded`).
FORGET_BATCH = 1000


class RecoveryMixin:
    registry: Registry
    store: SqliteStore
    pools: dict[str, CapacityPool]
    running: dict[str, Running]
    _orphans: list[JobRecord]
    _sweeps: list[tuple[anyio.CancelScope, anyio.Event]]
    _held_orphans: set[str]  # orphans whose engine is down: they keep their capacity
    _fresh_keys: set[str]  # attempts started while a sweep runs: never swept
    _tg: TaskGroup | None
    _recorded: dict[Executor, list[str]]  # attempt keys whose exit is recorded, per executor
    _releasing: bool
    _executor: Callable[[ComputeEnvironment, str | None], Executor]
    _executors_of: Callable[[ComputeEnvironment], list[Executor]]
    _endpoint: Callable[[str, str | None], str | None]
    _supervise: Callable[..., Any]
    _requeue_front: Callable[..., None]
    _now: Callable[[], int]
    _abandon_nodes: Callable[..., None]  # MultiNodeMixin

    async def _take_back_unrecorded(self, jobs: list[JobRecord]) -> None:
        """Attempts the process supervisor started for `jobs` (just loaded) that the store
        never recorded: each goes back on its job, which moves on to STARTING, and is adopted
        with the other orphans. Anything else the supervisor holds is left to the sweep."""
        executor = next(
            (
                self._executor(ce, None)
                for ce in self.registry.compute_environments.values()
                if ce.executor is ExecutorKind.PROCESS
            ),
            None,
        )
        known = getattr(executor, "known", None)
        if known is None:
            return
        by_id = {j.job_id: j for j in jobs}
        taken = False
        for rec in await known():
            meta = rec.get("m")
            if not isinstance(meta, dict):
                continue
            job = by_id.get(str(meta.get("job")))
            ce = self.registry.compute_environments.get(str(meta.get("ce")))
            if (
                job is None
                or ce is None
                or ce.executor is not ExecutorKind.PROCESS
                or job.is_multinode
                or job.multinode_parent is not None
                or job.status not in _UNPLACED
                or meta.get("n") != len(job.attempts) + 1
            ):
                continue
            try:
                attempt = Attempt(
                    number=int(meta["n"]),
                    ce=ce.compute_environment_name,
                    task_id=str(rec["k"]),
                    log_stream=str(meta["log"]),
                    created_at=int(meta["created"]),
                    started_at=rec.get("st") if rec["state"] == "exited" else rec.get("at"),
                    pid=rec.get("pid"),
                    instance_id=meta.get("inst"),
                    gpu_ids=tuple(str(g) for g in meta.get("gpus") or ()),
                )
            except (KeyError, TypeError, ValueError):
                continue  # not a record this runtime wrote: the sweep stops it
            # The moves the previous runtime made and never stored, at the time it made them.
            at = attempt.created_at
            if job.status is not JobStatus.RUNNABLE:
                transition(job, JobStatus.RUNNABLE, at)
            transition(job, JobStatus.STARTING, at)
            job.attempts.append(attempt)
            job.ce = attempt.ce
            self.store.mark_job(job)
            self.store.mark_attempt(job, attempt)
            taken = True
        if taken:
            await self.store.flush()

    async def _recover_orphans(self) -> None:
        orphans, self._orphans = self._orphans, []
        now = self._now()
        adopted: set[str] = set()
        swept: list[Executor] = []
        waiting: list[JobRecord] = []
        for job in orphans:
            attempt = job.current_attempt
            ce = self.registry.compute_environments.get(attempt.ce) if attempt else None
            if attempt is None or ce is None:
                self._abandon(job, now)
                continue
            if job.is_multinode:
                # Its nodes are not adopted one by one: the whole job runs again.
                self._abandon_nodes(job, now, kill_orphan)
                self._abandon(job, now, kill=False)
                continue
            executor = self._executor(ce, self._endpoint(attempt.ce, attempt.instance_id))
            adopt = getattr(executor, "adopt", None)
            if adopt is None:
                self._abandon(job, now, kill=ce.executor is ExecutorKind.PROCESS)
                continue
            pool = self.pools.get(ce.compute_environment_name)
            held = job.job_id in self._held_orphans
            try:
                handle: Handle | None = await adopt(attempt.task_id)
            except EngineUnavailableError as exc:
                self._hold(job, pool, exc.reason)
                waiting.append(job)
                continue
            except StartError:
                handle = None
            except Exception as exc:  # an engine error we cannot classify: try again later
                self._hold(job, pool, f"DockerTimeoutError: {exc}")
                waiting.append(job)
                continue
            if pool is not None and held:
                pool.give(job)
                self._held_orphans.discard(job.job_id)
            if handle is None:
                self._abandon(job, now, kill=False)
                continue
            adopted.add(attempt.task_id)
            if executor not in swept:
                swept.append(executor)
            if pool is not None:
                _take_back(pool, job)
                pool.unavailable = None
            run = Running(job, attempt, executor)
            self.running[job.job_id] = run
            assert self._tg is not None
            self._tg.start_soon(self._supervise, run, handle)
        for ce in self.registry.compute_environments.values():
            for executor in self._executors_of(ce):
                if hasattr(executor, "containers") and executor not in swept:
                    swept.append(executor)
        pending = {j.current_attempt.task_id for j in waiting if j.current_attempt is not None}
        assert self._tg is not None
        if swept:
            # In the background: an engine that is slow or down must not hold up the start.
            scope, done = anyio.CancelScope(), anyio.Event()
            self._sweeps.append((scope, done))
            self._tg.start_soon(self._sweep_all, swept, adopted, pending, scope, done)
        if waiting:
            self._orphans.extend(waiting)
            loop = asyncio.get_running_loop()
            loop.call_later(RECOVERY_RETRY_S, self._retry_recovery)

    def _hold(self, job: JobRecord, pool: CapacityPool | None, reason: str) -> None:
        """The job's engine does not answer: keep its capacity (it may still run there) and
        keep the compute environment aside until recovery is tried again."""
        if pool is None:
            return
        if job.job_id not in self._held_orphans:
            _take_back(pool, job)
            self._held_orphans.add(job.job_id)
        pool.unavailable = reason

    def _retry_recovery(self) -> None:
        if self._tg is not None and self._orphans:
            self._tg.start_soon(self._recover_orphans)

    async def _sweep_all(
        self,
        executors: list[Executor],
        adopted: set[str],
        pending: set[str],
        scope: anyio.CancelScope,
        done: anyio.Event,
    ) -> None:
        try:
            with scope:
                # Registered (and perhaps cancelled) before this task ran: check first, so a
                # stopping runtime never opens a new engine connection here.
                await anyio.lowlevel.checkpoint()
                for executor in executors:
                    await self._sweep(executor, adopted, pending)
        finally:
            done.set()
            if all(d.is_set() for _, d in self._sweeps):
                self._fresh_keys.clear()

    async def stop_sweeps(self) -> None:
        """Cancel background sweeps and wait for them (before executors are closed)."""
        for scope, done in self._sweeps:
            scope.cancel()
            await done.wait()
        self._sweeps.clear()

    async def _sweep(self, executor: Executor, adopted: set[str], pending: set[str]) -> None:
        """Stop this runtime's containers (or supervised process groups) that belong to no
        unfinished attempt."""
        containers = getattr(executor, "containers", None)
        adopt = getattr(executor, "adopt", None)
        if containers is None or adopt is None:
            return
        # Best effort: whatever is left is tried again on the next start.
        with contextlib.suppress(Exception):
            for key in await containers():
                if key in adopted or key in pending or key in self._fresh_keys:
                    continue
                handle = await adopt(key)
                if handle is not None:
                    await executor.kill(handle, 0)
                    await executor.wait(handle)
                    forget = getattr(executor, "forget", None)
                    if forget is not None:  # no attempt of the store: nothing to record
                        await forget([key])
            retain = getattr(executor, "retain", None)
            if retain is not None:
                # Exits kept for a runtime that died before saying it had stored them: only
                # those of attempts this runtime still holds are wanted.
                await retain(sorted(self._wanted_keys(adopted | pending)))

    def _note_recorded(self, run: Running) -> None:
        """The attempt's exit is recorded (write-behind). An executor that keeps exits for a
        runtime that may have died (the process supervisor's journal) is told to drop them
        once the store has committed them, in batches."""
        if not hasattr(run.executor, "forget"):
            return
        keys = self._recorded.setdefault(run.executor, [])
        keys.append(run.attempt.task_id)
        if _due(run.executor, keys) and not self._releasing and self._tg is not None:
            self._releasing = True
            self._tg.start_soon(self.release_records)

    async def release_records(self) -> None:
        """Commit the store, then let executors forget the exits it now holds."""
        self._releasing = True
        try:
            # Exits recorded meanwhile are released too (the Docker executor's containers
            # wait for this, one at a time).
            batches, self._recorded = self._recorded, {}
            while batches:
                await self.store.flush()
                for executor, keys in batches.items():
                    await executor.forget(keys)  # type: ignore[attr-defined]
                batches = {ex: keys for ex, keys in self._recorded.items() if _due(ex, keys)}
                for ex in batches:
                    del self._recorded[ex]
        finally:
            self._releasing = False

    def _wanted_keys(self, keys: set[str]) -> set[str]:
        """`keys` plus every attempt this runtime runs, started during a sweep, or has
        recorded but not yet released."""
        wanted = set(keys) | self._fresh_keys
        for run in self.running.values():
            wanted.add(run.attempt.task_id)
            if run.gang is not None:
                wanted.update(r.attempt.task_id for r in run.gang.runs.values())
        for recorded in self._recorded.values():
            wanted.update(recorded)
        return wanted

    def _abandon(self, job: JobRecord, now: int, *, kill: bool = True) -> None:
        """Stop what is left of the attempt and queue the job again at the front."""
        attempt = job.current_attempt
        if attempt is not None:
            if kill and attempt.pid:
                kill_orphan(attempt.pid, job.job_id, attempt.number)
            attempt.stopped_at = attempt.stopped_at or now
            attempt.status_reason = REASON_ABANDONED
            self.store.mark_attempt(job, attempt)
        self._requeue_front(job, now)


_UNPLACED = (JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE)


def _due(executor: Executor, keys: list[str]) -> bool:
    return len(keys) >= getattr(executor, "forget_batch", FORGET_BATCH)


def _take_back(pool: CapacityPool, job: JobRecord) -> None:
    """Count a recovered attempt's capacity again, on the instance it ran on and with the
    same GPU ids it had."""
    attempt = job.current_attempt
    instance_id = attempt.instance_id if attempt is not None else None
    if attempt is not None and attempt.gpu_ids:
        fleet = pool.fleet
        inst = fleet.instances.get(instance_id) if fleet and instance_id else None
        slots = pool.slots(inst)
        if slots is not None:
            slots.hold(job.job_id, attempt.gpu_ids)
    pool.take(job, instance_id)
