"""jobStateTimeLimitActions (reference §8.3): a job stuck at the head of its queue in RUNNABLE
with a status reason whose code (the part before ` - `) equals an action's `reason`, for at
least `maxTimeSeconds`, is cancelled with `Canceled by JobStateTimeLimit action due to
reason: <CODE>`, and the next job moves up.

The runtime calls `note_heads` with every head that cannot start after a scheduling pass; a
timer wakes the loop when the earliest limit falls due, so nothing polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from abatch.model.job import JobRecord

if TYPE_CHECKING:
    from .registry import Registry

JSTLA_REASON = "Canceled by JobStateTimeLimit action due to reason: {code}"


def reason_code(reason: str | None) -> str | None:
    return None if reason is None else reason.split(" - ", 1)[0]


class TimeLimitMixin:
    registry: Registry
    _stuck_since: dict[str, tuple[str, int]]
    _jstla_timer: asyncio.TimerHandle | None
    _wake: asyncio.Event
    _stop_one: Callable[[JobRecord, str, bool, int], None]

    def note_heads(self, heads: Iterable[JobRecord], now: int) -> None:
        """Track how long each blocked head has had its reason; cancel those over a limit."""
        seen: dict[str, tuple[str, int]] = {}
        due: int | None = None
        for job in heads:
            code = reason_code(job.status_reason)
            jq = self.registry.job_queues.get(job.job_queue)
            if code is None or jq is None or not jq.job_state_time_limit_actions:
                continue
            prev = self._stuck_since.get(job.job_id)
            since = prev[1] if prev is not None and prev[0] == code else now
            seen[job.job_id] = (code, since)
            for action in jq.job_state_time_limit_actions:
                if action.reason != code:
                    continue
                deadline = since + action.max_time_seconds * 1000
                if now >= deadline:
                    self._stop_one(job, JSTLA_REASON.format(code=code), False, now)
                    seen.pop(job.job_id, None)
                    self._wake.set()
                    break
                due = deadline if due is None else min(due, deadline)
        self._stuck_since = seen
        self._arm(due, now)

    def _arm(self, due: int | None, now: int) -> None:
        if self._jstla_timer is not None:
            self._jstla_timer.cancel()
            self._jstla_timer = None
        if due is not None:
            loop = asyncio.get_running_loop()
            self._jstla_timer = loop.call_later((due - now) / 1000 + 0.01, self._wake.set)
