"""The garbage collector is held off during a submission and always comes back on."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.errors import ClientError
from abatch.runtime.bulk import collector_paused

from .helpers import req, runtime


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_nested_pauses_resume_only_at_the_outermost(collector_on: None) -> None:
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer operation is still building
    assert gc.isenabled()


def test_a_collector_found_off_stays_off(collector_on: None) -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_an_error_inside_still_resumes(collector_on: None) -> None:
    with pytest.raises(RuntimeError), collector_paused():
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
        jobs = await asyncio.gather(
            rt.submit_many([req(f"a{i}") for i in range(50)]),
            rt.submit_many([req(f"b{i}") for i in range(50)]),
        )
        assert [len(j) for j in jobs] == [50, 50]
        assert len(seen) == 4 and not any(seen)  # off while either batch was being stored
        assert gc.isenabled()
        with pytest.raises(ClientError):
            await rt.submit(req("c", queue="nope"))
        assert gc.isenabled()
