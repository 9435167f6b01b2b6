"""Shared setup for TUI tests: a runtime on a FakeExecutor, the app on a LocalBackend, and
ways to wait for the UI to settle without sleeping for fixed times."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from textual.pilot import Pilot

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.runtime import Runtime
from abatch.tui.app import AbatchApp
from abatch.tui.local import LocalBackend
from abatch.tui.widgets.jobtable import JobTable
from tests.runtime.helpers import runtime

SIZE = (140, 40)


def manual() -> FakeExecutor:
    """Attempts run until finished or killed, writing a few log lines."""
    return FakeExecutor(lambda spec: FakeOutcome(duration=None, log=b"hello\nworld\nline 3\n"))


@asynccontextmanager
async def attached(
    tmp: Path, executor: FakeExecutor | None = None, **kw: Any
) -> AsyncIterator[tuple[Runtime, AbatchApp, Pilot[int]]]:
    """A runtime serving its API on loopback, and the app attached to it through that API
    (a RemoteBackend: the same calls as an attached `abatch tui` in another process)."""
    from abatch.client import ApiClient
    from abatch.tui.remote import RemoteBackend
    from tests.api.helpers import serving

    async with runtime(tmp, executor or manual(), **kw) as rt, serving(rt) as url:
        backend = await RemoteBackend(ApiClient(url, timeout=10)).connect()
        app = AbatchApp(backend)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                yield rt, app, pilot
        finally:
            backend.close()


@asynccontextmanager
async def tui(
    tmp: Path, executor: FakeExecutor | None = None, **kw: Any
) -> AsyncIterator[tuple[Runtime, AbatchApp, Pilot[int]]]:
    async with runtime(tmp, executor or manual(), **kw) as rt:
        app = AbatchApp(LocalBackend(rt))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            yield rt, app, pilot


async def until(pilot: Pilot[int], predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    """Let the app run until `predicate()` holds."""
    with anyio.fail_after(timeout):
        while not predicate():
            await pilot.pause(0.02)


async def settle(pilot: Pilot[int]) -> None:
    """Until the jobs table (if shown) has loaded what it shows."""
    await pilot.pause()
    tables = pilot.app.screen.query(JobTable)
    if tables:
        table = tables.first()
        with anyio.fail_after(10):
            await table.settled.wait()
    await pilot.pause()


def screen_text(app: AbatchApp) -> str:
    """What the terminal shows, as plain text."""
    from rich.console import Console

    width, height = SIZE
    console = Console(width=width, height=height, record=True, file=io.StringIO())
    screen = app.screen._compositor.render_update(full=True)  # type: ignore[union-attr]
    console.print(screen)
    return console.export_text()
