"""The garbage collector is held off during a bulk submission and always comes back on."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.errors import ClientError
from abatch.runtime.bulk import BULK_JOBS, collector_paused

from .helpers import req, runtime


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    # As it was, whatever the test left: a failing one must not leave the suite without it.
    if was:
        gc.enable()
    else:
        gc.disable()


def test_nested_pauses_resume_only_at_the_outermost(collector_on: None) -> None:
    with collector_paused(BULK_JOBS):
        assert not gc.isenabled()
        with collector_paused(BULK_JOBS):
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer operation is still building
    assert gc.isenabled()


def test_a_small_batch_does_not_pause(collector_on: None) -> None:
    with collector_paused(BULK_JOBS - 1):
        assert gc.isenabled()
    assert gc.isenabled()


def test_a_collector_found_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with collector_paused(BULK_JOBS):
        pass
    assert not gc.isenabled()


def test_an_error_inside_still_resumes(collector_on: None) -> None:
    with pytest.raises(RuntimeError), collector_paused(BULK_JOBS):
        raise RuntimeError("boom")
    assert gc.isenabled()


async def test_interleaved_submissions_resume_after_the_last(
    tmp_path: Path, collector_on: None
) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    seen: list[bool] = []
    async with runtime(tmp_path, fake) as rt:
        commit = rt._commit

        async def watching_commit(batch: Any) -> None:
            seen.append(gc.isenabled())
            await commit(batch)
            seen.append(gc.isenabled())

        rt._commit = watching_commit  # type: ignore[method-assign]
        many = BULK_JOBS  # each batch a bulk: an array job of `many` children, `many` jobs
        jobs = await asyncio.gather(
            rt.submit_many([req("a", array_properties={"size": many})]),
            rt.submit_many([req(f"b{i}") for i in range(many)]),
        )
        assert [len(j) for j in jobs] == [1, many]
        assert len(seen) == 4 and not any(seen)  # off while either batch was being stored
        assert gc.isenabled()
        seen.clear()
        await rt.submit(req("single"))
        assert seen == [True, True]  # a lone submission leaves the collector alone
        with pytest.raises(ClientError):
            await rt.submit(req("c", queue="nope"))
        assert gc.isenabled()
