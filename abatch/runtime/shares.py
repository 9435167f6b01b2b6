"""Fair share in the runtime: the queues with a scheduling policy (reference §8.4).

The algorithm is scheduler/fairshare.py; this mixin keeps its state in step with the runtime:

- a queue with a `schedulingPolicyArn` keeps its RUNNABLE jobs in a ShareQueue (per share
  identifier, a heap by schedulingPriority then age) instead of a FIFO deque; every way in
  (`_enqueue`) and every status change (`_share_note`, from `_move`) goes through here;
- policies are kept in memory (`policies`, by name) and refreshed when one is created,
  updated or deleted, so a scheduling pass never reads the store;
- SubmitJob refuses a submission that would make a queue's active share identifiers more
  than 500 (`_share_admit`);
- at start-up (`_load_shares`) usage is rebuilt from the store: unfinished jobs count as live,
  STARTING/RUNNING ones hold their vCPUs and use them since their attempt's startedAt, and
  attempts that ended inside the decay window are read back with one indexed query.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from abatch.model.base import name_from_ref
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord
from abatch.model.policy import FairsharePolicy, SchedulingPolicy
from abatch.scheduler.fairshare import ShareQueue, share_of, window_ms
from abatch.scheduler.placement import QueueView

if TYPE_CHECKING:
    from abatch.model.resources import JobQueue
    from abatch.store.sqlite import SqliteStore

    from .registry import Registry

S = JobStatus
POLICY_KIND = "scheduling-policy"
TOP_SHARES = 20  # identifiers listed in a snapshot's fairshareUtilization


class SharesMixin:
    registry: Registry
    store: SqliteStore
    runnable: dict[str, deque[JobRecord]]
    shares: dict[str, ShareQueue]
    policies: dict[str, SchedulingPolicy]
    _now: Callable[[], int]

    # ------------------------------------------------------------------ queues and policies

    def _fairshare_policy(self, jq: JobQueue) -> FairsharePolicy | None:
        """The queue's fair-share policy; a queue whose policy is missing (a config naming
        one never created) is fair share with the defaults: weights 1, a 600 s window."""
        arn = jq.scheduling_policy_arn
        if arn is None:
            return None
        try:
            policy = self.policies.get(name_from_ref(arn, POLICY_KIND))
        except ValueError:
            return None
        return policy.fairshare_policy if policy is not None else None

    def _share_queue(self, name: str) -> ShareQueue | None:
        """The queue's fair-share state, made on first use; None for a FIFO queue."""
        sq = self.shares.get(name)
        if sq is not None:
            return sq
        jq = self.registry.job_queues.get(name)
        if jq is None or jq.scheduling_policy_arn is None:
            return None
        sq = self.shares[name] = ShareQueue(self._fairshare_policy(jq))
        return sq

    def _policies_changed(self) -> None:
        """A policy or a queue's policy changed: give each fair-share queue its current one."""
        for name, sq in self.shares.items():
            jq = self.registry.job_queues.get(name)
            if jq is not None:
                sq.policy = self._fairshare_policy(jq)

    def _policy_stored(self, policy: SchedulingPolicy | None, name: str) -> None:
        if policy is None:
            self.policies.pop(name, None)
        else:
            self.policies[name] = policy
        self._policies_changed()

    # ------------------------------------------------------------------ jobs

    def _enqueue(self, job: JobRecord, front: bool = False) -> None:
        """A job became RUNNABLE: into its queue's line (a requeued one at the front)."""
        sq = self._share_queue(job.job_queue)
        if sq is not None:
            sq.push(job)  # a requeued job's seq already puts it first among its peers
        elif front:
            self.runnable.setdefault(job.job_queue, deque()).appendleft(job)
        else:
            self.runnable.setdefault(job.job_queue, deque()).append(job)

    def _share_note(self, job: JobRecord, before: JobStatus, to: JobStatus, now: int) -> None:
        if job.multinode_parent is not None:
            return  # a node: its multi-node job is what counts
        sq = self._share_queue(job.job_queue)
        if sq is not None:
            sq.note(job, before, to, now)

    def _share_admit(self, records: Iterable[JobRecord], now: int) -> None:
        """Refuse a submission that would take a queue past 500 active share identifiers."""
        new: dict[str, tuple[ShareQueue, set[str]]] = {}
        for job, sq in self._share_queues_of(records):
            new.setdefault(job.job_queue, (sq, set()))[1].add(share_of(job))
        for queue, (sq, idents) in new.items():
            problem = sq.admits(idents, now)
            if problem is not None:
                raise ClientError(f"job queue {queue!r}: {problem}")

    def _share_enter(self, records: Iterable[JobRecord]) -> None:
        for job, sq in self._share_queues_of(records):
            sq.enter(job)

    def _share_queues_of(
        self, records: Iterable[JobRecord]
    ) -> Iterator[tuple[JobRecord, ShareQueue]]:
        """Each job of a fair-share queue with its queue's state (not nodes: their multi-node
        job is what counts). A submission's jobs mostly share a queue: each is looked up
        once, and the jobs of a FIFO queue cost a dict lookup each."""
        queues: dict[str, ShareQueue | None] = {}
        for job in records:
            name = job.job_queue
            if name in queues:
                sq = queues[name]
            else:
                known = name in self.registry.job_queues
                sq = queues[name] = self._share_queue(name) if known else None
            if sq is not None and job.multinode_parent is None:
                yield job, sq

    def _share_views(self, now: int) -> list[QueueView]:
        views = []
        for name, sq in self.shares.items():
            jq = self.registry.job_queues.get(name)
            if jq is None or not any(s.top() for s in sq.shares.values()):
                continue
            ces = self.registry.ce_names(jq)
            max_vcpus = sum(
                ce.max_vcpus
                for n in ces
                if (ce := self.registry.compute_environments.get(n)) is not None
            )
            cap = sq.cap(now, max_vcpus)
            views.append(QueueView(name, jq.priority, ces, sq.dispatch(now), cap))
        return views

    def share_utilization(self, queue: str) -> dict[str, Any] | None:
        """GetJobQueueSnapshot's `fairshareUtilization`; None for a FIFO queue."""
        sq = self._share_queue(queue)
        if sq is None:
            return None
        count, top = sq.utilization(self._now(), TOP_SHARES)
        return {
            "activeShareCount": count,
            "topCapacityUtilization": [
                {
                    "shareIdentifier": ident,
                    "capacityUsage": [{"capacityUnit": "VCPU", "quantity": vcpus}],
                }
                for ident, vcpus in top
            ],
        }

    def share_order(self, queue: str, limit: int) -> list[JobRecord] | None:
        """A fair-share queue's first `limit` RUNNABLE jobs in dispatch order; None if FIFO."""
        sq = self._share_queue(queue)
        return None if sq is None else sq.peek(self._now(), limit)

    # ------------------------------------------------------------------ start-up

    async def _load_shares(self, jobs: list[JobRecord], now: int) -> None:
        """Rebuild every fair-share queue from the store (see the module docstring)."""
        self.policies = {p.name: p for p in await self.store.scheduling_policies()}
        for name in self.registry.job_queues:
            self._share_queue(name)
        for job in jobs:
            if job.multinode_parent is not None:
                continue
            sq = self._share_queue(job.job_queue)
            if sq is None:
                continue
            sq.enter(job)
            if job.status in (S.STARTING, S.RUNNING):
                sq.adopt(job)
        if not self.shares:
            return
        window = max(window_ms(sq.policy) for sq in self.shares.values())
        rows = await self.store.attempts_ended_since(sorted(self.shares), now - window)
        for queue, ident, vcpus, start, stop in rows:
            self.shares[queue].add_finished(ident, vcpus, start, stop)
