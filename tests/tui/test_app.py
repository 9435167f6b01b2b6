"""Pilot tests: drive every view and action, and check what the runtime then does."""

from __future__ import annotations

from pathlib import Path

from abatch.model.enums import JobStatus
from abatch.tui.screens.detail import DetailScreen
from abatch.tui.screens.jobs import JobsScreen
from abatch.tui.screens.logs import LogsScreen
from abatch.tui.screens.modals import KEYS, ConfirmScreen, HelpScreen, SubmitScreen
from abatch.tui.screens.queues import QueuesScreen
from abatch.tui.widgets.jobtable import JobTable
from tests.runtime.helpers import jd, req, wait_status

from .helpers import screen_text, settle, tui, until

S = JobStatus


def jobs_screen(app: object) -> JobsScreen:
    screen = app.screen  # type: ignore[attr-defined]
    assert isinstance(screen, JobsScreen)
    return screen


async def test_jobs_view_lists_and_updates_from_events(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        jobs = await rt.submit_many([req(f"job-{i}") for i in range(5)])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 5 and len(table.visible_rows()) == 5)
        await until(pilot, lambda: sum(r.status is S.RUNNING for r in table.visible_rows()) == 2)
        # The status line repaints on its own timer after the table: wait for the screen.
        wanted = ("job-4", "job-0", "RUNNABLE", "RUNNING", "5 job(s)")
        await until(pilot, lambda: all(w in screen_text(app) for w in wanted))
        # Newest first: the last submitted on top.
        assert table.visible_rows()[0].name == "job-4"
        assert {r.job_id for r in table.visible_rows()} == {j.job_id for j in jobs}


async def test_filter_sort_and_status_cycle(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        await rt.submit_many([req(f"alpha-{i}") for i in range(3)] + [req("beta", queue="high")])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 4)
        await pilot.press("slash", *"alpha", "enter")
        await settle(pilot)
        assert table.total == 3
        assert {r.name for r in table.visible_rows()} == {"alpha-0", "alpha-1", "alpha-2"}
        await until(pilot, lambda: "name alpha*" in screen_text(app))
        await pilot.press("o")  # oldest first
        await settle(pilot)
        assert [r.name for r in table.visible_rows()] == ["alpha-0", "alpha-1", "alpha-2"]
        # A queue filter through the bar.
        box = app.screen.query_one("#filter")
        box.value = "queue:high"  # type: ignore[attr-defined]
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert [r.name for r in table.visible_rows()] == ["beta"]
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press("slash", "enter")
        await settle(pilot)
        assert table.total == 4
        # `s` cycles: SUBMITTED, PENDING, RUNNABLE ...
        await pilot.press("s", "s", "s")
        await settle(pilot)
        assert table.filter.status == "RUNNABLE"
        assert all(r.status is S.RUNNABLE for r in table.visible_rows())
        assert table.total == 2  # 2 of 4 run (2 vCPUs)


async def test_sort_cycles_orders_and_shows_which(tmp_path: Path) -> None:
    async with tui(tmp_path, vcpus=1) as (rt, app, pilot):
        first, *_ = await rt.submit_many([req(n) for n in ("bravo", "alpha", "charlie")])
        await wait_status(rt, [first], S.RUNNING, timeout=5)
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 3 and len(table.visible_rows()) == 3)

        def names() -> list[str]:
            return [r.name for r in table.visible_rows()]

        assert names() == ["charlie", "alpha", "bravo"]  # newest first
        await until(pilot, lambda: "CREATED↓" in screen_text(app))
        await pilot.press("o")  # name, ascending
        await settle(pilot)
        assert names() == ["alpha", "bravo", "charlie"]
        await until(pilot, lambda: "NAME↑" in screen_text(app))
        assert "sorted by name ↑" in screen_text(app)
        await pilot.press("O")  # reversed
        await settle(pilot)
        assert names() == ["charlie", "bravo", "alpha"]
        await until(pilot, lambda: "NAME↓" in screen_text(app))
        await pilot.press("o")  # status: RUNNABLE before RUNNING
        await settle(pilot)
        assert table.visible_rows()[-1].name == "bravo"
        assert [r.status for r in table.visible_rows()] == [S.RUNNABLE, S.RUNNABLE, S.RUNNING]
        await pilot.press("o")  # started, latest first; the ones not started last
        await settle(pilot)
        assert names()[0] == "bravo"
        await pilot.press("o")  # duration, longest first
        await settle(pilot)
        assert names()[0] == "bravo"
        await until(pilot, lambda: "DURATION↓" in screen_text(app))
        # A filter keeps the order; the list re-sorts as jobs change.
        await pilot.press("slash", *"a", "enter")
        await settle(pilot)
        assert names() == ["alpha"]
        await pilot.press("escape")
        box = app.screen.query_one("#filter")
        box.value = ""  # type: ignore[attr-defined]
        await pilot.press("slash", "enter")
        await pilot.press("o")  # back to creation order
        await settle(pilot)
        assert table.filter.sort == "created" and names() == ["charlie", "alpha", "bravo"]


