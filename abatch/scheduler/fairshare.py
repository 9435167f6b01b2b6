"""Fair-share scheduling of one job queue (reference §8.4): which RUNNABLE job goes next.

AWS does not publish its formula; this is the one the reference suggests, with each reading
written down:

- usage: `usage_s = Σ vcpus x seconds run within [now - W, now]` per share identifier, over
  running attempts and finished ones (usage.py keeps it incrementally);
- window: `W = max(shareDecaySeconds, 600)` seconds. `shareDecaySeconds = 0` (or absent) is
  read as the current API documentation says: the default minimum window of 600 s, not
  "current usage only" (the older reading, which would make usage of finished jobs vanish);
- weight: an exact `shareDistribution` entry gives its `weightFactor`; a prefix entry `UserA*`
  with weight w gives each of the N active identifiers it matches w x N (the group shares
  one weight); any other identifier weighs 1.0. A lower weight is a bigger share;
- order: the identifier with RUNNABLE jobs and the lowest `usage_s x weight` goes first (ties:
  fewer vCPUs held by its STARTING/RUNNING jobs x weight, then its oldest job), then its top
  job by schedulingPriority (highest first) and age. After each placement the identifier is
  ranked again, since the vCPUs it holds changed; usage itself grows only as time passes;
- active: an identifier is active while it has jobs SUBMITTED…RUNNING, and until W has passed
  since its last attempt ended; at most MAX_ACTIVE active identifiers per queue;
- reservation: `computeReservation` c holds back `(c/100)^A` of the queue's maximum vCPUs
  (A = active identifiers) for identifiers not active yet: the queue's running jobs may hold at
  most the rest. A new identifier becomes active when it submits, which shrinks the reserve,
  and has no usage, so it goes first.

Pure: no clock (every call takes `now`, epoch ms), no I/O. Job records go in and out; the
runtime reports status changes with `note`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.model.policy import FairsharePolicy

from .usage import Usage, milli

S = JobStatus
MAX_ACTIVE = 500
MIN_WINDOW_S = 600
HELD = (S.STARTING, S.RUNNING)
_Entry = tuple[int, int, str, JobRecord]  # (-schedulingPriority, seq, job id, job)


def window_ms(policy: FairsharePolicy | None) -> int:
    decay = (policy.share_decay_seconds if policy is not None else None) or 0
    return max(decay, MIN_WINDOW_S) * 1000


def share_of(job: JobRecord) -> str:
    return str(job.spec.get("shareIdentifier") or "")


def priority_of(job: JobRecord) -> int:
    return int(job.spec.get("schedulingPriority") or 0)


def weights(policy: FairsharePolicy | None, identifiers: Iterable[str]) -> dict[str, float]:
    """Each identifier's weight among `identifiers` (the active ones, which a prefix entry's
    N counts)."""
    exact: dict[str, float] = {}
    prefixes: list[tuple[str, float]] = []
    for entry in (policy.share_distribution if policy is not None else None) or []:
        w = entry.weight_factor if entry.weight_factor is not None else 1.0
        if entry.share_identifier.endswith("*"):
            prefixes.append((entry.share_identifier[:-1], w))
        else:
            exact[entry.share_identifier] = w
    out: dict[str, float] = {}
    groups: dict[int, list[str]] = {}
    for ident in identifiers:
        if ident in exact:
            out[ident] = exact[ident]
            continue
        for i, (prefix, _) in enumerate(prefixes):
            if ident.startswith(prefix):
                groups.setdefault(i, []).append(ident)
                break
        else:
            out[ident] = 1.0
    for i, members in groups.items():
        for ident in members:
            out[ident] = prefixes[i][1] * len(members)
    return out


def reserved_vcpus(policy: FairsharePolicy | None, active: int, max_vcpus: float) -> float:
    """vCPUs held back for identifiers that are not active yet: (c/100)^A x max."""
    c = (policy.compute_reservation if policy is not None else None) or 0
    if c <= 0:
        return 0.0
    return float(max_vcpus * (c / 100) ** max(active, 1))


def reserved_reason(job: JobRecord, cap: float) -> str:
    """Status reason of a head held back by the queue's computeReservation."""
    return (
        f"WAITING_FOR_CAPACITY - needs {job.vcpus:g} vCPU; the queue's fair-share "
        f"computeReservation leaves {max(cap, 0.0):g} vCPU to its active share identifiers now"
    )


