"""Signals for the commands that run a runtime (`run`, `serve`): a clean stop, then a fast one.

The receiver is installed (with `anyio.open_signal_receiver`) before the runtime starts and
removed only after it has stopped, so a signal never lands as a KeyboardInterrupt in the
middle of a stop.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TextIO

import anyio
import anyio.abc

from .common import EXIT_INTERRUPTED

if TYPE_CHECKING:
    from abatch.runtime import Runtime, StopMode

FORCE_EXIT_AFTER_S = 3.0


async def wait_first(*waits: Callable[[], Awaitable[object]]) -> None:
    """Return as soon as one of the awaitables (e.g. `event.wait`) is done."""
    async with anyio.create_task_group() as tg:

        async def one(wait: Callable[[], Awaitable[object]]) -> None:
            await wait()
            tg.cancel_scope.cancel()

        for wait in waits:
            tg.start_soon(one, wait)


def stop_mode_for(drain: bool) -> StopMode:
    """The runtime's stop mode for `run` and `serve`: leave (the default) or drain."""
    from abatch.runtime import StopMode

    return StopMode.DRAIN if drain else StopMode.LEAVE


def stopping_text(rt: Runtime, signal_name: str | None, grace: float) -> str:
    """The line printed when a signal stops the runtime: what happens to running attempts."""
    from abatch.runtime import StopMode

    runs = list(rt.running.values())
    head = f"{signal_name}: stopping; nothing new starts"
    if not runs:
        return head
    if rt.stop_mode is StopMode.DRAIN:
        return (
            f"{head}; waiting for {len(runs)} running attempt(s) to finish (--drain); "
            "Ctrl-C again stops at once"
        )
    left = sum(1 for run in runs if rt.can_leave(run))
    parts = []
    if left:
        parts.append(f"{left} running attempt(s) left running (adopted on the next start)")
    if len(runs) - left:
        parts.append(
            f"{len(runs) - left} running attempt(s) get SIGTERM (SIGKILL after {grace:g} s) "
            "and are requeued"
        )
    return f"{head}; " + "; ".join(parts)


class Stopper:
    """SIGINT and SIGTERM for `run` and `serve`.

    The first signal sets `requested`: the command leaves its `open_runtime` block, which stops
    the runtime cleanly by its `stop_mode` (`stop_mode_for`): nothing new starts; attempts the
    next runtime can adopt are left running and the others get SIGTERM, then SIGKILL after
    the grace, and are requeued; or, with --drain, every running attempt is waited for.
    A second signal stops at once (`Runtime.stop_now`: the drain is given up, what can be
    left running is left, the rest is SIGKILLed), so that the stop finishes without waiting;
    if it still has not finished `FORCE_EXIT_AFTER_S` later, or on a third signal, the
    process exits with 130 (what is committed stays; the next runtime on the directory
    recovers the rest, as after a crash).
    """

    def __init__(self, tg: anyio.abc.TaskGroup, err: TextIO | None = None) -> None:
        self.requested = anyio.Event()
        self.signal_name: str | None = None
        self.runtime: Runtime | None = None
        self._tg = tg
        self._err = err if err is not None else sys.stderr

    async def watch(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            count = 0
            async for signum in signals:
                count += 1
                if count == 1:
                    self.signal_name = signal.Signals(signum).name
                    self.requested.set()
                elif count == 2:
                    self._say("second signal: stopping at once")
                    await self.kill_attempts()
                    self._tg.start_soon(self._exit_later)
                else:
                    self._exit_now()

    async def kill_attempts(self) -> None:
        rt = self.runtime
        if rt is None:
            return
        rt.stop_now()

    async def _exit_later(self) -> None:
        await anyio.sleep(FORCE_EXIT_AFTER_S)
        self._exit_now()

    def _exit_now(self) -> None:
        self._say(
            "exiting without a clean stop; the next runtime on this state directory "
            "recovers the unfinished jobs"
        )
        os._exit(EXIT_INTERRUPTED)

    def _say(self, text: str) -> None:
        try:
            self._err.write(f"\n{text}\n")
            self._err.flush()
        except (OSError, ValueError):
            pass
