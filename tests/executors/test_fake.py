"""FakeExecutor: scripted outcomes, logs, timers, kills and manual mode, with no processes."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from abatch.executors import (
    Executor,
    FakeExecutor,
    FakeOutcome,
    ProcessExecutor,
    StartError,
)
from abatch.model.runspec import ExitResult, RunSpec

SIGTERMED = ExitResult(exit_code=143, signal=signal.SIGTERM)
SIGKILLED = ExitResult(exit_code=137, signal=signal.SIGKILL)


def make_spec(tmp_path: Path, key: str = "job-1", argv: tuple[str, ...] = ("true",)) -> RunSpec:
    return RunSpec(
        key=key,
        argv=argv,
        env={},
        workdir=tmp_path / "work" / key,
        log_path=tmp_path / "logs" / f"{key}.log",
    )


def test_satisfies_protocol() -> None:
    executor: Executor = FakeExecutor()
    assert executor.kind == "fake"


async def test_default_exits_zero_at_once(tmp_path: Path) -> None:
    fake = FakeExecutor()
    spec = make_spec(tmp_path)
    handle = await fake.start(spec)
    assert handle.done
    assert await fake.wait(handle) == ExitResult(exit_code=0)
    assert fake.started == [spec]
    assert fake.results == {"job-1": ExitResult(exit_code=0)}
    assert spec.log_path.read_bytes() == b""
    assert not fake.running


async def test_script_decides_exit_reason_and_log(tmp_path: Path) -> None:
    def script(spec: RunSpec) -> FakeOutcome:
        if spec.key == "oom":
            return FakeOutcome(exit_code=137, reason="OutOfMemoryError", log=b"killed\n")
        return FakeOutcome(exit_code=3, log=b"hello\n")

    fake = FakeExecutor(script)
    oom, plain = make_spec(tmp_path, "oom"), make_spec(tmp_path, "plain")
    assert await fake.wait(await fake.start(oom)) == ExitResult(137, "OutOfMemoryError")
    assert await fake.wait(await fake.start(plain)) == ExitResult(3)
    assert oom.log_path.read_bytes() == b"killed\n"
    assert plain.log_path.read_bytes() == b"hello\n"
    assert [s.key for s in fake.started] == ["oom", "plain"]


async def test_start_error_is_raised_and_not_recorded(tmp_path: Path) -> None:
    reason = 'CannotStartContainerError: exec: "x": executable file not found in $PATH'
    fake = FakeExecutor(lambda spec: FakeOutcome(start_error=reason))
    with pytest.raises(StartError) as info:
        await fake.start(make_spec(tmp_path))
    assert info.value.reason == reason
    assert fake.started == []


async def test_duration_runs_on_the_loop_clock(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(exit_code=5, duration=0.05))
    loop = asyncio.get_running_loop()
    began = loop.time()
    handle = await fake.start(make_spec(tmp_path))
    assert not handle.done
    assert set(fake.running) == {"job-1"}
    assert await asyncio.wait_for(fake.wait(handle), 5) == ExitResult(exit_code=5)
    assert loop.time() - began >= 0.04


async def test_kill_before_the_end_is_sigterm(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(exit_code=0, duration=1000))
    handle = await fake.start(make_spec(tmp_path))
    await fake.kill(handle, grace_seconds=30)
    assert await fake.wait(handle) == SIGTERMED
    assert fake.killed == ["job-1"]
    assert not fake.running


async def test_kill_after_the_end_is_a_no_op(tmp_path: Path) -> None:
    fake = FakeExecutor()
    handle = await fake.start(make_spec(tmp_path))
    await fake.kill(handle, grace_seconds=0)
    assert await fake.wait(handle) == ExitResult(exit_code=0)
    assert fake.killed == []


async def test_sigterm_ignoring_outcome_dies_after_grace(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None, ignores_sigterm=True))
    loop = asyncio.get_running_loop()
    handle = await fake.start(make_spec(tmp_path))
    began = loop.time()
    await fake.kill(handle, grace_seconds=0.05)
    assert not handle.done
    assert await asyncio.wait_for(fake.wait(handle), 5) == SIGKILLED
    assert loop.time() - began >= 0.04


async def test_manual_mode_runs_until_finish(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    handle = await fake.start(make_spec(tmp_path))
    waiter = asyncio.create_task(fake.wait(handle))
    await asyncio.sleep(0)
    assert not waiter.done()
    fake.finish("job-1", exit_code=9, reason="Essential container in task exited")
    assert await waiter == ExitResult(9, "Essential container in task exited")
    with pytest.raises(KeyError):
        fake.finish("job-1")


async def test_manual_mode_ends_on_kill(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    handle = await fake.start(make_spec(tmp_path))
    await fake.kill(handle, grace_seconds=10)
    assert await fake.wait(handle) == SIGTERMED


async def test_finish_early_cancels_the_timer(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(exit_code=1, duration=0.01))
    handle = await fake.start(make_spec(tmp_path))
    fake.finish("job-1", exit_code=2)
    await asyncio.sleep(0.03)
    assert await fake.wait(handle) == ExitResult(exit_code=2)


async def test_handles_are_not_interchangeable(tmp_path: Path) -> None:
    fake = FakeExecutor()
    handle = await fake.start(make_spec(tmp_path))
    with pytest.raises(TypeError):
        await ProcessExecutor(tmp_path / "sup").wait(handle)


async def test_close(tmp_path: Path) -> None:
    fake = FakeExecutor()
    await fake.close()
    assert fake.closed
