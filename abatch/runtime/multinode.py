"""Multi-node parallel jobs (reference §4): one job, nodes `jobId#i` that run together.

The job (the parent) goes through its queue like any job, holding the sum of its nodes'
needs, so it is placed whole or not at all (scheduler.placement). Its nodes are jobs of their
own (stored, listed with `multiNodeJobId`, described), kept out of every queue: they follow
the parent (`_nodes_follow`, called on each of its moves) and are started by the parent's
supervisor, `_supervise_gang`:

- the main node starts first, in the attempt the parent was placed with (the parent's attempt
  mirrors it: same task id, log stream, exit code and reason); the parent is RUNNING once the
  main node is, and the job's timeout is armed then, on the parent, for the whole job;
- the child nodes start once the main node is RUNNING, with the main node's address in
  AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS: on Docker the main container's IP on a
  bridge network made for this attempt (`abatch-<12 hex of the job id>`, every node joins it,
  removed when the attempt ends), on processes 127.0.0.1 (every node runs on this machine);
- a child node that ends while the main node runs ends on its own (SUCCEEDED or FAILED) and
  changes nothing else; when the main node exits, the children still running are stopped
  (SIGTERM, the grace period, SIGKILL) and the job takes the main node's result, by the rules
  of any attempt (`_attempt_ended`): a main-node failure retries the whole job (every node
  runs again: the one move out of a terminal status, `transitions.reopen_node`), a timeout or
  terminate never does;
- nodes still running when the job ends take its status and reason; nodes that never started
  end FAILED.

AWS_BATCH_JOB_ID in a node is the node's id (`jobId#i`), and AWS_BATCH_JOB_ATTEMPT the
job's attempt number (AWS does not document either; §14).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio

from abatch.executors.base import EngineUnavailableError, StartError
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.errors import StateDirError
from abatch.model.job import Attempt, JobRecord, log_stream_name
from abatch.model.runspec import ExitResult
from abatch.scheduler.devices import split_ids
from abatch.scheduler.transitions import reopen_node

from .attempts import REASON_EXITED, REASON_INTERRUPTED, REASON_START_FAILED, Running

if TYPE_CHECKING:
    from abatch.config.settings import RuntimeSettings
    from abatch.model.runspec import RunSpec
    from abatch.store.sqlite import SqliteStore

    from .attempts import Gang
    from .bus import EventBus
    from .prepared import PreparedAttempts
    from .registry import Registry

S = JobStatus
PROCESS_MAIN_ADDRESS = "127.0.0.1"
MAIN_ADDRESS_VAR = "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"
REASON_NODE_NOT_STARTED = "Job ended before this node started"


def network_name(job_id: str) -> str:
    """The Docker network of a multi-node job: `abatch-` and 12 hex digits of its id."""
    return "abatch-" + job_id.replace("-", "")[:12]


class MultiNodeMixin:
    settings: RuntimeSettings
    store: SqliteStore
    bus: EventBus
    registry: Registry
    prepared: PreparedAttempts
    jobs: dict[str, JobRecord]
    running: dict[str, Running]
    node_jobs: dict[str, list[JobRecord]]  # unfinished multi-node job -> its nodes by index
    _stopping: bool

    _move: Callable[..., None]
    _now: Callable[[], int]
    _kill: Callable[[Running, float], None]
    _arm_timeout: Callable[[Running], None]
    _engine_down: Callable[[Running, str], None]
    _attempt_ended: Callable[[Running, ExitResult, str], None]
    _note_recorded: Callable[[Running], None]
    run_spec: Callable[[JobRecord, Attempt], RunSpec]

    # ------------------------------------------------------------------ nodes follow the job

    def _nodes_follow(self, parent: JobRecord, now: int) -> None:
        """Bring the nodes of `parent` in line with its new status (called on each move)."""
        nodes = self.node_jobs.get(parent.job_id)
        if nodes is None:
            return
        to = parent.status
        if to is S.PENDING:
            for node in nodes:
                if node.status is S.SUBMITTED:
                    self._move(node, S.PENDING, now)
        elif to is S.RUNNABLE:
            for node in nodes:
                if node.status.is_terminal:
                    reopen_node(node, now)
                    self.jobs[node.job_id] = node
                    self.store.mark_job(node)
                    self.bus.publish(node)
                elif node.status is not S.RUNNABLE:
                    self._move(node, S.RUNNABLE, now)
        elif to.is_terminal:
            for node in nodes:
                if node.status.is_terminal:
                    continue
                node.is_cancelled = parent.is_cancelled
                node.is_terminated = parent.is_terminated
                if node.status is S.RUNNING:
                    self._move(node, to, now, parent.status_reason)
                elif to is S.FAILED:
                    self._move(node, S.FAILED, now, parent.status_reason)
                else:
                    self._move(node, S.FAILED, now, REASON_NODE_NOT_STARTED)
            del self.node_jobs[parent.job_id]

    # ------------------------------------------------------------------ one attempt of a job

    async def _supervise_gang(self, run: Running) -> None:
        gang = run.gang
        assert gang is not None
        try:
            ended = await self._run_gang(run, gang)
            if ended is not None:
                result, status_reason = ended
                self._attempt_ended(run, result, status_reason)
        finally:
            if run.timer is not None:
                run.timer.cancel()
            if gang.network is not None:
                with anyio.CancelScope(shield=True):
                    await self._close_network(run, gang.network)
            self.running.pop(run.job.job_id, None)
            run.done.set()

    async def _run_gang(self, run: Running, gang: Gang) -> tuple[ExitResult, str] | None:
        """Run the nodes; the main node's result, or None when the engine was down (the job
        is back in its queue)."""
        job, attempt = run.job, run.attempt
        main_run = self._node_attempt(run, gang.nodes[gang.main], attempt.task_id)
        gang.runs[gang.main] = main_run
        try:
            open_network = getattr(run.executor, "open_network", None)
            if open_network is not None:
                name = network_name(job.job_id)
                await open_network(name)
                gang.network = name
            await self._start_node(main_run, None, gang.network)
        except EngineUnavailableError as exc:
            node, node_attempt = main_run.job, main_run.attempt
            if node.attempts and node.attempts[-1] is node_attempt:
                node.attempts.pop()  # never started: not listed, as for any job
            self._engine_down(run, exc.reason)
            return None
        except StartError as exc:
            result = ExitResult(None, exc.reason)
            self._node_attempt_ended(main_run, result, REASON_START_FAILED)
            return result, REASON_START_FAILED
        now = self._now()
        attempt.started_at = main_run.attempt.started_at
        attempt.pid = main_run.attempt.pid
        self._move(job, S.RUNNING, now)
        self.store.mark_attempt(job, attempt)
        if run.kill_requested:
            self._kill(main_run, self.settings.kill_grace_seconds)
        else:
            self._arm_timeout(run)
        address = await self._main_address(run, main_run, gang.network)
        assert main_run.handle is not None
        async with anyio.create_task_group() as tg:
            for i, node in enumerate(gang.nodes):
                if i != gang.main:
                    tg.start_soon(self._run_child, run, gang, node, address)
            result = await run.executor.wait(main_run.handle)
            gang.main_ended = True
            for i, child in list(gang.runs.items()):
                if i != gang.main:
                    self._kill(child, self.settings.kill_grace_seconds)
        self._node_attempt_ended(main_run, result, self._ending_reason(run, REASON_EXITED))
        return result, REASON_EXITED

    async def _run_child(self, run: Running, gang: Gang, node: JobRecord, address: str) -> None:
        if gang.main_ended or run.kill_requested:
            return  # the job is ending: this node never starts
        index = int(node.spec["nodeDetails"]["nodeIndex"])
        child = self._node_attempt(run, node, None)
        gang.runs[index] = child
        try:
            await self._start_node(child, address, gang.network)
        except StartError as exc:  # an engine that is down included: a child failure
            self._node_attempt_ended(child, ExitResult(None, exc.reason), REASON_START_FAILED)
            self._move(node, S.FAILED, self._now(), REASON_START_FAILED)
            return
        assert child.handle is not None
        if gang.main_ended or run.kill_requested:
            self._kill(child, self.settings.kill_grace_seconds)
        result = await run.executor.wait(child.handle)
        if gang.main_ended:
            # Stopped with the job: its status comes with the job's (`_nodes_follow`).
            self._node_attempt_ended(child, result, self._ending_reason(run, REASON_EXITED))
            return
        self._node_attempt_ended(child, result, REASON_EXITED)
        ok = result.exit_code == 0 and result.reason is None
        self._move(node, S.SUCCEEDED if ok else S.FAILED, self._now(), REASON_EXITED)

    def _ending_reason(self, run: Running, default: str) -> str:
        if run.final_reason is not None:
            return run.final_reason
        if self._stopping and run.kill_requested:
            return REASON_INTERRUPTED
        return default

    # ------------------------------------------------------------------ nodes

    def _node_attempt(self, run: Running, node: JobRecord, task_id: str | None) -> Running:
        """A node's attempt, numbered as the job's, STARTING. The main node shares the job's
        task id (so its log is the job's log)."""
        now = self._now()
        task_id = task_id or self.prepared.take()
        jd_name = node.job_definition.partition(":")[0]
        attempt = Attempt(
            number=run.attempt.number,
            ce=run.attempt.ce,
            task_id=task_id,
            log_stream=log_stream_name(jd_name, task_id),
            created_at=now,
            instance_id=run.attempt.instance_id,
        )
        if run.attempt.gpu_ids and run.gang is not None:
            # The job holds every node's GPUs; each node gets its own share of them.
            shares = split_ids(run.attempt.gpu_ids, [n.gpus for n in run.gang.nodes])
            attempt.gpu_ids = shares[int(node.spec["nodeDetails"]["nodeIndex"])]
        node.attempts.append(attempt)
        node.ce = run.attempt.ce
        self._move(node, S.STARTING, now)
        self.store.mark_attempt(node, attempt)
        return Running(node, attempt, run.executor)

    async def _start_node(
        self, node_run: Running, address: str | None, network: str | None
    ) -> None:
        node, attempt = node_run.job, node_run.attempt
        try:
            await self.store.flush()  # recorded before it starts, as any attempt
        except StateDirError as exc:
            raise EngineUnavailableError(str(exc)) from None
        spec = self.run_spec(node, attempt)
        env = dict(spec.env)
        if address is not None:
            env[MAIN_ADDRESS_VAR] = address
        labels = {**spec.labels, "abatch.multinode-job-id": node.multinode_parent or ""}
        spec = dataclasses.replace(spec, env=env, network=network, labels=labels)
        node_run.handle = await node_run.executor.start(spec)
        now = self._now()
        attempt.pid = node_run.handle.pid
        attempt.started_at = now
        self._move(node, S.RUNNING, now)
        self.store.mark_attempt(node, attempt)

    def _node_attempt_ended(self, node_run: Running, result: ExitResult, why: str) -> None:
        attempt = node_run.attempt
        attempt.stopped_at = self._now()
        attempt.exit_code = result.exit_code
        attempt.reason = result.reason
        attempt.status_reason = why
        self.store.mark_attempt(node_run.job, attempt)
        self._note_recorded(node_run)

    async def _main_address(self, run: Running, main_run: Running, network: str | None) -> str:
        """Where the child nodes reach the main node."""
        address_of = getattr(run.executor, "address", None)
        if network is None or address_of is None or main_run.handle is None:
            return PROCESS_MAIN_ADDRESS
        found: str | None = await address_of(main_run.handle, network)
        return found or PROCESS_MAIN_ADDRESS

    async def _close_network(self, run: Running, name: str) -> None:
        close = getattr(run.executor, "close_network", None)
        if close is not None:
            with contextlib.suppress(Exception):  # best effort; a restart tries again
                await close(name)

    # ------------------------------------------------------------------ after a restart

    def _abandon_nodes(self, parent: JobRecord, now: int, kill: Callable[..., Any]) -> None:
        """Before a multi-node job found running after a restart is queued again: stop what
        is left of its nodes' processes and close their attempts. (Containers belong to no
        unfinished attempt any more: the recovery sweep removes them.)"""
        ce = self.registry.compute_environments.get(parent.ce or "")
        for node in self.node_jobs.get(parent.job_id, []):
            attempt = node.current_attempt
            if node.status not in (S.STARTING, S.RUNNING) or attempt is None:
                continue
            if ce is not None and ce.executor is ExecutorKind.PROCESS and attempt.pid:
                kill(attempt.pid, node.job_id, attempt.number)
            attempt.stopped_at = attempt.stopped_at or now
            attempt.status_reason = REASON_INTERRUPTED
            self.store.mark_attempt(node, attempt)
