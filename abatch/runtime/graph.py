"""Dependency and array bookkeeping for unfinished jobs.

- `waits[job]` is the set of job ids a PENDING (or SUBMITTED) job still waits for;
  `dependents[dep]` is the reverse index, so a finishing job finds its waiters in O(waiters).
- `arrays[parent]` counts the children of an array job per status: the parent's
  `statusSummary`, and the moment all children are done, without scanning anything.

Plain data; the runtime decides what a change means.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from dataclasses import dataclass, field

from abatch.model.enums import ALL_STATUSES, JobStatus


@dataclass(slots=True)
class ArrayState:
    size: int
    counts: Counter[JobStatus] = field(default_factory=Counter)
    updated_at: int = 0

    @property
    def done(self) -> int:
        return self.counts[JobStatus.SUCCEEDED] + self.counts[JobStatus.FAILED]

    def summary(self) -> dict[str, int]:
        return {s.value: self.counts[s] for s in ALL_STATUSES}


@dataclass(slots=True)
class Graph:
    waits: dict[str, set[str]] = field(default_factory=dict)
    dependents: dict[str, list[str]] = field(default_factory=dict)
    doomed: set[str] = field(default_factory=set)  # a dependency had already failed
    arrays: dict[str, ArrayState] = field(default_factory=dict)

    def add_wait(self, job_id: str, dep_id: str) -> None:
        self.waits.setdefault(job_id, set()).add(dep_id)
        self.dependents.setdefault(dep_id, []).append(job_id)

    def unmet(self, job_id: str) -> bool:
        return bool(self.waits.get(job_id))

    def satisfied(self, dep_id: str) -> list[str]:
        """`dep_id` succeeded: the waiters that now wait for nothing."""
        ready = []
        for waiter in self.dependents.pop(dep_id, []):
            remaining = self.waits.get(waiter)
            if remaining is None:
                continue
            remaining.discard(dep_id)
            if not remaining:
                del self.waits[waiter]
                ready.append(waiter)
        return ready

    def failed(self, dep_id: str) -> list[str]:
        """`dep_id` failed: every waiter fails too."""
        waiters = self.dependents.pop(dep_id, [])
        for waiter in waiters:
            self.waits.pop(waiter, None)
        return waiters

    def forget(self, job_id: str) -> None:
        self.waits.pop(job_id, None)
        self.doomed.discard(job_id)


class RecentlyFinished:
    """Statuses of the last jobs to finish. A finished job leaves memory at once; a submission
    whose dependency finishes while it is being committed still learns how it ended."""

    def __init__(self, capacity: int = 20_000) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, JobStatus] = OrderedDict()

    def add(self, job_id: str, status: JobStatus) -> None:
        self._items[job_id] = status
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def get(self, job_id: str) -> JobStatus | None:
        return self._items.get(job_id)
