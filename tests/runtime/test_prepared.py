"""The pool of attempt files made ahead: small at first, doubling while it is drawn on."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import anyio

from abatch.model.paths import work_dir
from abatch.runtime.prepared import POOL_MAX, POOL_START, PreparedAttempts


async def settle(pool: PreparedAttempts) -> None:
    with anyio.fail_after(30):
        while len(pool.ready) < pool.target:
            await asyncio.sleep(0.01)


async def test_pool_starts_small_grows_while_drawn_and_cleans_up(tmp_path: Path) -> None:
    state = tmp_path / "state"
    pool = PreparedAttempts(state)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.run)
        await settle(pool)
        assert pool.target == POOL_START
        assert len(os.listdir(state / "logs")) == POOL_START

        # Each time half the pool is drawn, the target doubles, up to POOL_MAX.
        taken: list[str] = []
        targets = [pool.target]
        while pool.target < POOL_MAX and len(targets) < 10:
            taken += [pool.take() for _ in range(pool.target // 2 + 1)]
            await settle(pool)
            targets.append(pool.target)
        assert targets == [16, 32, 64, 128, 256]
        taken += [pool.take() for _ in range(POOL_MAX)]  # drawn dry: still a working id each
        await settle(pool)
        assert pool.target == POOL_MAX
        assert len(set(taken)) == len(taken)
        for task_id in taken[:: len(taken) // 10]:
            assert stat.S_IMODE(work_dir(state, task_id).stat().st_mode) == 0o700
        ready = list(pool.ready)
        for task_id in ready[:5]:
            log = state / "logs" / task_id
            assert log.exists() and stat.S_IMODE(log.stat().st_mode) == 0o600
        tg.cancel_scope.cancel()
    # What was made and never used is removed when the runtime stops.
    for task_id in ready:
        assert not (state / "logs" / task_id).exists()
        assert not work_dir(state, task_id).exists()


async def test_a_take_during_the_first_fill_does_not_grow_the_pool(tmp_path: Path) -> None:
    """A one-job run takes its attempt while the first fill is still being made: that is not
    the pool being drawn down, and the run must make 16 pairs of files, not 32."""
    state = tmp_path / "state"
    pool = PreparedAttempts(state)
    async with anyio.create_task_group() as tg:
        tg.start_soon(pool.run)
        await asyncio.sleep(0)  # the fill has started (in its thread), nothing is ready yet
        assert not pool.ready
        first = pool.take()  # dry: it makes its own working directory
        assert work_dir(state, first).is_dir()
        await settle(pool)
        assert pool.target == POOL_START
        assert len(os.listdir(state / "logs")) == POOL_START
        tg.cancel_scope.cancel()
