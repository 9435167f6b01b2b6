"""The instances view and the Spot reclaim action, local and attached over the API: the
instance, its type and lifecycle, the capacity in use and the job on it are shown; `x` asks,
then reclaims, and the job's attempt ends as EC2's reclaim ends it."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest
from textual.pilot import Pilot

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.runtime import Runtime
from abatch.runtime.instances import reclaim_reason
from abatch.tui.app import AbatchApp
from abatch.tui.screens.instances import InstancesScreen
from abatch.tui.screens.modals import ConfirmScreen
from tests.runtime.helpers import req, wait_status
from tests.runtime.test_instances import managed_ce, setup

from .helpers import attached, screen_text, tui, until

S = JobStatus
Opener = Callable[..., AbstractAsyncContextManager[tuple[Runtime, AbatchApp, Pilot[int]]]]


def executor() -> FakeExecutor:
    return FakeExecutor(lambda spec: FakeOutcome(duration=None))


@pytest.mark.parametrize("opener", [tui, attached], ids=["local", "attached"])
async def test_instances_view_and_spot_reclaim(tmp_path: Path, opener: Opener) -> None:
    async with opener(tmp_path, executor(), setup=False) as (rt, app, pilot):
        ce = managed_ce("spot", kind="SPOT", strategy="SPOT_CAPACITY_OPTIMIZED", max_vcpus=4)
        await setup(rt, ce, vcpus=1, memory=512)
        job = await rt.submit(req("on-spot"))
        await wait_status(rt, [job], S.RUNNING, timeout=10)
        (inst,) = rt.instances()
        await pilot.press("3")
        await until(pilot, lambda: isinstance(app.screen, InstancesScreen))
        await until(pilot, lambda: inst.instance_id in screen_text(app))
        text = screen_text(app)
        assert "spot" in text and "on-spot" in text and inst.instance_type in text
        assert f"1/{inst.vcpus:g}" in text  # one vCPU in use
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Reclaim Spot instance" in screen_text(app)
        await pilot.press("n")  # no: nothing happens
        await until(pilot, lambda: isinstance(app.screen, InstancesScreen))
        assert job.status is S.RUNNING
        await pilot.press("x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_status(rt, [job], S.FAILED, timeout=10)
        assert job.status_reason == reclaim_reason(inst.instance_id)
        await until(pilot, lambda: inst.instance_id not in screen_text(app))


async def test_on_demand_instances_are_not_reclaimed(tmp_path: Path) -> None:
    async with tui(tmp_path, executor(), setup=False) as (rt, app, pilot):
        await setup(rt, managed_ce(min_vcpus=2))
        await pilot.press("3")
        await until(pilot, lambda: "on-demand" in screen_text(app))
        await pilot.press("x")
        await until(
            pilot, lambda: any("not a Spot instance" in n.message for n in app._notifications)
        )
        assert isinstance(app.screen, InstancesScreen) and len(rt.instances()) == 1
