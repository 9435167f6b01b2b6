"""Attempts: placing a job on a compute environment, supervising its run, timeouts, kills,
and deciding what its exit means (success, retry at the front of its queue, or failure).

One supervisor task per running attempt; the executor does the waiting (pidfd for processes),
so an attempt costs no thread. Timeouts are event-loop timers armed when the attempt is
RUNNING; on expiry the attempt gets SIGTERM, then SIGKILL after the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from abatch.executors.base import EngineUnavailableError, Executor, Handle, StartError
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.errors import AbatchError, StateDirError
from abatch.model.job import Attempt, JobRecord, log_stream_name
from abatch.model.paths import log_file, work_dir
from abatch.model.runspec import ExitResult, RunSpec
from abatch.scheduler.resolve import job_environment, substitute
from abatch.scheduler.retry import decide_retry

from .prepared import PreparedAttempts

if TYPE_CHECKING:
    from anyio.abc import TaskGroup

    from abatch.config.settings import RuntimeSettings
    from abatch.model.resources import ComputeEnvironment
    from abatch.scheduler.devices import DeviceLedger
    from abatch.scheduler.placement import CapacityPool
    from abatch.store.sqlite import SqliteStore

    from .registry import Registry

S = JobStatus
REASON_EXITED = "Essential container in task exited"
REASON_START_FAILED = "Task failed to start"
REASON_TIMEOUT = "Job attempt duration exceeded timeout"
REASON_INTERRUPTED = "Runtime stopped; attempt interrupted and requeued"
REASON_ABANDONED = "Runtime restarted; attempt abandoned and requeued"
REASON_ENGINE_DOWN = "Engine unavailable; job requeued"
REASON_STORE_DOWN = "State directory not writable; job requeued"
# Attempts that end for reasons outside the job do not use up its retries.
NOT_COUNTED = frozenset(
    {REASON_INTERRUPTED, REASON_ABANDONED, REASON_ENGINE_DOWN, REASON_STORE_DOWN}
)
NOTE_DISK_FULL = "log incomplete: the disk holding the state directory is full"
LOW_SPACE_BYTES = 64 * 1024
ENGINE_RETRY_FIRST_S = 2.0
ENGINE_RETRY_MAX_S = 60.0


@dataclass(slots=True)
class Running:
    """An attempt on a host: what the runtime needs to stop it."""

    job: JobRecord
    attempt: Attempt
    executor: Executor
    handle: Handle | None = None
    final_reason: str | None = None  # set by terminate/timeout: ends FAILED, never retried
    host_lost: str | None = None  # set by a Spot reclaim: the status reason, retry by rules
    kill_requested: bool = False
    timer: asyncio.TimerHandle | None = None
    # asyncio's Event: anyio's looks up the running backend on every creation, which at one
    # attempt per job showed in the profile of the 2,000-job benchmark.
    done: asyncio.Event = field(default_factory=asyncio.Event)
    gang: Gang | None = None  # a multi-node job: its nodes' attempts (see multinode.py)
    # Left running when the runtime stops (adopted on the next start): supervision ends once
    # the executor is closed (or `scope` is cancelled) and nothing more is recorded, unless
    # the attempt had ended by then.
    leaving: bool = False
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)


@dataclass(slots=True)
class Gang:
    """One attempt of a multi-node job: the attempts of its nodes, by node index."""

    nodes: list[JobRecord]
    main: int
    runs: dict[int, Running] = field(default_factory=dict)
    network: str | None = None
    main_ended: bool = False


class AttemptsMixin:
    settings: RuntimeSettings
    state_dir: Path
    store: SqliteStore
    registry: Registry
    pools: dict[str, CapacityPool]
    devices: DeviceLedger
    running: dict[str, Running]
    _executors: dict[ExecutorKind, Executor]
    _ce_executors: dict[tuple[str, str | None, bool], Executor]
    _engine_backoff: dict[str, float]
    runtime_id: str
    _tg: TaskGroup | None
    _stopping: bool
    _wake: asyncio.Event
    prepared: PreparedAttempts
    _sweeps: list[Any]
    _fresh_keys: set[str]

    # Provided by MovesMixin.
    _move: Callable[..., None]
    _finish: Callable[[JobRecord, JobStatus, int, str | None], None]
    _requeue_front: Callable[..., None]
    _now: Callable[[], int]
    # Provided by RecoveryMixin.
    _note_recorded: Callable[[Running], None]
    # Provided by MultiNodeMixin.
    node_jobs: dict[str, list[JobRecord]]
    _supervise_gang: Callable[[Running], Any]

    def _place(self, job: JobRecord, ce_name: str, now: int, instance: str | None = None) -> None:
        ce = self.registry.compute_environments[ce_name]
        executor = self._executor(ce, self._endpoint(ce_name, instance))
        task_id = self.prepared.take()
        jd_name = job.job_definition.partition(":")[0]
        attempt = Attempt(
            number=len(job.attempts) + 1,
            ce=ce_name,
            task_id=task_id,
            log_stream=log_stream_name(jd_name, task_id),
            created_at=now,
            instance_id=instance,
        )
        # The GPU ids it took with its capacity (scheduler.devices), kept with the attempt.
        attempt.gpu_ids = self.devices.held(job.job_id)
        job.attempts.append(attempt)
        job.ce = ce_name
        self._move(job, S.STARTING, now)
        self.store.mark_attempt(job, attempt)
        run = Running(job, attempt, executor)
        self.running[job.job_id] = run
        assert self._tg is not None
        if job.is_multinode:
            run.gang = Gang(self.node_jobs[job.job_id], int(job.spec["nodeProperties"]["mainNode"]))
            self._tg.start_soon(self._supervise_gang, run)
        else:
            self._tg.start_soon(self._supervise, run)

    def _endpoint(self, ce_name: str, instance: str | None) -> str | None:
        """The Docker endpoint of a declared host (None: this machine, or the compute
        environment's own `docker_host`)."""
        pool = self.pools.get(ce_name)
        if instance is None or pool is None or pool.fleet is None:
            return None
        inst = pool.fleet.instances.get(instance)
        return inst.endpoint if inst is not None else None

    def _executors_of(self, ce: ComputeEnvironment) -> list[Executor]:
        """Every executor a compute environment uses: one per declared Docker endpoint."""
        endpoints = {h.docker_host for h in ce.hosts or []} or {None}
        return [self._executor(ce, e) for e in sorted(endpoints, key=lambda e: e or "")]

    def _executor(self, ce: ComputeEnvironment, endpoint: str | None = None) -> Executor:
        """The executor for a compute environment (on a declared host's `endpoint`): an
        injected one for its kind (tests), else one process executor for all, and one
        Docker executor per endpoint."""
        injected = self._executors.get(ce.executor)
        if injected is not None:
            return injected
        docker_host = endpoint or ce.docker_host
        key = (ce.executor.value, docker_host, ce.keep_containers)
        if ce.executor is ExecutorKind.PROCESS:
            key = (ce.executor.value, None, False)  # one supervisor per state directory
        ex = self._ce_executors.get(key)
        if ex is None:
            if ce.executor is ExecutorKind.PROCESS:
                from abatch.executors.process import ProcessExecutor

                ex = ProcessExecutor(
                    self.state_dir / "supervisor", max_log_bytes=self.settings.max_log_bytes
                )
            else:
                from abatch.executors.docker import DockerExecutor

                ex = DockerExecutor(
                    docker_host,
                    keep_containers=ce.keep_containers,
                    runtime_id=self.runtime_id,
                    max_log_bytes=self.settings.max_log_bytes,
                )
            self._ce_executors[key] = ex
        return ex

    def run_spec(self, job: JobRecord, attempt: Attempt) -> RunSpec:
        if self._sweeps:
            # A startup sweep is removing leftover containers: never this one.
            self._fresh_keys.add(attempt.task_id)
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
        if attempt.gpu_ids:
            # Number the devices as nvidia-smi does (the ids are its indices).
            env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
        return RunSpec(
            key=attempt.task_id,
            argv=tuple(argv),
            env=env,
            workdir=work_dir(self.state_dir, attempt.task_id),
            log_path=self.log_path(attempt.log_stream),
            vcpus=job.vcpus,
            memory_mib=job.memory,
            gpu_ids=attempt.gpu_ids,
            image=container.get("image"),
            container=container,
            labels={
                "abatch.job-id": job.job_id,
                "abatch.attempt": str(attempt.number),
            },
            record=attempt_record(job, attempt),
        )

    def log_path(self, stream: str) -> Path:
        return log_file(self.state_dir, stream)

    # ------------------------------------------------------------------ attempts

    async def _supervise(self, run: Running, adopted: Handle | None = None) -> None:
        """Start the attempt (or take over `adopted`, found running after a restart), wait for
        it, and record how it ended; or, when `run.scope` is cancelled (the runtime stops and
        leaves the attempt running), stop supervising without recording anything."""
        try:
            with run.scope:
                await self._run_attempt(run, adopted)
        finally:
            if run.timer is not None:
                run.timer.cancel()
            self.running.pop(run.job.job_id, None)
            run.done.set()

    async def _run_attempt(self, run: Running, adopted: Handle | None) -> None:
        job, attempt = run.job, run.attempt
        if adopted is None:
            # The attempt is on disk before anything starts, so that after a crash the next
            # runtime knows this attempt number was used (and which task id to look for) and
            # never starts it a second time. Placements of one pass share this commit. An
            # executor that journals each start with the attempt's record (the process
            # supervisor) is that disk: recovery takes back what the store missed
            # (RecoveryMixin._take_back_unrecorded), and the start skips a commit's wait.
            try:
                if getattr(run.executor, "journals_starts", False):
                    # No commit to wait for, but nothing starts while the store cannot write.
                    if self.store.write_error is not None:
                        self._store_down(run, self.store.write_error)
                        return
                else:
                    await self.store.flush()
            except StateDirError as exc:
                self._store_down(run, str(exc))
                return
            try:
                spec = self.run_spec(job, attempt)
                run.handle = await run.executor.start(spec)
                self._engine_backoff.pop(attempt.ce, None)
            except EngineUnavailableError as exc:
                self._engine_down(run, exc.reason)
                return
            except StartError as exc:
                self._attempt_ended(run, ExitResult(None, exc.reason), REASON_START_FAILED)
                return
        else:
            run.handle = adopted
        now = self._now()
        attempt.pid = run.handle.pid
        if attempt.started_at is None:
            # The executor may know when the attempt really started (the supervisor's spawn,
            # or for an adopted attempt long before this runtime); its timeout and duration
            # count from then.
            attempt.started_at = getattr(run.handle, "started_at", None) or now
        if job.status is not S.RUNNING:
            self._move(job, S.RUNNING, attempt.started_at)
        self.store.mark_attempt(job, attempt)
        if run.kill_requested:
            self._kill(run, self.settings.kill_grace_seconds)
        else:
            self._arm_timeout(run)
        try:
            result = await run.executor.wait(run.handle)
        except AbatchError:
            if run.leaving:
                return  # its executor was closed while it ran: the next runtime adopts it
            raise
        self._attempt_ended(run, result, REASON_EXITED)

    def _arm_timeout(self, run: Running) -> None:
        """Counted from the attempt's RUNNING time, so an adopted attempt keeps its deadline."""
        seconds = (run.job.spec.get("timeout") or {}).get("attemptDurationSeconds")
        if seconds:
            elapsed = (self._now() - (run.attempt.started_at or self._now())) / 1000
            loop = asyncio.get_running_loop()
            run.timer = loop.call_later(max(0.0, seconds - elapsed), self._on_timeout, run)

    def _engine_down(self, run: Running, reason: str) -> None:
        """The engine did not answer: requeue the job at the front (this attempt does not
        count) and set the compute environment aside, retrying with a growing delay."""
        job, attempt = run.job, run.attempt
        now = self._now()
        attempt.stopped_at = now
        attempt.reason = reason
        attempt.status_reason = REASON_ENGINE_DOWN
        self.store.mark_attempt(job, attempt)
        # It never started: not listed, and the next placement reuses its number (and so
        # its stored row), so an engine down for hours does not pile up attempts.
        if job.attempts and job.attempts[-1] is attempt:
            job.attempts.pop()
        pool = self.pools.get(attempt.ce)
        if pool is not None:
            pool.give(job)
            if pool.unavailable is None:
                pool.unavailable = reason
                delay = self._engine_backoff.get(attempt.ce, ENGINE_RETRY_FIRST_S)
                self._engine_backoff[attempt.ce] = min(delay * 2, ENGINE_RETRY_MAX_S)
                asyncio.get_running_loop().call_later(delay, self._engine_retry, attempt.ce)
        self._requeue_front(job, now, reason)
        self._wake.set()

    def _store_down(self, run: Running, reason: str) -> None:
        """The attempt could not be recorded: it does not start. The job goes back to the
        front of its queue (not counted) and placement waits until the store writes again."""
        job, attempt = run.job, run.attempt
        now = self._now()
        attempt.stopped_at = now
        attempt.reason = reason
        attempt.status_reason = REASON_STORE_DOWN
        self.store.mark_attempt(job, attempt)
        if job.attempts and job.attempts[-1] is attempt:
            job.attempts.pop()  # its number is used again, as for an engine that is down
        pool = self.pools.get(attempt.ce)
        if pool is not None:
            pool.give(job)
        self._requeue_front(job, now, reason)
        self._wake.set()

    def _note_full_disk(self, attempt: Attempt) -> None:
        """On a full disk a log cannot be written whole (the process supervisor says so in
        the exit's reason; a container's log copy cannot), and the runtime cannot add a line.
        So the attempt's reason says it, once: retry rules still see the job's own result."""
        try:
            st = os.statvfs(self.state_dir)
        except OSError:
            return
        if st.f_bavail * st.f_frsize < LOW_SPACE_BYTES and NOTE_DISK_FULL not in (
            attempt.reason or ""
        ):
            attempt.reason = (
                f"{attempt.reason}; {NOTE_DISK_FULL}" if attempt.reason else (NOTE_DISK_FULL)
            )

    def _engine_retry(self, ce_name: str) -> None:
        pool = self.pools.get(ce_name)
        if pool is not None:
            pool.unavailable = None
        self._wake.set()

    def _on_timeout(self, run: Running) -> None:
        if run.final_reason is None:
            run.final_reason = REASON_TIMEOUT
        self._kill(run, self.settings.kill_grace_seconds)

    def _kill(self, run: Running, grace: float) -> None:
        run.kill_requested = True
        if run.gang is not None:  # a multi-node job: every node started so far
            for node_run in list(run.gang.runs.values()):
                self._kill(node_run, grace)
            return
        if run.handle is not None:
            assert self._tg is not None
            self._tg.start_soon(run.executor.kill, run.handle, grace)

    def _attempt_ended(self, run: Running, result: ExitResult, status_reason: str) -> None:
        job, attempt = run.job, run.attempt
        # When the executor saw the exit (for one recorded while no runtime watched, long
        # before now), else now.
        now = result.stopped_at or self._now()
        attempt.stopped_at = now
        attempt.exit_code = result.exit_code
        attempt.reason = result.reason
        if not getattr(run.executor, "reports_full_disk", False):
            self._note_full_disk(attempt)
        pool = self.pools.get(attempt.ce)
        if pool is not None:
            pool.give(job)
        if run.final_reason is not None:
            attempt.status_reason = run.final_reason
            self._finish(job, S.FAILED, now, run.final_reason)
        elif run.host_lost is not None:
            # The host went away under the attempt (a Spot reclaim): no exit code of the
            # job's own; the retry strategy decides on the status reason.
            attempt.exit_code = attempt.reason = None
            attempt.status_reason = run.host_lost
            counted = sum(1 for a in job.attempts if a.status_reason not in NOT_COUNTED)
            decision = decide_retry(
                job.spec.get("retryStrategy"),
                counted,
                exit_code=None,
                reason=None,
                status_reason=run.host_lost,
            )
            if decision.retry:
                self._requeue_front(job, now, run.host_lost)
            else:
                self._finish(job, S.FAILED, now, run.host_lost)
        elif self._stopping and run.kill_requested:
            attempt.status_reason = REASON_INTERRUPTED
            self._requeue_front(job, now)
        elif result.exit_code == 0 and result.reason is None:
            attempt.status_reason = status_reason
            self._finish(job, S.SUCCEEDED, now, status_reason)
        else:
            attempt.status_reason = status_reason
            counted = sum(1 for a in job.attempts if a.status_reason not in NOT_COUNTED)
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
        self._note_recorded(run)
        self._wake.set()


def attempt_record(job: JobRecord, attempt: Attempt) -> dict[str, Any]:
    """What an executor keeps with an attempt so that recovery can rebuild it (see
    RecoveryMixin._take_back_unrecorded)."""
    rec: dict[str, Any] = {
        "job": job.job_id,
        "n": attempt.number,
        "ce": attempt.ce,
        "log": attempt.log_stream,
        "created": attempt.created_at,
    }
    if attempt.instance_id is not None:
        rec["inst"] = attempt.instance_id
    if attempt.gpu_ids:
        rec["gpus"] = list(attempt.gpu_ids)
    return rec


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
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