@dataclass(slots=True)
class Share:
    """One share identifier of a queue."""

    name: str
    jobs: list[_Entry] = field(default_factory=list)  # RUNNABLE, heap; stale entries lazily
    live: int = 0  # jobs SUBMITTED…RUNNING
    held: int = 0  # milli-vCPUs of its STARTING/RUNNING jobs
    usage: Usage = field(default_factory=Usage)

    def top(self) -> _Entry | None:
        while self.jobs and self.jobs[0][3].status is not S.RUNNABLE:
            heapq.heappop(self.jobs)
        return self.jobs[0] if self.jobs else None


class _Source:
    """A share's RUNNABLE jobs in order: the live heap (dispatch) or a sorted copy (peek)."""

    __slots__ = ("_heap", "_i", "_list")

    def __init__(self, share: Share | None = None, ordered: list[_Entry] | None = None) -> None:
        self._heap = share
        self._list = ordered or []
        self._i = 0

    def peek(self) -> _Entry | None:
        if self._heap is not None:
            return self._heap.top()
        return self._list[self._i] if self._i < len(self._list) else None

    def pop(self) -> None:
        if self._heap is not None:
            heapq.heappop(self._heap.jobs)
        else:
            self._i += 1


class ShareQueue:
    """A fair-share queue's RUNNABLE jobs, usage and active identifiers."""

    def __init__(self, policy: FairsharePolicy | None) -> None:
        self.policy = policy
        self.shares: dict[str, Share] = {}
        self.held = 0  # milli-vCPUs of the queue's STARTING/RUNNING jobs
        self._running: dict[str, str] = {}  # job id -> identifier, jobs holding vCPUs

    @property
    def window(self) -> int:
        return window_ms(self.policy)

    def _share(self, ident: str) -> Share:
        share = self.shares.get(ident)
        if share is None:
            share = self.shares[ident] = Share(ident)
        return share

    # ------------------------------------------------------------------ jobs in and out

    def push(self, job: JobRecord) -> None:
        """A job became RUNNABLE (or was requeued: its seq puts it first among its peers)."""
        entry = (-priority_of(job), job.seq, job.job_id, job)
        heapq.heappush(self._share(share_of(job)).jobs, entry)

    def enter(self, job: JobRecord) -> None:
        """A job of this queue exists and is not finished (submitted, or loaded at start)."""
        self._share(share_of(job)).live += 1

    def note(self, job: JobRecord, before: JobStatus, to: JobStatus, now: int) -> None:
        """A status change: vCPUs held, usage started and stopped, live counts."""
        share = self._share(share_of(job))
        attempt = job.current_attempt
        if to in HELD and job.job_id not in self._running:
            self._hold(job, share)
        if to is S.RUNNING:
            at = attempt.started_at if attempt is not None and attempt.started_at else now
            share.usage.start(job.job_id, job.vcpus, at)
        if before in HELD and to not in HELD and job.job_id in self._running:
            self._running.pop(job.job_id)
            m = milli(job.vcpus)
            share.held -= m
            self.held -= m
            stopped = attempt.stopped_at if attempt is not None and attempt.stopped_at else now
            share.usage.stop(job.job_id, stopped)
        if to.is_terminal and not before.is_terminal:
            share.live = max(0, share.live - 1)

    def _hold(self, job: JobRecord, share: Share) -> None:
        self._running[job.job_id] = share.name
        m = milli(job.vcpus)
        share.held += m
        self.held += m

    def adopt(self, job: JobRecord) -> None:
        """A STARTING/RUNNING job found at start-up: it holds its vCPUs and, once it had
        started, uses them since its attempt's startedAt."""
        share = self._share(share_of(job))
        self._hold(job, share)
        attempt = job.current_attempt
        if attempt is not None and attempt.started_at is not None:
            share.usage.start(job.job_id, job.vcpus, attempt.started_at)

    def add_finished(self, ident: str, vcpus: float, start: int, stop: int) -> None:
        """A finished attempt read back from the store at start-up."""
        self._share(ident).usage.finished(milli(vcpus), start, stop)

    # ------------------------------------------------------------------ active identifiers

    def _is_active(self, share: Share, now: int) -> bool:
        if share.live > 0 or share.held > 0:
            return True
        last = share.usage.last_stop
        return last is not None and last >= now - self.window

    def active(self, now: int) -> list[str]:
        """Active identifiers; forgets the ones that are neither active nor hold usage."""
        out = []
        for name, share in list(self.shares.items()):
            if self._is_active(share, now):
                out.append(name)
            elif not share.jobs and share.usage.empty:
                del self.shares[name]
        return out

    def admits(self, new: Iterable[str], now: int) -> str | None:
        """None if identifiers `new` may submit, else the error: at most MAX_ACTIVE active."""
        active = set(self.active(now))
        added = {i for i in new if i not in active}
        if len(active) + len(added) > MAX_ACTIVE:
            return (
                f"at most {MAX_ACTIVE} active share identifiers per job queue; "
                f"{len(active)} are active and this would add {len(added)}"
            )
        return None

    def cap(self, now: int, max_vcpus: float) -> float | None:
        """vCPUs the queue's jobs may still take now under computeReservation, or None."""
        c = (self.policy.compute_reservation if self.policy is not None else None) or 0
        if c <= 0:
            return None
        reserve = reserved_vcpus(self.policy, len(self.active(now)), max_vcpus)
        return max_vcpus - reserve - self.held / 1000

    # ------------------------------------------------------------------ order

    def dispatch(self, now: int) -> Iterator[JobRecord]:
        """RUNNABLE jobs lazily in fair-share order, for plan(). Asking for the next job means
        the previous one was placed: it leaves its heap and its identifier is ranked again."""
        sources = {name: _Source(share=s) for name, s in self.shares.items() if s.top()}
        return self._order(now, sources)

    def peek(self, now: int, limit: int) -> list[JobRecord]:
        """The first `limit` jobs `dispatch` would give, if each were placed; changes nothing
        (GetJobQueueSnapshot, a job's position)."""
        sources = {}
        for name, share in self.shares.items():
            best = heapq.nsmallest(limit, (e for e in share.jobs if e[3].status is S.RUNNABLE))
            if best:
                sources[name] = _Source(ordered=best)
        return list(_take(self._order(now, sources), limit))

    def _order(self, now: int, sources: dict[str, _Source]) -> Iterator[JobRecord]:
        if not sources:
            return
        window = self.window
        weight = weights(self.policy, self.active(now))
        usage = {n: self.shares[n].usage.usage(now, window) for n in sources}
        held = {n: self.shares[n].held for n in sources}
        heap: list[tuple[float, float, int, str]] = []

        def rank(name: str) -> None:
            entry = sources[name].peek()
            if entry is not None:
                w = weight.get(name, 1.0)
                heapq.heappush(heap, (usage[name] * w, held[name] * w, entry[1], name))

        for name in sources:
            rank(name)
        while heap:
            name = heapq.heappop(heap)[3]
            entry = sources[name].peek()
            if entry is None:
                continue
            yield entry[3]
            sources[name].pop()
            held[name] += milli(entry[3].vcpus)
            rank(name)

    def utilization(self, now: int, top: int) -> tuple[int, list[tuple[str, float]]]:
        """(active identifiers, the `top` identifiers holding the most vCPUs, with them)."""
        active = self.active(now)
        holding = sorted(
            ((s.name, s.held / 1000) for s in self.shares.values() if s.held > 0),
            key=lambda pair: (-pair[1], pair[0]),
        )
        return len(active), holding[:top]


def _take(it: Iterator[JobRecord], n: int) -> Iterator[JobRecord]:
    for i, job in enumerate(it):
        if i >= n:
            return
        yield job
