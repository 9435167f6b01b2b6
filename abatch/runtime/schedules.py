"""Schedules: fire each `[[schedule]]` of a config at its times by submitting its job.

One task runs every schedule of a runtime (`ScheduleRunner.run`, or `run_schedules`); start
it in the runtime's task group. The fire times come from `abatch.scheduler.cron` (pure);
this module owns the clock, the sleeping and the store. Rules:

- when each schedule last fired is kept in the store, so a restarted runtime goes on where
  the last one stopped. A rate schedule's ticks are anchored at its last fire; one that never
  fired first fires one period after the runtime started. A cron schedule fires at its next
  match after its last fire, or after the start.
- a fire already due when the runtime starts (missed while it was down), or found more than
  one tick late (the machine slept), happens once, now, and the schedule goes on from now:
  never once per missed tick. An on-time fire is recorded at its tick, so a rate does not
  drift by the few milliseconds each wake-up takes.
- the task sleeps until the earliest next fire, at most `MAX_SLEEP_S` at a time so a jump of
  the wall clock is noticed, and reads the clock again on waking; it never busy-loops, and
  it returns when no enabled schedule has a fire time left.
- a submission refused with a `ClientError` (a queue disabled, a definition deregistered)
  still counts as a fire: it is recorded, kept as the state's `last_error`, and the loop
  goes on. Every job submitted gets the tag `abatch:schedule = <schedule name>`.

`ScheduleRunner.states` is what a CLI or TUI shows: one `ScheduleState` per schedule.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import anyio

from abatch.config import ConfigSchedule
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.scheduler.cron import Schedule, parse_schedule

MAX_SLEEP_S = 60.0
SCHEDULE_TAG = "abatch:schedule"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class ScheduleStore(Protocol):
    """The part of the store that schedules use (`SqliteStore` has it)."""

    async def schedule_last_fired(self) -> dict[str, int | None]: ...

    async def record_schedule_fired(self, name: str, at: int) -> None: ...


class ScheduleHost(Protocol):
    """The part of the runtime that schedules use (`Runtime` has it)."""

    @property
    def store(self) -> ScheduleStore: ...

    async def submit(self, req: SubmitJobRequest) -> JobRecord: ...


@dataclass
class ScheduleState:
    """One schedule as the runtime sees it. Times are epoch milliseconds."""

    name: str
    expression: str
    enabled: bool
    next_fire_at: int | None = None  # None: disabled, not started, or no fire time left
    last_fired_at: int | None = None
    fired: int = 0  # fires since this runtime started
    last_job_id: str | None = None  # the job the latest successful fire submitted
    last_error: str | None = None  # why the latest fire's submission was refused, if it was


class ScheduleRunner:
    """Fires a runtime's schedules; `states` (in config order) shows how each one stands."""

    def __init__(
        self,
        rt: ScheduleHost,
        schedules: Sequence[ConfigSchedule],
        *,
        clock: Clock = time.time,
        sleep: Sleep = anyio.sleep,
    ) -> None:
        self.rt = rt
        self._clock = clock
        self._sleep = sleep
        self._configs = {s.name: s for s in schedules}
        self._parsed: dict[str, Schedule] = {
            s.name: parse_schedule(s.expression) for s in schedules
        }
        self.states: list[ScheduleState] = [
            ScheduleState(s.name, s.expression, s.enabled) for s in schedules
        ]
        self._missed: set[str] = set()  # due at start: fire once now, go on from now

    def now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def run(self) -> None:
        """Fire schedules until none has a fire time left (cancel the task to stop it)."""
        await self._start()
        while True:
            now = self.now_ms()
            for state in self.states:
                if state.next_fire_at is not None and state.next_fire_at <= now:
                    await self._fire(state, now)
            times = [s.next_fire_at for s in self.states if s.next_fire_at is not None]
            if not times:
                return
            wait_ms = min(times) - self.now_ms()
            if wait_ms > 0:
                await self._sleep(min(wait_ms / 1000, MAX_SLEEP_S))

    async def _start(self) -> None:
        start = self.now_ms()
        last = await self.rt.store.schedule_last_fired()
        for state in self.states:
            state.last_fired_at = last.get(state.name)
            if not state.enabled:
                continue
            since = state.last_fired_at if state.last_fired_at is not None else start
            due = self._next(state.name, since)
            if due is not None and due <= start:
                self._missed.add(state.name)
            state.next_fire_at = due

    def _next(self, name: str, after_ms: int) -> int | None:
        """The first fire time after `after_ms`, a rate's ticks anchored there."""
        after = _EPOCH + after_ms * _MS
        found = self._parsed[name].next_after(after, after)
        return None if found is None else (found - _EPOCH) // _MS

    async def _fire(self, state: ScheduleState, now: int) -> None:
        assert state.next_fire_at is not None
        due = state.next_fire_at
        following = self._next(state.name, due)
        if state.name in self._missed or (following is not None and following <= now):
            self._missed.discard(state.name)
            at, following = now, self._next(state.name, now)  # once, and on from now
        else:
            at = due
        config = self._configs[state.name]
        tags = {**(config.request.tags or {}), SCHEDULE_TAG: state.name}
        try:
            job = await self.rt.submit(config.request.model_copy(update={"tags": tags}))
        except ClientError as err:
            state.last_error = str(err)
        else:
            state.last_error = None
            state.last_job_id = job.job_id
        await self.rt.store.record_schedule_fired(state.name, at)
        state.last_fired_at = at
        state.fired += 1
        state.next_fire_at = following


async def run_schedules(
    rt: ScheduleHost,
    schedules: Sequence[ConfigSchedule],
    *,
    clock: Clock = time.time,
    sleep: Sleep = anyio.sleep,
) -> None:
    """Fire `schedules` on `rt` until none has a fire time left; see `ScheduleRunner`."""
    await ScheduleRunner(rt, schedules, clock=clock, sleep=sleep).run()
