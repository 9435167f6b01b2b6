"""Schedules on a real runtime (fake executor), driven by a fake clock and a fake sleep, so
no test waits for the minutes it simulates; one test runs `rate(1 second)` in real time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from abatch.config import ConfigSchedule
from abatch.executors.fake import FakeExecutor
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.runtime import Runtime
from abatch.runtime.schedules import (
    MAX_SLEEP_S,
    SCHEDULE_TAG,
    ScheduleRunner,
    ScheduleStore,
    run_schedules,
)

from .helpers import req, runtime

T0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z
T0_MS = int(T0 * 1000)
MINUTE_MS = 60_000


class Stop(Exception):
    """Raised by the fake sleep once the simulated time is over."""


class FakeTime:
    """A wall clock that moves only when the schedule task sleeps; stops it after `until`."""

    def __init__(self, start: float = T0, *, until: float, jumps: dict[int, float] | None = None):
        self.now = start
        self.until = until
        self.sleeps: list[float] = []
        self.jumps = jumps or {}  # sleep number -> seconds the machine "slept" on top

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        assert 0 < seconds <= MAX_SLEEP_S  # never a busy loop, never a long blind sleep
        self.now += seconds + self.jumps.get(len(self.sleeps), 0.0)
        self.sleeps.append(seconds)
        if self.now > self.until:
            raise Stop
        await anyio.lowlevel.checkpoint()


class Recorder:
    """The runtime, with each fire and each submitted job written down."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.fired: list[tuple[str, int]] = []
        self.jobs: list[JobRecord] = []

    @property
    def store(self) -> ScheduleStore:
        return self

    async def schedule_last_fired(self) -> dict[str, int | None]:
        return await self.rt.store.schedule_last_fired()

    async def record_schedule_fired(self, name: str, at: int) -> None:
        self.fired.append((name, at))
        await self.rt.store.record_schedule_fired(name, at)

    async def submit(self, request: SubmitJobRequest) -> JobRecord:
        job = await self.rt.submit(request)
        self.jobs.append(job)
        return job


def schedule(name: str, expression: str, enabled: bool = True, **job: Any) -> ConfigSchedule:
    return ConfigSchedule(name, expression, enabled, req(job.pop("job_name", name), **job), None)


async def drive(host: Recorder, schedules: list[ConfigSchedule], time: FakeTime) -> ScheduleRunner:
    runner = ScheduleRunner(host, schedules, clock=time.clock, sleep=time.sleep)
    with pytest.raises(Stop):
        await runner.run()
    return runner


def minutes(*offsets: int) -> list[int]:
    return [T0_MS + m * MINUTE_MS for m in offsets]