async def test_cancel_from_the_tui_cancels_the_job(tmp_path: Path) -> None:
    async with tui(tmp_path, vcpus=1) as (rt, app, pilot):
        _running, waiting = await rt.submit_many([req("first"), req("second")])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 2 and len(table.visible_rows()) == 2)
        assert table.selected is not None and table.selected.name == "second"
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Cancel job second" in screen_text(app)
        await pilot.press("n")  # no: nothing happens
        await pilot.pause()
        assert waiting.status is S.RUNNABLE
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_status(rt, [waiting], S.FAILED, timeout=5)
        assert waiting.is_cancelled
        stored = await rt.store.get_job(waiting.job_id)
        assert stored is not None and stored.status is S.FAILED
        await until(pilot, lambda: any(r.status is S.FAILED for r in table.visible_rows()))


async def test_terminate_kills_a_running_job(tmp_path: Path) -> None:
    async with tui(tmp_path, vcpus=1) as (rt, app, pilot):
        (job,) = await rt.submit_many([req("long")])
        await wait_status(rt, [job], S.RUNNING, timeout=5)
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: bool(table.visible_rows()))
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_status(rt, [job], S.FAILED, timeout=5)
        assert job.is_terminated


async def test_resubmit_makes_a_new_job_like_the_old(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        (job,) = await rt.submit_many([req("again", parameters={"x": "1"})])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 1 and table.selected is not None)
        await pilot.press("r")
        await until(pilot, lambda: table.total == 2)
        new = [j for j in rt.jobs.values() if j.job_id != job.job_id]
        assert len(new) == 1
        assert new[0].job_name == "again" and new[0].job_queue == "q"
        assert new[0].job_definition == job.job_definition
        assert new[0].spec["parameters"] == {"x": "1"}


async def test_submit_form(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        await rt.register_job_definition(jd("other"))
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SubmitScreen))
        form = app.screen
        form.query_one("#parameters").value = "greeting=hi"  # type: ignore[attr-defined]
        form.query_one("#command").value = "echo 'hello there'"  # type: ignore[attr-defined]
        await pilot.press(*"from-form")
        await pilot.click("#ok")
        await until(pilot, lambda: bool(rt.jobs))
        (job,) = rt.jobs.values()
        assert job.job_name == "from-form"
        assert job.job_definition == "d:1"
        assert job.spec["parameters"] == {"greeting": "hi"}
        assert job.spec["container"]["command"] == ["echo", "hello there"]


async def test_submit_form_reports_a_missing_name(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SubmitScreen))
        await pilot.click("#ok")
        await pilot.pause()
        assert isinstance(app.screen, SubmitScreen)
        assert "give the job a name" in screen_text(app)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen))
        assert not rt.jobs


async def test_queues_view_and_enable_disable(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        await rt.submit_many([req(f"j{i}") for i in range(3)])
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await until(pilot, lambda: "RUN 2" in screen_text(app))
        text = screen_text(app)
        assert "Job queues" in text and "Compute environments" in text
        assert "RUNNABLE 1" in text
        assert "[##########] 2/2" in text  # vCPUs: both in use
        # The queue with the highest priority is listed first: `high`.
        await pilot.press("down", "e")  # queue `q`
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: rt.registry.job_queues["q"].state.value == "DISABLED")
        await until(pilot, lambda: "DISABLED" in screen_text(app))
        await pilot.press("e")  # enabling asks nothing
        await until(pilot, lambda: rt.registry.job_queues["q"].state.value == "ENABLED")
        await pilot.press("tab", "e")  # the compute environment
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: not rt.pools["ce"].enabled)
        # enter on a queue opens its jobs.
        await pilot.press("shift+tab", "down", "enter")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen))
        await settle(pilot)
        assert jobs_screen(app).table.filter.queue == "q"
        await pilot.press("2")
        assert isinstance(app.screen, JobsScreen)


