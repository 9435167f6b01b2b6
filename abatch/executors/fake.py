"""FakeExecutor: the executor protocol with no processes, scripted per spec, for fast tests.

A script function maps each RunSpec to a FakeOutcome: the exit code and reason, how long the
attempt "runs" (asyncio timers, so a test never sleeps for real), a start error to raise,
bytes to write to the log, and whether it ignores SIGTERM. `duration=None` is manual mode:
the attempt runs until `finish(key, ...)` or a kill. Every started spec is recorded in
`started`, every killed key in `killed`.

Kill semantics follow ProcessExecutor: a kill ends the attempt with 143 / SIGTERM, or, for an
outcome that ignores SIGTERM, with 137 / SIGKILL once the grace period has passed; killing an
attempt that already ended is a no-op.
"""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from abatch.executors.base import Handle, StartError
from abatch.model.runspec import ExitResult, RunSpec

__all__ = ["FakeExecutor", "FakeHandle", "FakeOutcome", "Script"]


@dataclass(slots=True, frozen=True)
class FakeOutcome:
    """How a fake attempt goes. `duration=None` runs until `finish()` or a kill."""

    exit_code: int = 0
    reason: str | None = None
    duration: float | None = 0.0
    start_error: str | None = None
    log: bytes = b""
    ignores_sigterm: bool = False


Script = Callable[[RunSpec], FakeOutcome]


def exit_zero(spec: RunSpec) -> FakeOutcome:
    """The default script: every attempt exits 0 at once."""
    return FakeOutcome()


class FakeHandle:
    """One fake attempt."""

    __slots__ = ("_timers", "future", "key", "outcome", "pid", "spec")

    def __init__(
        self, spec: RunSpec, outcome: FakeOutcome, pid: int, future: asyncio.Future[ExitResult]
    ) -> None:
        self.key = spec.key
        self.pid: int | None = pid
        self.spec = spec
        self.outcome = outcome
        self.future = future
        self._timers: list[asyncio.TimerHandle] = []

    @property
    def done(self) -> bool:
        return self.future.done()

    def __repr__(self) -> str:
        return f"FakeHandle(key={self.key!r}, done={self.done})"


class FakeExecutor:
    """A scripted executor: same protocol as ProcessExecutor, no processes, no real waiting."""

    kind = "fake"

    def __init__(self, script: Script = exit_zero) -> None:
        self.script = script
        self.started: list[RunSpec] = []
        self.killed: list[str] = []
        self.results: dict[str, ExitResult] = {}
        self.closed = False
        self._running: dict[str, FakeHandle] = {}
        self._pids = itertools.count(100_000)

    @property
    def running(self) -> Mapping[str, FakeHandle]:
        """Attempts started and not yet ended."""
        return self._running

    async def start(self, spec: RunSpec) -> FakeHandle:
        outcome = self.script(spec)
        if outcome.start_error is not None:
            raise StartError(outcome.start_error)
        if not spec.argv:
            raise StartError("CannotStartContainerError: no command given")
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "ab") as f:
            f.write(outcome.log)
        self.started.append(spec)
        loop = asyncio.get_running_loop()
        handle = FakeHandle(spec, outcome, next(self._pids), loop.create_future())
        self._running[spec.key] = handle
        result = ExitResult(exit_code=outcome.exit_code, reason=outcome.reason)
        if outcome.duration is not None:
            if outcome.duration <= 0:
                self._end(handle, result)
            else:
                handle._timers.append(loop.call_later(outcome.duration, self._end, handle, result))
        return handle

    async def wait(self, handle: Handle) -> ExitResult:
        return await asyncio.shield(_own(handle).future)

    async def kill(self, handle: Handle, grace_seconds: float) -> None:
        own = _own(handle)
        if own.done:
            return
        self.killed.append(own.key)
        if own.outcome.ignores_sigterm and grace_seconds > 0:
            sigkill = ExitResult(exit_code=128 + signal.SIGKILL, signal=signal.SIGKILL)
            loop = asyncio.get_running_loop()
            own._timers.append(loop.call_later(grace_seconds, self._end, own, sigkill))
        elif own.outcome.ignores_sigterm:
            self._end(own, ExitResult(exit_code=128 + signal.SIGKILL, signal=signal.SIGKILL))
        else:
            self._end(own, ExitResult(exit_code=128 + signal.SIGTERM, signal=signal.SIGTERM))

    async def adopt(self, key: str) -> FakeHandle | None:
        """The attempt `key` if it is still running (what the Docker executor finds by label
        after a runtime restart), else None."""
        return self._running.get(key)

    def finish(self, key: str, exit_code: int = 0, reason: str | None = None) -> None:
        """End the running attempt `key` now (manual mode, or early for any attempt)."""
        handle = self._running.get(key)
        if handle is None:
            raise KeyError(f"no running fake attempt {key!r}")
        self._end(handle, ExitResult(exit_code=exit_code, reason=reason))

    async def close(self) -> None:
        self.closed = True

    def _end(self, handle: FakeHandle, result: ExitResult) -> None:
        if handle.future.done():
            return
        for timer in handle._timers:
            timer.cancel()
        handle._timers.clear()
        self._running.pop(handle.key, None)
        self.results[handle.key] = result
        handle.future.set_result(result)


def _own(handle: Handle) -> FakeHandle:
    if not isinstance(handle, FakeHandle):
        raise TypeError(f"not a FakeExecutor handle: {handle!r}")
    return handle
