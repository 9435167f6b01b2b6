"""Instances at run time: launched for demand and retired when idle (fake executor, short
idle time), desiredvCpus rising with demand and falling back to 0 or to what minvCpus keeps
(a fake clock moved past the idle time), kept across a restart, Spot reclaims ending real
processes and the retry by an evaluateOnExit rule, random reclaims at a seeded rate,
unmanaged hosts."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError, NotFoundError
from abatch.model.resources import ComputeEnvironment
from abatch.model.runspec import RunSpec
from abatch.runtime import Runtime
from abatch.runtime.instances import reclaim_reason

from .helpers import (
    FakeClock,
    jd,
    jq,
    req,
    runtime,
    until_instances,
    wait_for,
    wait_status,
)

S = JobStatus


def manual(_: RunSpec) -> FakeOutcome:
    return FakeOutcome(duration=None)


def managed_ce(
    name: str = "fleet",
    kind: str = "EC2",
    types: tuple[str, ...] = ("c5",),
    max_vcpus: int = 8,
    min_vcpus: int = 0,
    idle: float = 0.2,
    **kw: Any,
) -> ComputeEnvironment:
    resources: dict[str, Any] = {
        "type": kind,
        "maxvCpus": max_vcpus,
        "minvCpus": min_vcpus,
        "instanceTypes": list(types),
    }
    if "strategy" in kw:
        resources["allocationStrategy"] = kw.pop("strategy")
    return ComputeEnvironment.model_validate(
        {
            "computeEnvironmentName": name,
            "computeResources": resources,
            "instanceIdleSeconds": idle,
            **kw,
        }
    )


async def setup(rt: Runtime, ce: ComputeEnvironment, **jd_kw: Any) -> None:
    await rt.put_compute_environment(ce)
    await rt.put_job_queue(jq("q", 1, [ce.compute_environment_name]))
    await rt.register_job_definition(jd(**jd_kw))


async def test_instances_follow_demand_within_min_and_max(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, setup=False) as rt:
        await setup(rt, managed_ce(max_vcpus=8, min_vcpus=2, idle=0.2), vcpus=2, memory=1024)
        await until_instances(rt, lambda: len(rt.instances()) == 1)  # minvCpus: one c5.large
        jobs = [await rt.submit(req(f"j{i}")) for i in range(5)]
        await wait_for(
            rt, lambda: sum(j.status is S.STARTING or j.status is S.RUNNING for j in jobs) == 4
        )
        insts = rt.instances()
        assert [i.instance_type for i in insts] == ["c5.large"] * 4  # 8 vCPUs: the max
        assert all(len(i.jobs) == 1 for i in insts)
        assert all(i.instance_id.startswith("i-") and len(i.instance_id) == 19 for i in insts)
        waiting = jobs[4]
        await wait_for(rt, lambda: (waiting.status_reason or "").startswith("WAITING"))
        assert "maxvCpus 8" in (waiting.status_reason or "")
        # Each attempt names its instance, as ECS's containerInstanceArn does.
        on = {j.job_id: str(j.attempts[-1].instance_id) for j in jobs[:4]}
        assert sorted(on.values()) == sorted(i.instance_id for i in insts)
        detail = jobs[0].to_detail()
        assert detail["container"]["containerInstanceArn"].endswith("/" + str(on[jobs[0].job_id]))
        # One finishes: the waiting job takes its instance (no launch, no retirement).
        fake.finish(jobs[0].attempts[-1].task_id)
        await wait_for(rt, lambda: waiting.status is S.RUNNING)
        assert waiting.attempts[-1].instance_id == on[jobs[0].job_id]
        assert len(rt.instances()) == 4
        # Everything finishes: idle instances retire, down to minvCpus (one c5.large).
        for j in jobs[1:]:
            fake.finish(j.attempts[-1].task_id)
        await wait_status(rt, jobs)
        await until_instances(rt, lambda: len(rt.instances()) == 1)
        assert rt.pools["fleet"].used_vcpus == 0
        await rt.store.flush()
        stored = await rt.store.live_instances()
        assert [r.instance_id for r in stored] == [rt.instances()[0].instance_id]


def total_vcpus(rt: Runtime, ce: str = "fleet") -> int:
    return round(sum(i.vcpus for i in rt.instances(ce)))


async def demand_then_idle(
    rt: Runtime, fake: FakeExecutor, clock: FakeClock, n: int, desired: int, idle_s: float
) -> None:
    """`n` jobs launch instances (desiredvCpus rises to `desired`), then all finish; the
    instances stay until `idle_s` has passed on `clock`, then retire (a scheduling pass is
    woken once the clock has moved, as the idle timer does)."""
    before = rt.desired_vcpus("fleet")
    jobs = [await rt.submit(req(f"j{i}")) for i in range(n)]
    await wait_for(rt, lambda: all(j.status is S.RUNNING for j in jobs))
    assert rt.desired_vcpus("fleet") == desired == total_vcpus(rt)
    assert desired > (before or 0)
    for j in jobs:
        fake.finish(j.attempts[-1].task_id)
    await wait_status(rt, jobs)
    assert all(j.status is S.SUCCEEDED for j in jobs)
    rt.schedule_once()  # a pass at the time they finished: every instance is idle from now
    assert all(i.idle_since == int(clock.t * 1000) for i in rt.instances())
    clock.t += idle_s - 1
    rt.schedule_once()
    assert rt.desired_vcpus("fleet") == desired  # idle, but not for long enough yet
    clock.t += 2
    count = len(rt.instances())
    rt.wake()
    await until_instances(rt, lambda: len(rt.instances()) < count)


async def test_desired_vcpus_falls_back_to_zero_once_instances_retire(tmp_path: Path) -> None:
    fake, clock = FakeExecutor(manual), FakeClock()
    async with runtime(tmp_path, fake, setup=False, clock=clock) as rt:
        await setup(rt, managed_ce(max_vcpus=8, min_vcpus=0, idle=600), vcpus=2, memory=1024)
        assert rt.desired_vcpus("fleet") == 0 and rt.instances() == []
        await demand_then_idle(rt, fake, clock, n=3, desired=6, idle_s=600)
        assert rt.instances() == []
        assert rt.desired_vcpus("fleet") == 0 == rt.pools["fleet"].used_vcpus
        await rt.store.flush()
        assert await rt.store.live_instances() == []
        # Demand again: it rises again, and falls again.
        await demand_then_idle(rt, fake, clock, n=1, desired=2, idle_s=600)
        assert rt.desired_vcpus("fleet") == 0
        with pytest.raises(NotFoundError):
            rt.desired_vcpus("nope")


async def test_desired_vcpus_falls_back_to_the_min_vcpus_floor(tmp_path: Path) -> None:
    fake, clock = FakeExecutor(manual), FakeClock()
    async with runtime(tmp_path, fake, setup=False, clock=clock) as rt:
        await setup(rt, managed_ce(max_vcpus=8, min_vcpus=2, idle=600), vcpus=2, memory=1024)
        await until_instances(rt, lambda: len(rt.instances()) == 1)
        assert rt.desired_vcpus("fleet") == 2
        await demand_then_idle(rt, fake, clock, n=4, desired=8, idle_s=600)
        await until_instances(rt, lambda: total_vcpus(rt) <= 2)
        assert rt.desired_vcpus("fleet") == 2 == total_vcpus(rt)  # minvCpus, not below
        (kept,) = rt.instances()
        assert kept.instance_type == "c5.large" and kept.jobs == ()
        # Idle for ever after, it stays: it covers minvCpus.
        clock.t += 100 * 600
        rt.schedule_once()
        assert [i.instance_id for i in rt.instances()] == [kept.instance_id]
        assert rt.desired_vcpus("fleet") == 2
        await rt.store.flush()
        assert [r.instance_id for r in await rt.store.live_instances()] == [kept.instance_id]


async def test_the_instance_kept_for_min_vcpus_is_the_smallest_that_covers_it(
    tmp_path: Path,
) -> None:
    """The minvCpus instance goes idle first and is due first; a larger instance launched
    for a bigger job goes idle later. The smaller one stays (2 vCPUs, as minvCpus asks),
    the larger retires: desiredvCpus falls to 2, not 4."""
    fake, clock = FakeExecutor(manual), FakeClock()
    async with runtime(tmp_path, fake, setup=False, clock=clock) as rt:
        await setup(rt, managed_ce(max_vcpus=8, min_vcpus=2, idle=600), vcpus=4, memory=1024)
        await until_instances(rt, lambda: len(rt.instances()) == 1)
        (small,) = rt.instances()
        assert small.instance_type == "c5.large"
        big_job = await rt.submit(req("big"))  # 4 vCPUs: a c5.xlarge is launched for it
        await wait_for(rt, lambda: big_job.status is S.RUNNING)
        assert rt.desired_vcpus("fleet") == 6
        clock.t += 300
        fake.finish(big_job.attempts[-1].task_id)
        await wait_status(rt, [big_job])
        rt.schedule_once()  # the c5.xlarge is idle from now; the c5.large for 300 s already
        clock.t += 301  # the c5.large is past its idle time, the c5.xlarge not yet
        rt.schedule_once()
        assert {i.instance_type for i in rt.instances()} == {"c5.large", "c5.xlarge"}
        clock.t += 300  # now the c5.xlarge is too
        rt.wake()
        await until_instances(rt, lambda: len(rt.instances()) == 1)
        assert [i.instance_id for i in rt.instances()] == [small.instance_id]
        assert rt.desired_vcpus("fleet") == 2


async def test_instances_and_attempt_hosts_survive_a_restart(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, setup=False) as rt:
        await setup(rt, managed_ce(idle=600), vcpus=2)
        job = await rt.submit(req("a"))
        await wait_for(rt, lambda: job.status is S.RUNNING)
        before = [i.instance_id for i in rt.instances()]
        fake.finish(job.attempts[-1].task_id)
        await wait_status(rt, [job])
    async with runtime(tmp_path, FakeExecutor(manual), setup=False) as rt:
        assert [i.instance_id for i in rt.instances()] == before
        (stored,) = await rt.get_jobs([job.job_id])
        assert stored.attempts[-1].instance_id == before[0]
        again = await rt.submit(req("b"))
        await wait_for(rt, lambda: again.status is S.RUNNING)
        assert again.attempts[-1].instance_id == before[0]  # the restored instance is used


RETRY_ON_HOST = {
    "attempts": 3,
    "evaluateOnExit": [
        {"onStatusReason": "Host EC2*", "action": "RETRY"},
        {"onReason": "*", "action": "EXIT"},
    ],
}


async def test_spot_reclaim_ends_a_running_process_and_the_rule_retries_it(
    tmp_path: Path,
) -> None:
    async with runtime(tmp_path, setup=False) as rt:  # the real process executor
        ce = managed_ce("spot", kind="SPOT", strategy="SPOT_CAPACITY_OPTIMIZED", max_vcpus=4)
        await setup(rt, ce, command=[sys.executable, "-c", "import time; time.sleep(60)"], vcpus=1)
        job = await rt.submit(req("a", retryStrategy=RETRY_ON_HOST))
        plain = await rt.submit(req("b"))  # no retry strategy: fails for good
        await wait_for(rt, lambda: job.status is S.RUNNING and plain.status is S.RUNNING)
        first = job.attempts[-1].instance_id
        assert first is not None and plain.attempts[-1].instance_id == first  # packed
        (inst,) = rt.instances()
        assert inst.spot and sorted(j for j, _ in inst.jobs) == sorted([job.job_id, plain.job_id])
        rt.reclaim_instance(first)
        assert rt.instances() == [] or first not in {i.instance_id for i in rt.instances()}
        await wait_status(rt, [plain])
        assert plain.status is S.FAILED
        expected = f"Host EC2 (instance {first}) terminated."
        assert plain.status_reason == reclaim_reason(first) == expected
        # The rule retried the other one, on a new instance.
        await wait_for(rt, lambda: job.status is S.RUNNING and len(job.attempts) == 2)
        one, two = job.attempts
        assert one.status_reason == reclaim_reason(first) and one.exit_code is None
        assert two.instance_id not in (None, first)
        assert one.to_aws()["statusReason"] == f"Host EC2 (instance {first}) terminated."
        with pytest.raises(NotFoundError):
            rt.reclaim_instance(first)
        await rt.terminate_job(job.job_id, "done")
        await wait_status(rt, [job])


async def test_on_demand_instances_and_hosts_are_not_reclaimed(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(manual), setup=False) as rt:
        await setup(rt, managed_ce(min_vcpus=2))
        await until_instances(rt, lambda: len(rt.instances()) == 1)
        with pytest.raises(ClientError, match="only Spot instances"):
            rt.reclaim_instance(rt.instances()[0].instance_id)
        # Deleting the compute environment retires its instances for good.
        await rt.update_job_queue("q", {"state": "DISABLED"})
        await rt.delete_job_queue("q")
        await rt.update_compute_environment("fleet", {"state": "DISABLED"})
        await rt.delete_compute_environment("fleet")
        assert rt.instances() == []
        await rt.store.flush()
        assert await rt.store.live_instances() == []


async def test_spot_instances_are_reclaimed_at_the_configured_rate(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, setup=False) as rt:
        rt.rng = random.Random(7)
        ce = managed_ce("spot", kind="SPOT", max_vcpus=2, spotReclaimRate=3600, idle=600)
        await setup(rt, ce)
        job = await rt.submit(req("a", retryStrategy=RETRY_ON_HOST))
        await wait_for(rt, lambda: len(job.attempts) >= 2, timeout=30)
        first = job.attempts[0]
        assert first.status_reason == reclaim_reason(str(first.instance_id))
        await rt.terminate_job(job.job_id, "done")
        await wait_status(rt, [job])


async def test_unmanaged_hosts_take_jobs_on_each(tmp_path: Path) -> None:
    async with runtime(tmp_path, setup=False) as rt:  # real processes
        ce = ComputeEnvironment.model_validate(
            {
                "computeEnvironmentName": "mine",
                "type": "UNMANAGED",
                "hosts": [
                    {"name": "left", "vcpus": 1, "memory": 512},
                    {"name": "right", "vcpus": 1, "memory": 512},
                ],
            }
        )
        await setup(rt, ce, command=[sys.executable, "-c", "import time; time.sleep(0.3)"])
        jobs = [await rt.submit(req(f"j{i}")) for i in range(4)]
        await wait_status(rt, jobs)
        assert all(j.status is S.SUCCEEDED for j in jobs)
        hosts = {i.instance_id: str(i.host) for i in rt.instances()}
        assert sorted(hosts.values()) == ["left", "right"]
        used = {j.attempts[-1].instance_id for j in jobs}
        assert used == set(hosts)  # both hosts ran jobs
        with pytest.raises(ClientError, match="declared host"):
            rt.reclaim_instance(next(iter(hosts)))
