"""Snapshot tests: each main view rendered at 140x40 on a fixed workload with a fixed clock
(tests/tui/demo.py) and compared, character for character, with the files under
tests/tui/snapshots/. A difference fails with a diff. After a deliberate change to a view,
rewrite them and review the diff in git:

    ABATCH_UPDATE_SNAPSHOTS=1 python -m pytest tests/tui/test_snapshots.py

The attached UI (RemoteBackend over the API) must render the very same jobs view as the
local one: both are compared with the same file.
"""

from __future__ import annotations

import difflib
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from abatch.client import ApiClient
from abatch.model.enums import JobStatus
from abatch.tui.app import AbatchApp
from abatch.tui.local import LocalBackend
from abatch.tui.remote import RemoteBackend
from abatch.tui.screens.detail import DetailScreen
from abatch.tui.screens.logs import LogsScreen
from abatch.tui.screens.queues import QueuesScreen
from abatch.tui.widgets.jobtable import JobTable
from tests.api.helpers import serving
from tests.runtime.helpers import runtime

from .demo import JOBS, NOW, TITLE, demo
from .helpers import SIZE, manual, screen_text, settle, until

HERE = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("ABATCH_UPDATE_SNAPSHOTS") == "1"


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> object:
    """Times are shown in local time: render them in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield None
    monkeypatch.undo()
    time.tzset()


def check(name: str, text: str) -> None:
    got = "\n".join(line.rstrip() for line in text.rstrip("\n").split("\n")) + "\n"
    path = HERE / f"{name}.txt"
    if UPDATE:
        HERE.mkdir(exist_ok=True)
        path.write_text(got)
        return
    if not path.exists():
        pytest.fail(f"no snapshot {path}: write it with ABATCH_UPDATE_SNAPSHOTS=1")
    want = path.read_text()
    if got != want:
        diff = "".join(
            difflib.unified_diff(
                want.splitlines(keepends=True), got.splitlines(keepends=True), "snapshot", "now"
            )
        )
        pytest.fail(f"{name} differs from {path}:\n{diff}")


@asynccontextmanager
async def shown(tmp: Path, *, attach: bool = False) -> AsyncIterator[tuple[AbatchApp, Pilot[int]]]:
    async with runtime(tmp, manual()) as rt:
        await demo(rt)
        if attach:
            async with serving(rt) as url:
                remote = await RemoteBackend(ApiClient(url, timeout=10)).connect()
                remote.title = TITLE
                app = AbatchApp(remote, clock=lambda: NOW)
                try:
                    async with app.run_test(size=SIZE) as pilot:
                        await settle(pilot)
                        yield app, pilot
                finally:
                    remote.close()
            return
        local = LocalBackend(rt)
        local.title = TITLE
        app = AbatchApp(local, clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            yield app, pilot


async def jobs_shown(app: AbatchApp, pilot: Pilot[int]) -> None:
    table = app.screen.query_one(JobTable)
    await until(pilot, lambda: len(table.visible_rows()) == len(JOBS))
    await until(pilot, lambda: f"{len(JOBS)} job(s)" in screen_text(app))


async def test_jobs_view(tmp_path: Path) -> None:
    async with shown(tmp_path) as (app, pilot):
        await jobs_shown(app, pilot)
        check("jobs", screen_text(app))
        await pilot.press("o")  # sorted by name
        await settle(pilot)
        await until(pilot, lambda: "sorted by name" in screen_text(app))
        check("jobs-by-name", screen_text(app))


async def test_jobs_view_attached_is_the_same(tmp_path: Path) -> None:
    async with shown(tmp_path, attach=True) as (app, pilot):
        await jobs_shown(app, pilot)
        check("jobs", screen_text(app))


async def test_queues_view(tmp_path: Path) -> None:
    async with shown(tmp_path) as (app, pilot):
        await pilot.press("1")
        await until(pilot, lambda: isinstance(app.screen, QueuesScreen))
        await until(pilot, lambda: "FAIL 1" in screen_text(app))
        check("queues", screen_text(app))


async def test_detail_view(tmp_path: Path) -> None:
    async with shown(tmp_path) as (app, pilot):
        await jobs_shown(app, pilot)
        await pilot.press("down", "down", "enter")  # train-vit: failed, one attempt
        await until(pilot, lambda: isinstance(app.screen, DetailScreen))
        await until(pilot, lambda: "Attempts (1)" in screen_text(app))
        check("detail", screen_text(app))


async def test_logs_view(tmp_path: Path) -> None:
    async with shown(tmp_path) as (app, pilot):
        await jobs_shown(app, pilot)
        await pilot.press("down", "down", "down", "l")  # train-resnet: running
        await until(pilot, lambda: isinstance(app.screen, LogsScreen))
        await until(pilot, lambda: "epoch 3" in screen_text(app))
        check("logs", screen_text(app))


async def test_instances_view(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A Spot fleet with one instance running one job, on the fixed clock, with fixed ids."""
    from abatch.executors.fake import FakeExecutor, FakeOutcome
    from abatch.runtime import Runtime
    from abatch.tui.screens.instances import InstancesScreen
    from tests.runtime.helpers import req, wait_status
    from tests.runtime.test_instances import managed_ce, setup

    ids = iter(f"i-{n:017x}" for n in range(1, 100))
    monkeypatch.setattr(Runtime, "new_instance_id", lambda self: next(ids))
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake, setup=False, clock=lambda: NOW / 1000) as rt:
        ce = managed_ce("spot", kind="SPOT", strategy="SPOT_CAPACITY_OPTIMIZED", max_vcpus=4)
        await setup(rt, ce, vcpus=1, memory=512)
        job = await rt.submit(req("on-spot"))
        await wait_status(rt, [job], JobStatus.RUNNING, timeout=10)
        local = LocalBackend(rt)
        local.title = TITLE
        app = AbatchApp(local, clock=lambda: NOW)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("3")
            await until(pilot, lambda: isinstance(app.screen, InstancesScreen))
            await until(pilot, lambda: "i-00000000000000001" in screen_text(app))
            await until(pilot, lambda: "on-spot" in screen_text(app))
            # The job id is random: show it as a fixed token.
            check("instances", screen_text(app).replace(job.job_id, "<job-id>"))
