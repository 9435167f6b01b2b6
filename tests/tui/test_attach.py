"""The terminal UI attached to a runtime through its HTTP API (RemoteBackend), as `abatch tui`
is when another process owns the state directory: the real server on loopback, the real app
through Pilot; each action is checked in the serving runtime."""

from __future__ import annotations

from pathlib import Path

from abatch.client import ApiClient
from abatch.model.enums import JobStatus
from abatch.tui.app import AbatchApp
from abatch.tui.remote import RemoteBackend
from abatch.tui.screens.detail import DetailScreen
from abatch.tui.screens.jobs import JobsScreen
from abatch.tui.screens.logs import LogsScreen
from abatch.tui.screens.modals import ConfirmScreen, SubmitScreen
from abatch.tui.screens.queues import QueuesScreen
from abatch.tui.widgets.jobtable import JobTable
from tests.api.helpers import serving
from tests.runtime.helpers import req, runtime, wait_status

from .helpers import SIZE, attached, manual, screen_text, settle, until

S = JobStatus


async def test_attached_lists_jobs_and_follows_changes(tmp_path: Path) -> None:
    async with attached(tmp_path, vcpus=1) as (rt, app, pilot):
        assert "attached to http://127.0.0.1:" in app.sub_title
        jobs = await rt.submit_many([req(f"job-{i}") for i in range(3)])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 3 and len(table.visible_rows()) == 3)
        assert {r.job_id for r in table.visible_rows()} == {j.job_id for j in jobs}
        assert table.visible_rows()[0].name == "job-2"  # newest first
        await until(pilot, lambda: any(r.status is S.RUNNING for r in table.visible_rows()))
        # A change in the serving runtime reaches the table through the long poll.
        executor = next(iter(rt._executors.values()))
        executor.finish(executor.started[0].key, exit_code=0)  # type: ignore[attr-defined]
        await wait_status(rt, [jobs[0]])
        await until(pilot, lambda: any(r.status is S.SUCCEEDED for r in table.visible_rows()))
        # Filter and sort go through the API's extension operations.
        await pilot.press("slash", *"job-1", "enter")
        await settle(pilot)
        assert [r.name for r in table.visible_rows()] == ["job-1"]
        box = app.screen.query_one("#filter")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press("slash", "enter", "o")  # by name, ascending
        await settle(pilot)
        assert [r.name for r in table.visible_rows()] == ["job-0", "job-1", "job-2"]
        await until(pilot, lambda: "NAME↑" in screen_text(app))


async def test_attached_queues_view_and_enable_disable(tmp_path: Path) -> None:
    async with attached(tmp_path) as (rt, app, pilot):
        await rt.submit_many([req(f"j{i}") for i in range(3)])
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await until(pilot, lambda: "RUN 2" in screen_text(app) and "RUNNABLE 1" in screen_text(app))
        assert "[##########] 2/2" in screen_text(app)
        await pilot.press("down", "e")  # queue `q` (after `high`)
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: rt.registry.job_queues["q"].state.value == "DISABLED")
        await until(pilot, lambda: "DISABLED" in screen_text(app))
        await pilot.press("e")
        await until(pilot, lambda: rt.registry.job_queues["q"].state.value == "ENABLED")
        await pilot.press("tab", "e")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not rt.pools["ce"].enabled)
        # A change made by someone else shows up too (no job event: the watch's version).
        await rt.update_job_queue("high", {"state": "DISABLED"})
        await until(pilot, lambda: screen_text(app).count("DISABLED") >= 2)


async def test_attached_detail_and_logs(tmp_path: Path) -> None:
    async with attached(tmp_path, vcpus=1) as (rt, app, pilot):
        first, second = await rt.submit_many([req("first"), req("second")])
        await wait_status(rt, [first], S.RUNNING, timeout=5)
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 2 and len(table.visible_rows()) == 2)
        await pilot.press("enter")  # `second`: waits behind `first`
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: "position in queue q: 1" in screen_text(app))
        text = screen_text(app)
        assert second.job_id in text and "why it waits" in text and "History" in text
        await pilot.press("escape", "down", "l")  # `first`'s log
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        await until(pilot, lambda: "world" in screen_text(app))
        assert "attempt 1 of 1" in screen_text(app)
        with open(rt.log_path(first.attempts[0].log_stream), "a") as f:
            f.write("appended later\n")
        await until(pilot, lambda: "appended later" in screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen))


async def test_attached_cancel_terminate_resubmit_submit(tmp_path: Path) -> None:
    async with attached(tmp_path, vcpus=1) as (rt, app, pilot):
        running, waiting = await rt.submit_many([req("running"), req("waiting")])
        await wait_status(rt, [running], S.RUNNING, timeout=5)
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 2 and len(table.visible_rows()) == 2)
        assert table.selected is not None and table.selected.name == "waiting"
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_status(rt, [waiting], S.FAILED, timeout=5)
        assert waiting.is_cancelled
        await pilot.press("down", "t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_status(rt, [running], S.FAILED, timeout=5)
        assert running.is_terminated
        await until(pilot, lambda: all(r.status is S.FAILED for r in table.visible_rows()))
        await pilot.press("r")  # re-submit `running`
        # (rt.jobs holds the unfinished jobs: the new one only.)
        await until(pilot, lambda: any(j.job_name == "running" for j in rt.jobs.values()))
        (again,) = rt.jobs.values()
        assert again.job_id != running.job_id and again.job_queue == "q"
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SubmitScreen))
        app.screen.query_one("#parameters").value = "x=1"  # type: ignore[attr-defined]
        await pilot.press(*"from-form")
        await pilot.click("#ok")
        await until(pilot, lambda: any(j.job_name == "from-form" for j in rt.jobs.values()))
        (made,) = [j for j in rt.jobs.values() if j.job_name == "from-form"]
        assert made.spec["parameters"] == {"x": "1"}
        await until(pilot, lambda: table.total == 4)


async def test_refusal_is_shown_and_a_lost_runtime_does_not_crash(tmp_path: Path) -> None:
    async with runtime(tmp_path, manual()) as rt:
        async with serving(rt) as url:
            backend = await RemoteBackend(ApiClient(url, timeout=5)).connect()
        # The server has stopped: the app opens, says so, and keeps running.
        app = AbatchApp(backend)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await until(pilot, lambda: "NOT CONNECTED" in app.sub_title)
                await pilot.press("1")
                await pilot.pause(0.2)
                await pilot.press("2", "c", "enter")
                await pilot.pause(0.2)
                assert app.is_running
        finally:
            backend.close()
        # A server again (on a new port, so a new client): actions work.
        async with serving(rt) as url:
            backend = await RemoteBackend(ApiClient(url, timeout=5)).connect()
            (back,) = await rt.submit_many([req("back")])
            app = AbatchApp(backend)
            try:
                async with app.run_test(size=SIZE) as pilot:
                    table = app.screen.query_one(JobTable)
                    await until(pilot, lambda: table.total == 1)
                    await pilot.press("t")
                    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                    await pilot.press("y")
                    await wait_status(rt, [back], S.FAILED, timeout=5)
                    assert back.is_terminated
            finally:
                backend.close()
