"""Array jobs and dependencies on the fake executor (reference §2, §3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError, NotFoundError
from abatch.model.runspec import RunSpec

from .helpers import req, runtime, wait_for, wait_status

S = JobStatus


def fail_index(index: str, code: int = 1):  # type: ignore[no-untyped-def]
    def script(spec: RunSpec) -> FakeOutcome:
        return FakeOutcome(
            exit_code=code if spec.env.get("AWS_BATCH_JOB_ARRAY_INDEX") == index else 0
        )

    return script


async def test_array_children_environment_and_parent_status(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake) as rt:
        parent = await rt.submit(req("arr", arrayProperties={"size": 3}))
        seen = []
        rt.bus.subscribe(lambda j: seen.append(j.status) if j is parent else None)
        await wait_status(rt, [parent])
        assert parent.status is S.SUCCEEDED
        assert S.RUNNABLE not in seen and S.RUNNING not in seen
        assert [s for s, _ in parent.history] == [S.SUBMITTED, S.PENDING, S.SUCCEEDED]
        envs = sorted(
            (
                s.env["AWS_BATCH_JOB_ID"],
                s.env["AWS_BATCH_JOB_ARRAY_INDEX"],
                s.env["AWS_BATCH_JOB_ARRAY_SIZE"],
            )
            for s in fake.started
        )
        assert envs == [(f"{parent.job_id}:{i}", str(i), "3") for i in range(3)]
        children = await rt.get_jobs([f"{parent.job_id}:{i}" for i in range(3)])
        assert [c.spec["arrayProperties"] for c in children] == [{"index": i} for i in range(3)]
        assert await rt.store.child_status_counts(parent.job_id) == {S.SUCCEEDED: 3}


async def test_array_parent_fails_once_all_children_are_done(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(fail_index("1"))) as rt:
        parent = await rt.submit(req("arr", arrayProperties={"size": 4}))
        await wait_status(rt, [parent])
        children = await rt.get_jobs([f"{parent.job_id}:{i}" for i in range(4)])
        assert [c.status for c in children] == [S.SUCCEEDED, S.FAILED, S.SUCCEEDED, S.SUCCEEDED]
        assert parent.status is S.FAILED and parent.status_reason == "Array Child Job failed"
        assert parent.stopped_at is not None
        assert parent.stopped_at >= max(c.stopped_at or 0 for c in children)


async def test_dependency_waits_then_runs(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake) as rt:
        first = await rt.submit(req("first"))
        second = await rt.submit(req("second", dependsOn=[{"jobId": first.job_id}]))
        await wait_for(rt, lambda: second.status is S.PENDING and first.status is S.RUNNING)
        fake.finish(fake.started[0].key)
        await wait_status(rt, [second], S.RUNNING)
        fake.finish(fake.started[1].key)
        await wait_status(rt, [second])
        assert [s for s, _ in second.history][:3] == [S.SUBMITTED, S.PENDING, S.RUNNABLE]


async def test_failure_cascades_transitively(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(lambda s: FakeOutcome(exit_code=2))) as rt:
        a = await rt.submit(req("a"))
        b = await rt.submit(req("b", dependsOn=[{"jobId": a.job_id}]))
        c = await rt.submit(req("c", dependsOn=[{"jobId": b.job_id}]))
        await wait_status(rt, [a, b, c])
        assert (b.status, b.status_reason) == (S.FAILED, "Dependent Job failed")
        assert (c.status, c.status_reason) == (S.FAILED, "Dependent Job failed")
        assert not b.attempts and not c.attempts
        late = await rt.submit(req("late", dependsOn=[{"jobId": a.job_id}]))
        await wait_status(rt, [late])
        assert late.status_reason == "Dependent Job failed"


async def test_sequential_array_runs_in_order_and_fails_the_rest(tmp_path: Path) -> None:
    fake = FakeExecutor(fail_index("2"))
    async with runtime(tmp_path, fake, vcpus=8) as rt:
        parent = await rt.submit(
            req("seq", arrayProperties={"size": 5}, dependsOn=[{"type": "SEQUENTIAL"}])
        )
        await wait_status(rt, [parent])
        order = [s.env["AWS_BATCH_JOB_ARRAY_INDEX"] for s in fake.started]
        assert order == ["0", "1", "2"]
        kids = await rt.get_jobs([f"{parent.job_id}:{i}" for i in range(5)])
        assert [k.status_reason for k in kids[3:]] == ["Dependent Job failed"] * 2


async def test_n_to_n_between_arrays(tmp_path: Path) -> None:
    fake = FakeExecutor(fail_index("1"))
    async with runtime(tmp_path, fake, vcpus=8) as rt:
        a = await rt.submit(req("a", arrayProperties={"size": 3}))
        b = await rt.submit(
            req("b", arrayProperties={"size": 3}, dependsOn=[{"jobId": a.job_id, "type": "N_TO_N"}])
        )
        await wait_status(rt, [a, b])
        kids = await rt.get_jobs([f"{b.job_id}:{i}" for i in range(3)])
        # b:1 fails because a:1 failed; b:1's own attempt fails too in this script, so look at
        # which children ran at all.
        ran = {s.env["AWS_BATCH_JOB_ID"] for s in fake.started}
        assert f"{b.job_id}:0" in ran and f"{b.job_id}:2" in ran and f"{b.job_id}:1" not in ran
        assert kids[1].status_reason == "Dependent Job failed"


async def test_depending_on_an_array_waits_for_the_whole_array(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda s: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake, vcpus=8) as rt:
        arr = await rt.submit(req("arr", arrayProperties={"size": 2}))
        after = await rt.submit(req("after", dependsOn=[{"jobId": arr.job_id}]))
        await wait_for(rt, lambda: len(fake.running) == 2 and after.status is S.PENDING)
        fake.finish(fake.started[0].key)
        await wait_for(rt, lambda: len(fake.running) == 1)
        assert after.status is S.PENDING
        fake.finish(fake.started[1].key)
        await wait_status(rt, [after], S.RUNNING)


@pytest.mark.parametrize(
    ("kw", "error", "match"),
    [
        ({"arrayProperties": {"size": 1}}, Exception, "greater than or equal to 2"),
        ({"arrayProperties": {"size": 10001}}, Exception, "less than or equal to 10000"),
        ({"dependsOn": [{"jobId": "nope"}]}, NotFoundError, "job nope does not exist"),
        ({"dependsOn": [{"type": "SEQUENTIAL"}]}, ClientError, "array jobs only"),
        (
            {"dependsOn": [{"jobId": "x", "type": "SEQUENTIAL"}], "arrayProperties": {"size": 2}},
            ClientError,
            "takes no jobId",
        ),
        ({"dependsOn": [{"jobId": f"j{i}"} for i in range(21)]}, Exception, "at most 20"),
    ],
)
async def test_bad_submissions(tmp_path: Path, kw, error, match) -> None:  # type: ignore[no-untyped-def]
    async with runtime(tmp_path, FakeExecutor()) as rt:
        with pytest.raises(error, match=match):
            await rt.submit(req("bad", **kw))


async def test_n_to_n_size_mismatch_refused(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(lambda s: FakeOutcome(duration=None))) as rt:
        a = await rt.submit(req("a", arrayProperties={"size": 3}))
        with pytest.raises(ClientError, match="same size"):
            await rt.submit(
                req(
                    "b",
                    arrayProperties={"size": 4},
                    dependsOn=[{"jobId": a.job_id, "type": "N_TO_N"}],
                )
            )


async def test_cancel_array_parent_cancels_children(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda s: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        parent = await rt.submit(
            req("arr", arrayProperties={"size": 4}, dependsOn=[{"type": "SEQUENTIAL"}])
        )
        await wait_for(rt, lambda: len(fake.running) == 1)
        await rt.cancel_job(parent.job_id, "no longer needed")
        kids = await rt.get_jobs([f"{parent.job_id}:{i}" for i in range(4)])
        assert kids[0].status is S.RUNNING  # cancel does not stop a running child
        assert [k.status_reason for k in kids[1:]] == ["no longer needed"] * 3
        fake.finish(fake.started[0].key)
        await wait_status(rt, [parent])
        assert parent.status is S.FAILED and parent.is_cancelled


async def test_ten_thousand_children_in_one_call(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(lambda s: FakeOutcome(duration=None))) as rt:
        t0 = time.perf_counter()
        parent = await rt.submit(req("big", arrayProperties={"size": 10_000}))
        elapsed = time.perf_counter() - t0
        assert elapsed < 30  # generous: the figure is in bench/, not here
        await wait_for(rt, lambda: rt.graph.arrays[parent.job_id].counts[S.RUNNABLE] == 9_998)
        counts = await rt.store.child_status_counts(parent.job_id)
        assert sum(counts.values()) == 10_000


async def test_dependencies_survive_a_restart(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda s: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        a = await rt.submit(req("a"))
        b = await rt.submit(req("b", dependsOn=[{"jobId": a.job_id}]))
        arr = await rt.submit(req("arr", arrayProperties={"size": 2}))
        await wait_for(rt, lambda: b.status is S.PENDING and a.status is S.RUNNING)
    async with runtime(tmp_path, FakeExecutor(), setup=False, vcpus=1) as rt:
        b2, arr2 = rt.jobs[b.job_id], rt.jobs[arr.job_id]
        await wait_status(rt, [b2, arr2])
        assert b2.status is S.SUCCEEDED and arr2.status is S.SUCCEEDED
