"""Fair share in the runtime, on a simulated clock with the fake executor: the 2x figure end
to end, computeReservation, the 500-identifier limit, the dispatch order a snapshot shows,
and usage rebuilt from a real SQLite file after a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus as S
from abatch.model.errors import ClientError
from abatch.model.policy import SchedulingPolicy
from abatch.model.runspec import RunSpec
from abatch.runtime import Runtime

from .helpers import FakeClock, jq, req, runtime, wait_for

ARN = "arn:aws:batch:us-east-1:123456789012:scheduling-policy/fs"


def manual(_: RunSpec) -> FakeOutcome:
    return FakeOutcome(duration=None)


async def fair_queue(rt: Runtime, **fairshare: Any) -> None:
    policy = SchedulingPolicy.model_validate({"name": "fs", "fairsharePolicy": fairshare})
    await rt.create_scheduling_policy(policy)
    await rt.put_job_queue(jq("fair", 5, schedulingPolicyArn=ARN))


def share(ident: str, n: int, **kw: Any) -> list[Any]:
    return [req(f"{ident}{i}", queue="fair", shareIdentifier=ident, **kw) for i in range(n)]


async def test_weight_half_gets_twice_the_vcpu_seconds_end_to_end(tmp_path: Path) -> None:
    """Weights 1 (A) and 0.5 (B), 1-vCPU jobs of 60 simulated seconds, 2 vCPUs, 5 simulated
    hours, decay window 3600 s: B gets 2.0 +/- 0.2 times A's vCPU-seconds."""
    clock = FakeClock()
    fake = FakeExecutor(manual)
    hours = 5
    async with runtime(tmp_path, fake, vcpus=2, clock=clock) as rt:
        dist = [{"shareIdentifier": "A", "weightFactor": 1}, {"shareIdentifier": "B"}]
        dist[1]["weightFactor"] = 0.5
        await fair_queue(rt, shareDecaySeconds=3600, shareDistribution=dist)
        jobs = await rt.submit_many(share("A", 400) + share("B", 500))
        end_at = clock.t + hours * 3600
        ends: dict[str, float] = {}
        await wait_for(rt, lambda: len(fake.running) == 2)
        while clock.t < end_at:
            for key in fake.running:
                ends.setdefault(key, clock.t + 60)
            clock.t = min(ends[k] for k in fake.running)
            for key in [k for k in fake.running if ends[k] <= clock.t]:
                fake.finish(key)
            await wait_for(rt, lambda: len(fake.running) == 2)
        used = {"A": 0.0, "B": 0.0}
        for job in await rt.get_jobs([j.job_id for j in jobs]):
            for a in job.attempts:
                if a.started_at is not None and a.stopped_at is not None:
                    used[job.spec["shareIdentifier"]] += job.vcpus * (a.stopped_at - a.started_at)
        assert used["A"] + used["B"] == pytest.approx(hours * 3600_000 * 2, rel=0.01)
        assert used["B"] / used["A"] == pytest.approx(2.0, abs=0.2)


async def test_compute_reservation_keeps_room_for_a_new_identifier(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=4, clock=FakeClock()) as rt:
        await fair_queue(rt, computeReservation=50)
        a = await rt.submit_many(share("A", 4))
        await wait_for(rt, lambda: a[2].status_reason is not None)
        # One active identifier: 50% of the queue's 4 vCPUs held back.
        assert [j.status for j in a] == [S.STARTING] * 2 + [S.RUNNABLE] * 2 or [
            j.status for j in a
        ] == [S.RUNNING] * 2 + [S.RUNNABLE] * 2
        assert "computeReservation" in (a[2].status_reason or "")
        (b,) = await rt.submit_many(share("B", 1))
        # Two active: 25% held back, so one more vCPU, and B (no usage) goes first.
        await wait_for(rt, lambda: b.status is S.RUNNING)
        assert len(fake.running) == 3
        assert a[2].status is S.RUNNABLE


async def test_at_most_500_active_share_identifiers(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(manual), clock=FakeClock()) as rt:
        await fair_queue(rt)
        await rt.submit_many([r for i in range(500) for r in share(f"u{i}", 1)])
        with pytest.raises(ClientError, match="at most 500 active share identifiers"):
            await rt.submit_many(share("one-too-many", 1))
        await rt.submit_many(share("u7", 2))  # an active identifier may always submit more


