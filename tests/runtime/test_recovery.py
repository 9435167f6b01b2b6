"""An engine that does not answer, and attempts found again after a runtime died."""

from __future__ import annotations

from pathlib import Path

from abatch.executors.base import EngineUnavailableError
from abatch.executors.fake import FakeExecutor, FakeHandle, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.runspec import RunSpec

from .helpers import req, runtime, wait_for, wait_status

S = JobStatus


class FlakyEngine(FakeExecutor):
    """Down for the first `down` starts, then fine."""

    def __init__(self, down: int) -> None:
        super().__init__()
        self.down = down

    async def start(self, spec: RunSpec) -> FakeHandle:
        if self.down > 0:
            self.down -= 1
            raise EngineUnavailableError("DockerTimeoutError: cannot reach the Docker engine")
        return await super().start(spec)


async def test_engine_down_requeues_and_waits_until_it_answers(tmp_path: Path) -> None:
    engine = FlakyEngine(down=1)
    async with runtime(tmp_path, engine) as rt:
        job = await rt.submit(req("a"))
        await wait_for(
            rt,
            lambda: (
                job.status is S.RUNNABLE
                and job.status_reason is not None
                and "unavailable: DockerTimeoutError" in job.status_reason
            ),
        )
        assert not job.attempts
        assert rt.pools["ce"].unavailable is not None
        await wait_status(rt, [job], timeout=30)  # the retry timer brings the CE back
        assert job.status is S.SUCCEEDED
        assert [(a.number, a.status_reason) for a in job.attempts] == [
            (1, "Essential container in task exited")
        ]
        assert rt.pools["ce"].unavailable is None


async def test_running_attempt_adopted_after_the_runtime_died(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("long", timeout={"attemptDurationSeconds": 600}))
        await wait_status(rt, [job], S.RUNNING)
        job_id, started = job.job_id, job.attempts[0].started_at
        # Die without a clean stop: the runtime forgets the attempt; it keeps running.
        rt.running.clear()
    async with runtime(tmp_path, fake, setup=False) as rt:
        job = rt.jobs[job_id]
        assert job.status is S.RUNNING
        assert rt.running[job_id].attempt.started_at == started
        assert rt.pools["ce"].used_vcpus == 1
        fake.finish(next(iter(fake.running)), exit_code=0)
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED and len(job.attempts) == 1
        assert rt.pools["ce"].used_vcpus == 0


async def test_quick_retry_is_never_placed_twice(tmp_path: Path) -> None:
    """A start error retried before the next scheduling pass: one second attempt, not two."""
    tries: list[str] = []

    def script(spec: RunSpec) -> FakeOutcome:
        tries.append(spec.env["AWS_BATCH_JOB_ATTEMPT"])
        if len(tries) == 1:
            return FakeOutcome(start_error="CannotStartContainerError: flaky")
        return FakeOutcome()

    async with runtime(tmp_path, FakeExecutor(script), vcpus=4) as rt:
        job = await rt.submit(req("a", retryStrategy={"attempts": 3}))
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert tries == ["1", "2"]
        assert len(job.attempts) == 2


class SlowSweep(FakeExecutor):
    """Lists its containers only when released, so a job can start while the startup sweep
    is still in progress."""

    def __init__(self) -> None:
        super().__init__(lambda spec: FakeOutcome(duration=None))
        import anyio

        self.release = anyio.Event()

    async def containers(self) -> list[str]:
        await self.release.wait()
        return list(self.running)


async def test_startup_sweep_never_removes_an_attempt_started_meanwhile(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()):
        pass  # resources exist when the next runtime starts and sweeps
    slow = SlowSweep()
    async with runtime(tmp_path, slow, setup=False) as rt:
        assert rt._sweeps  # the sweep waits in containers()
        job = await rt.submit(req("fresh"))
        await wait_status(rt, [job], S.RUNNING)
        slow.release.set()
        for _ in range(20):
            await anyio_sleep(0.01)
        assert job.status is S.RUNNING and not slow.killed
        slow.finish(next(iter(slow.running)))
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED


async def anyio_sleep(seconds: float) -> None:
    import anyio

    await anyio.sleep(seconds)