async def test_rate_fires_at_its_ticks(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        runner = await drive(
            host, [schedule("s", "rate(10 minutes)")], FakeTime(until=T0 + 35 * 60)
        )
        assert host.fired == [("s", t) for t in minutes(10, 20, 30)]  # first: a period in
        (state,) = runner.states
        assert (state.fired, state.last_fired_at, state.next_fire_at) == (
            3,
            T0_MS + 30 * MINUTE_MS,
            T0_MS + 40 * MINUTE_MS,
        )
        assert state.last_error is None and state.last_job_id == host.jobs[-1].job_id
        assert await rt.store.schedule_last_fired() == {"s": T0_MS + 30 * MINUTE_MS}


async def test_a_restart_goes_on_from_the_last_fire(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        await rt.store.record_schedule_fired("s", T0_MS - 3 * MINUTE_MS)
        host = Recorder(rt)
        await drive(host, [schedule("s", "rate(10 minutes)")], FakeTime(until=T0 + 20 * 60))
        assert host.fired == [("s", t) for t in minutes(7, 17)]  # anchored at the last fire


async def test_missed_ticks_fire_once_on_start(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        await rt.store.record_schedule_fired("s", T0_MS - 55 * MINUTE_MS)  # 5 ticks missed
        host = Recorder(rt)
        await drive(host, [schedule("s", "rate(10 minutes)")], FakeTime(until=T0 + 25 * 60))
        assert host.fired == [("s", t) for t in minutes(0, 10, 20)]  # once now, then on
        assert len(host.jobs) == 3


async def test_missed_cron_fires_once_on_start(tmp_path: Path) -> None:
    start = T0 + 20 * 60  # 00:20
    async with runtime(tmp_path, FakeExecutor()) as rt:
        await rt.store.record_schedule_fired("hourly", T0_MS - 5 * 60 * MINUTE_MS)
        host = Recorder(rt)
        await drive(
            host, [schedule("hourly", "cron(0 * * * ? *)")], FakeTime(start, until=T0 + 125 * 60)
        )
        assert host.fired == [("hourly", t) for t in minutes(20, 60, 120)]


async def test_a_late_wake_fires_once_and_goes_on_from_then(tmp_path: Path) -> None:
    """The machine slept through several ticks between two sleeps of the task."""
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        time = FakeTime(until=T0 + 60 * 60, jumps={0: 35 * 60})  # the first sleep: +35 min
        await drive(host, [schedule("s", "rate(10 minutes)")], time)
        woke = T0_MS + 36 * MINUTE_MS  # 60 s asked for, 35 minutes more taken
        assert host.fired == [
            ("s", woke),
            ("s", woke + 10 * MINUTE_MS),
            ("s", woke + 20 * MINUTE_MS),
        ]


async def test_cron_schedule_next_fire(tmp_path: Path) -> None:
    start = T0 + 10 * 60 + 30  # 00:10:30
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        time = FakeTime(start, until=T0 + 105 * 60)
        runner = ScheduleRunner(
            host, [schedule("c", "cron(30 * * * ? *)")], clock=time.clock, sleep=time.sleep
        )
        with pytest.raises(Stop):
            await runner.run()
        assert host.fired == [("c", t) for t in minutes(30, 90)]
        assert runner.states[0].next_fire_at == T0_MS + 150 * MINUTE_MS
        assert max(time.sleeps) == MAX_SLEEP_S  # long waits are cut into capped sleeps


async def test_disabled_schedule_never_fires(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        runner = await drive(
            host,
            [schedule("off", "rate(1 minute)", enabled=False), schedule("on", "rate(5 minutes)")],
            FakeTime(until=T0 + 12 * 60),
        )
        assert host.fired == [("on", t) for t in minutes(5, 10)]
        off = runner.states[0]
        assert (off.enabled, off.fired, off.next_fire_at) == (False, 0, None)


async def test_nothing_to_fire_returns_at_once(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        time = FakeTime(until=T0 + 3600)
        past = schedule("past", "cron(0 0 1 1 ? 2023)")  # no fire time left
        await run_schedules(
            host,
            [schedule("off", "rate(1 minute)", enabled=False), past],
            clock=time.clock,
            sleep=time.sleep,
        )
        await run_schedules(host, [], clock=time.clock, sleep=time.sleep)
        assert host.fired == [] and time.sleeps == []


async def test_a_refused_submission_is_recorded_and_the_loop_goes_on(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        broken = schedule("broken", "rate(10 minutes)", queue="nope")
        fine = schedule("fine", "rate(15 minutes)")
        runner = await drive(host, [broken, fine], FakeTime(until=T0 + 31 * 60))
        assert [f for f in host.fired if f[0] == "broken"] == [
            ("broken", t) for t in minutes(10, 20, 30)
        ]
        assert [f for f in host.fired if f[0] == "fine"] == [("fine", t) for t in minutes(15, 30)]
        state = runner.states[0]
        assert state.fired == 3 and state.last_job_id is None
        assert state.last_error is not None and "nope" in state.last_error
        assert [j.job_name for j in host.jobs] == ["fine", "fine"]
        assert (await rt.store.schedule_last_fired())["broken"] == T0_MS + 30 * MINUTE_MS


async def test_submitted_job_has_parameters_and_the_schedule_tag(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        host = Recorder(rt)
        nightly = schedule(
            "nightly",
            "cron(0 2 * * ? *)",
            job_name="report",
            queue="high",
            parameters={"day": "today"},
            tags={"team": "data"},
        )
        await drive(host, [nightly], FakeTime(until=T0 + 3 * 3600))
        (job,) = host.jobs
        assert (job.job_name, job.job_queue) == ("report", "high")
        assert job.spec["parameters"] == {"day": "today"}
        assert job.spec["tags"] == {"team": "data", SCHEDULE_TAG: "nightly"}
        assert nightly.request.tags == {"team": "data"}  # the config's request is untouched


@pytest.mark.slow
async def test_rate_in_seconds_in_real_time(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        runner = ScheduleRunner(rt, [schedule("tick", "rate(1 second)")])
        with anyio.move_on_after(2.5):
            await runner.run()
        assert 2 <= runner.states[0].fired <= 3
        await rt.store.flush()
        jobs = await rt.store.list_jobs(name_prefix="tick")
        assert 2 <= len(jobs) <= 3
        assert all(j.spec["tags"] == {SCHEDULE_TAG: "tick"} for j in jobs)