async def test_fifo_queue_ignores_scheduling_priority_override(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        blocker = await rt.submit(req("blocker"))
        await wait_for(rt, lambda: blocker.status is S.RUNNING)
        old = await rt.submit(req("old"))
        urgent = await rt.submit(req("urgent", schedulingPriorityOverride=9999))
        await wait_for(rt, lambda: urgent.status is S.RUNNABLE)
        fake.finish(next(iter(fake.running)))
        await wait_for(rt, lambda: old.status is S.RUNNING)
        assert urgent.status is S.RUNNABLE


async def test_snapshot_and_explain_follow_fair_share_order(tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=1, clock=clock) as rt:
        await fair_queue(rt)
        (a0,) = await rt.submit_many(share("A", 1))
        await wait_for(rt, lambda: a0.status is S.RUNNING)
        clock.t += 30  # A has used 30 vCPU-seconds
        a1, a2 = await rt.submit_many(
            [
                *share("A", 1),
                req("urgent", queue="fair", shareIdentifier="A", schedulingPriorityOverride=5),
            ]
        )
        b0, b1 = await rt.submit_many(share("B", 2))
        await wait_for(rt, lambda: all(j.status is S.RUNNABLE for j in (a1, a2, b0, b1)))
        order = [a2.job_id, a1.job_id]  # A: by priority, then age
        expected = [b0.job_id, b1.job_id, *order]  # B has no usage: first
        snap = rt.queue_snapshot("fair")
        assert [j["jobArn"].rsplit("/", 1)[1] for j in snap["frontOfQueue"]["jobs"]] == expected
        assert rt.explain(b1) == (
            f"QUEUED - position 2 in queue, behind job {b0.job_id} ({b0.job_name})"
        )
        assert (rt.explain(a1) or "").startswith("QUEUED - position 4 in queue")


async def test_usage_is_rebuilt_from_the_store_after_a_restart(tmp_path: Path) -> None:
    clock = FakeClock()
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=2, clock=clock) as rt:
        await fair_queue(rt, shareDecaySeconds=3600)
        a = await rt.submit_many(share("A", 2))
        await wait_for(rt, lambda: len(fake.running) == 2)
        clock.t += 100
        first = sorted(fake.running)[0]
        fake.finish(first)  # one attempt: 100 s
        await wait_for(rt, lambda: any(j.status is S.SUCCEEDED for j in a))
        clock.t += 200  # the other is still running: 300 s so far
        usage = rt.shares["fair"].shares["A"].usage
        assert usage.usage_s(rt._now(), 3600_000) == pytest.approx(400)
    # The runtime stopped: the running attempt was interrupted (and requeued) at clock.t.
    clock.t += 600
    fake2 = FakeExecutor(manual)
    async with runtime(tmp_path, fake2, setup=False, clock=clock) as rt:
        sq = rt.shares["fair"]
        assert sq.shares["A"].usage.usage_s(rt._now(), 3600_000) == pytest.approx(400)
        # The interrupted job was queued again and takes one of the 2 vCPUs.
        await wait_for(rt, lambda: len(fake2.running) == 1)
        # One vCPU left, one job of each: A has usage, so the new identifier goes first.
        a_new, b = await rt.submit_many(share("A", 1) + share("B", 1))
        await wait_for(rt, lambda: b.status is S.RUNNING)
        assert a_new.status is S.RUNNABLE
        assert sq.shares["A"].live == 2 and sq.shares["B"].live == 1


CONFIG = """
[[scheduling_policy]]
name = "fs"
[scheduling_policy.fairshare_policy]
share_decay_seconds = 3600
share_distribution = [{ share_identifier = "alice", weight_factor = WEIGHT }]

[[compute_environment]]
name = "ce"
compute_resources = { max_vcpus = 2 }

[[job_queue]]
name = "fair"
priority = 1
compute_environment_order = [{ order = 1, compute_environment = "ce" }]
scheduling_policy_arn = "fs"

[[job_definition]]
name = "d"
container_properties = { image = "busybox", command = ["true"] }

[[job]]
name = "a"
job_queue = "fair"
job_definition = "d"
share_identifier = "alice"
scheduling_priority_override = 3
"""


async def test_policy_and_fair_queue_from_a_config(tmp_path: Path) -> None:
    from abatch.config import parse_config

    async with runtime(tmp_path, FakeExecutor(), setup=False) as rt:
        report = await rt.apply(parse_config(CONFIG.replace("WEIGHT", "0.5")))
        assert ("scheduling policy", "fs", "created") in report.changes
        (job,) = await rt.submit_config_jobs(parse_config(CONFIG.replace("WEIGHT", "0.5")).jobs)
        assert job.spec["shareIdentifier"] == "alice" and job.spec["schedulingPriority"] == 3
        await wait_for(rt, lambda: job.status is S.SUCCEEDED)
        again = await rt.apply(parse_config(CONFIG.replace("WEIGHT", "0.5")))
        assert ("scheduling policy", "fs", "unchanged") in again.changes
        changed = await rt.apply(parse_config(CONFIG.replace("WEIGHT", "0.25")))
        assert ("scheduling policy", "fs", "updated") in changed.changes
        policy = rt.shares["fair"].policy
        assert policy is not None and policy.share_distribution is not None
        assert policy.share_distribution[0].weight_factor == 0.25
        # As AWS: the policy can't be removed, and a FIFO queue can't be given one.
        fifo = CONFIG.replace('scheduling_policy_arn = "fs"\n', "").replace("WEIGHT", "0.25")
        fifo = fifo.replace('share_identifier = "alice"\n', "")  # refused on a FIFO queue
        with pytest.raises(ClientError, match="can't be removed"):
            await rt.apply(parse_config(fifo))
        await rt.put_job_queue(jq("plain", 1))
        with pytest.raises(ClientError, match="added to a FIFO queue"):
            await rt.put_job_queue(jq("plain", 1, schedulingPolicyArn=ARN))
