"""Counts per queue are recounted at most every COUNTS_EVERY seconds; a change inside that
window still reaches the queues view when the window ends, with no later event to prompt it
(it used to stay stale until something else changed: a flaky CI run showed it)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from abatch.tui import local, remote
from abatch.tui.recount import Recount
from abatch.tui.screens.queues import QueuesScreen
from tests.runtime.helpers import req

from .helpers import attached, screen_text, tui, until


async def test_a_change_inside_the_window_wakes_once_it_ends() -> None:
    woken: list[float] = []
    r = Recount(0.3, lambda: woken.append(anyio.current_time()))
    assert r.due()  # never counted
    assert not r.due()  # nothing changed since
    start = anyio.current_time()
    r.changed()
    assert not r.due()  # inside the window: the old counts stand
    assert not r.due()  # asked again: still one wake-up
    await anyio.sleep(0.6)
    assert len(woken) == 1 and woken[0] - start >= 0.25
    assert r.due()
    assert not r.due()
    await anyio.sleep(0.5)
    assert len(woken) == 1  # no change, no wake-up


async def test_a_change_during_a_count_is_kept_for_the_next() -> None:
    r = Recount(0.0, lambda: None)
    assert r.due()
    r.changed()  # while that count runs
    assert r.due()
    assert not r.due()


async def test_close_cancels_a_pending_wake() -> None:
    woken: list[int] = []
    r = Recount(0.2, lambda: woken.append(1))
    assert r.due()
    r.changed()
    assert not r.due()
    r.close()
    await anyio.sleep(0.4)
    assert not woken


@pytest.mark.parametrize("attach", [False, True], ids=["local", "attached"])
async def test_queues_view_catches_up_after_a_burst(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attach: bool
) -> None:
    monkeypatch.setattr(remote if attach else local, "COUNTS_EVERY", 1.5)
    opened = attached(tmp_path) if attach else tui(tmp_path)
    async with opened as (rt, app, pilot):
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await until(pilot, lambda: "JOBS" in screen_text(app))  # counted: no jobs yet
        # One burst of changes, all inside the window, then nothing: the job runs on.
        await rt.submit_many([req("one")])
        await until(pilot, lambda: "RUN 1" in screen_text(app))
