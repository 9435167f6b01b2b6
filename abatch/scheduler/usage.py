"""vCPU-time of one share identifier inside a sliding window, kept incrementally.

Fair share (reference §8.4) ranks share identifiers by `usage = Σ vcpus x seconds run within
[now - W, now]` over running and finished attempts. Summing every attempt of the window on
each decision would cost as much as the attempts in it; this ledger keeps running sums so
that `usage(now)` costs O(1) plus, amortised, O(log n) per attempt as the window slides past
it. Rules:

- time is integer milliseconds and vCPUs are integer milli-vCPUs, so the sums are exact (no
  float drift however long the runtime lives); `usage_s` converts to vCPU-seconds;
- an attempt counts from its start; a running one grows with `now`; a finished one counts the
  part of [start, stop] inside the window and is forgotten once it ends before the window;
- the window's start only moves forward: a clock that steps back is read as "no time passed".

No clock here: every call is given `now` or the window's start.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


def milli(vcpus: float) -> int:
    """vCPUs as integer milli-vCPUs (Fargate's 0.25 is exact)."""
    return round(vcpus * 1000)


@dataclass(slots=True)
class _Run:
    start: int
    m: int
    old: bool  # started before the window's start


@dataclass(slots=True)
class Usage:
    """One share identifier's attempts inside the window [cut, now]."""

    cut: int = -(2**62)
    # Finished attempts wholly inside the window: Σ m x (stop - start), by start.
    full: int = 0
    full_q: list[tuple[int, int, int]] = field(default_factory=list)  # (start, stop, m)
    # Finished attempts that began before the window's start: Σ m and Σ m x stop, by stop.
    edge_q: list[tuple[int, int]] = field(default_factory=list)  # (stop, m)
    edge_m: int = 0
    edge_ms: int = 0
    # Running attempts: those started inside the window (Σ m, Σ m x start) and before it.
    runs: dict[str, _Run] = field(default_factory=dict)
    new_q: list[tuple[int, str]] = field(default_factory=list)  # (start, key), lazy
    new_m: int = 0
    new_ms: int = 0
    old_m: int = 0
    last_stop: int | None = None

    @property
    def empty(self) -> bool:
        """Nothing running and nothing finished inside the window."""
        return not self.runs and not self.full_q and not self.edge_q

    def start(self, key: str, vcpus: float, at: int) -> None:
        """An attempt `key` (one per job at a time) started running at `at`."""
        if key in self.runs:
            return
        m = milli(vcpus)
        if at < self.cut:
            self.runs[key] = _Run(at, m, old=True)
            self.old_m += m
            return
        self.runs[key] = _Run(at, m, old=False)
        self.new_m += m
        self.new_ms += m * at
        heapq.heappush(self.new_q, (at, key))

    def stop(self, key: str, at: int) -> None:
        """The running attempt `key` ended at `at` (unknown keys are ignored)."""
        run = self.runs.pop(key, None)
        if run is None:
            return
        if run.old:
            self.old_m -= run.m
        else:
            self.new_m -= run.m
            self.new_ms -= run.m * run.start
        self.finished(run.m, run.start, max(at, run.start))

    def finished(self, m: int, start: int, stop: int) -> None:
        """A finished attempt of `m` milli-vCPUs over [start, stop] (also used to rebuild
        the ledger from the store after a restart)."""
        self.last_stop = stop if self.last_stop is None else max(self.last_stop, stop)
        if stop <= self.cut:
            return
        if start >= self.cut:
            self.full += m * (stop - start)
            heapq.heappush(self.full_q, (start, stop, m))
        else:
            heapq.heappush(self.edge_q, (stop, m))
            self.edge_m += m
            self.edge_ms += m * stop

    def advance(self, cut: int) -> None:
        """Move the window's start to `cut` (never backwards)."""
        if cut <= self.cut:
            return
        self.cut = cut
        while self.full_q and self.full_q[0][0] < cut:
            start, stop, m = heapq.heappop(self.full_q)
            self.full -= m * (stop - start)
            if stop > cut:
                heapq.heappush(self.edge_q, (stop, m))
                self.edge_m += m
                self.edge_ms += m * stop
        while self.edge_q and self.edge_q[0][0] <= cut:
            stop, m = heapq.heappop(self.edge_q)
            self.edge_m -= m
            self.edge_ms -= m * stop
        while self.new_q and self.new_q[0][0] < cut:
            start, key = heapq.heappop(self.new_q)
            run = self.runs.get(key)
            if run is None or run.old or run.start != start:
                continue  # stopped since (lazy removal)
            run.old = True
            self.new_m -= run.m
            self.new_ms -= run.m * run.start
            self.old_m += run.m

    def usage(self, now: int, window: int) -> int:
        """Milli-vCPU-milliseconds inside [now - window, now]."""
        self.advance(now - window)
        cut = self.cut
        total = (
            self.full
            + (self.edge_ms - cut * self.edge_m)
            + (self.new_m * now - self.new_ms)
            + self.old_m * (now - cut)
        )
        return max(total, 0)

    def usage_s(self, now: int, window: int) -> float:
        """vCPU-seconds inside [now - window, now]."""
        return self.usage(now, window) / 1_000_000
