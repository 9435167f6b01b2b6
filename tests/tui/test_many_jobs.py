"""The jobs view with 100,000 jobs in the store: it opens and filters without loading them."""

from __future__ import annotations

import time
from pathlib import Path

from abatch.model.enums import JobStatus
from abatch.tui.app import AbatchApp
from abatch.tui.local import LocalBackend
from abatch.tui.widgets.jobtable import PAGE, JobTable
from tests.runtime.helpers import runtime

from .fill import fill
from .helpers import SIZE, manual, screen_text, settle, until

N = 100_000


async def test_100k_jobs_open_and_filter(tmp_path: Path) -> None:
    async with runtime(tmp_path, manual()) as rt:
        await fill(rt, N)
        started = time.monotonic()
        app = AbatchApp(LocalBackend(rt))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one(JobTable)
            opened = time.monotonic() - started
            assert table.total == N
            assert table.visible_rows()[0].name == "job-099999"
            await until(pilot, lambda: "100,000 job(s)" in screen_text(app))
            # Never more than a few pages in memory.
            assert sum(len(p) for p in table._pages.values()) <= 8 * PAGE

            started = time.monotonic()
            await pilot.press("slash", *"job-09999", "enter")
            await settle(pilot)
            filtered = time.monotonic() - started
            assert table.total == 10
            assert [r.name for r in table.visible_rows()][:2] == ["job-099999", "job-099998"]

            await pilot.press("escape", "s", "s", "s", "s", "s", "s", "s")  # FAILED
            await settle(pilot)
            assert table.filter.status == "FAILED"
            assert table.total == 1  # job-099997 only, of the ten named job-09999*
            box = app.screen.query_one("#filter")
            box.value = "s:failed"  # type: ignore[attr-defined]
            await pilot.press("slash", "enter")
            await settle(pilot)
            assert table.total == N // 10
            assert all(r.status is JobStatus.FAILED for r in table.visible_rows())

            # The last page, deep in the list.
            await pilot.press("end")
            await settle(pilot)
            await pilot.pause(0.2)
            assert table.selected is not None and table.selected.name == "job-000007"

            # Sorted by name (a sort with no index: ordered once, then paged by key).
            box.value = ""  # type: ignore[attr-defined]
            await pilot.press("slash", "enter")
            await settle(pilot)
            started = time.monotonic()
            await pilot.press("o")  # created -> name (ascending)
            await settle(pilot)
            sorted_in = time.monotonic() - started
            assert (table.filter.sort, table.filter.descending) == ("name", False)
            assert table.total == N
            assert [r.name for r in table.visible_rows()][:2] == ["job-000000", "job-000001"]
            await until(pilot, lambda: "NAME↑" in screen_text(app))
            await pilot.press("O", "end")  # reversed, then the last row
            await settle(pilot)
            await pilot.pause(0.2)
            assert table.selected is not None and table.selected.name == "job-000000"
            assert sum(len(p) for p in table._pages.values()) <= 8 * PAGE
        assert opened < 10 and filtered < 10 and sorted_in < 10, (opened, filtered, sorted_in)