async def test_detail_view(tmp_path: Path) -> None:
    async with tui(tmp_path, vcpus=1) as (rt, app, pilot):
        first, second = await rt.submit_many([req("first"), req("second")])
        (third,) = await rt.submit_many([req("third", dependsOn=[{"jobId": second.job_id}])])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 3 and len(table.visible_rows()) == 3)
        await pilot.press("down", "enter")  # `second`: RUNNABLE behind `first`
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: app.screen.info is not None)  # type: ignore[attr-defined]
        text = screen_text(app)
        assert "second" in text and second.job_id in text
        assert "why it waits" in text
        assert "position in queue q: 1" in text
        assert "dependents" in text and f"third ({third.job_id})" in text
        assert "History" in text and "SUBMITTED" in text
        assert "jobDefinition" in text
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen))
        # A finished job: attempts with exit code and reason.
        rt._executors  # noqa: B018
        executor = next(iter(rt._executors.values()))
        executor.finish(executor.started[0].key, exit_code=3, reason="boom")  # type: ignore[attr-defined]
        await wait_status(rt, [first])
        await pilot.press("end", "enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: "Attempts (1)" in screen_text(app))
        text = screen_text(app)
        assert "FAILED" in text and "boom" in text


async def test_logs_view_follows_and_searches(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        (job,) = await rt.submit_many([req("talker")])
        await wait_status(rt, [job], S.RUNNING, timeout=5)
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: bool(table.visible_rows()))
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        await until(pilot, lambda: "world" in screen_text(app))
        assert "attempt 1 of 1" in screen_text(app)
        path = rt.log_path(job.attempts[0].log_stream)
        with open(path, "a") as f:
            f.write("appended later\n")
        await until(pilot, lambda: "appended later" in screen_text(app))
        await pilot.press("slash", *"world", "enter")
        await until(pilot, lambda: "1 match(es)" in screen_text(app))
        screen = app.screen
        assert isinstance(screen, LogsScreen)
        assert screen.matches == [1]
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, JobsScreen))


async def test_array_children(tmp_path: Path) -> None:
    async with tui(tmp_path) as (rt, app, pilot):
        await rt.submit_many([req("arr", arrayProperties={"size": 3})])
        table = app.screen.query_one(JobTable)
        await until(pilot, lambda: table.total == 1 and table.selected is not None)
        await until(pilot, lambda: "arr [3]" in screen_text(app))
        await pilot.press("a")
        await settle(pilot)
        await until(pilot, lambda: table.total == 3)
        assert [r.job_id.rsplit(":", 1)[1] for r in table.visible_rows()] == ["0", "1", "2"]
        await until(pilot, lambda: "children" in screen_text(app))
        await pilot.press("escape")
        await until(pilot, lambda: table.total == 1)


async def test_help_lists_every_key_and_palette_opens(tmp_path: Path) -> None:
    async with tui(tmp_path) as (_rt, app, pilot):
        await pilot.press("question_mark")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "abatch - keys" in text and "command palette" in text
        documented = " ".join(k for _, keys in KEYS for k, _ in keys)
        names = {
            "slash": "/",
            "question_mark": "?",
            "colon": ":",
            "left_square_bracket": "[",
            "right_square_bracket": "]",
        }
        for cls in (type(app), JobsScreen, QueuesScreen, DetailScreen, LogsScreen, JobTable):
            for binding in cls.BINDINGS:
                for key in binding.key.split(","):  # type: ignore[union-attr]
                    key = names.get(key, key)
                    assert key in documented, f"{cls.__name__}: {key} is not in the help"
        await pilot.press("escape")
        await pilot.press("colon")
        await pilot.pause()
        from textual.command import CommandPalette

        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Queues", "enter")
        await until(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_refused_submit_with_brackets_in_the_message_does_not_crash(tmp_path: Path) -> None:
    """A refused submission's message (pydantic's carries `[type=…]`) is shown as plain text:
    as markup it raised a MarkupError and ended the app."""
    async with tui(tmp_path) as (rt, app, pilot):
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, SubmitScreen))
        await pilot.press(*"bad[name]=x")
        await pilot.click("#ok")
        await pilot.pause()
        await pilot.pause()
        assert app.is_running
        assert not rt.jobs
        await pilot.press("slash", *"[odd", "enter")  # a filter with a bracket, too
        await pilot.pause()
        assert app.is_running
