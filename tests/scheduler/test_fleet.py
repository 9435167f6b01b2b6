"""Instances as tables: jobs in, (instance type launched, placements, waits) out, for each
allocation strategy; then scaling (minvCpus, idle retirement) on a simulated clock."""

from __future__ import annotations

from collections import deque
from itertools import count

import pytest

from abatch.model.catalog import CATALOG, expand_instance_types, unknown_instance_type
from abatch.model.enums import AllocationStrategy, JobStatus
from abatch.model.job import JobRecord
from abatch.scheduler.fleet import Fleet, Instance, reclaim_delay_s
from abatch.scheduler.placement import CapacityPool, Plan, QueueView, plan

A = AllocationStrategy
BF, BFP, SCO, SPCO = (
    A.BEST_FIT,
    A.BEST_FIT_PROGRESSIVE,
    A.SPOT_CAPACITY_OPTIMIZED,
    A.SPOT_PRICE_CAPACITY_OPTIMIZED,
)


def job(jid: str, vcpus: float = 1, memory: int = 1000, gpus: int = 0) -> JobRecord:
    return JobRecord(
        job_id=jid,
        job_name=jid,
        job_queue="q",
        job_definition="d:1",
        status=JobStatus.RUNNABLE,
        created_at=0,
        seq=0,
        vcpus=vcpus,
        memory=memory,
        gpus=gpus,
        spec={},
    )


def managed(
    types: list[str],
    strategy: AllocationStrategy = BF,
    max_vcpus: float = 16,
    min_vcpus: float = 0,
    idle_ms: int = 1000,
) -> CapacityPool:
    fleet = Fleet(
        managed=True,
        types=expand_instance_types(types),
        strategy=strategy,
        min_vcpus=min_vcpus,
        max_vcpus=max_vcpus,
        spot=strategy in (SCO, SPCO),
        idle_ms=idle_ms,
    )
    return CapacityPool("ce", True, max_vcpus, 10**9, 0, fleet=fleet)


_numbers = count(1)


def new_id() -> str:
    return f"i-{next(_numbers):017x}"


def run(pool: CapacityPool, jobs: list[JobRecord], now: int = 0) -> Plan:
    view = QueueView("q", 1, ["ce"], deque(jobs))
    return plan([view], {"ce": pool}, now, new_id)


def kinds(pool: CapacityPool, p: Plan) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    """(types launched, (job, type of its instance), wait codes)."""
    assert pool.fleet is not None
    by_id = {launch.instance.instance_id: launch.instance for launch in p.launches}
    by_id.update(pool.fleet.instances)
    return (
        [launch.instance.instance_type for launch in p.launches],
        [(d.job.job_id, by_id[d.instance].instance_type) for d in p.placements if d.instance],
        [w.reason.split(" - ")[0] for w in p.waits],
    )


WAIT = "WAITING_FOR_CAPACITY"
MAX_CPU = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
RESOURCE = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"
MEM_JOB = {"vcpus": 1, "memory": 6000}  # c5.xlarge (cheaper per vCPU) or m5.large (cheaper)

CASES = [
    # BEST_FIT: the cheapest type that holds the job; the next job packs onto it.
    (["c5"], BF, 16, [job("a"), job("b"), job("c")], ["c5.large", "c5.large"], None, 0),
    (["c5.xlarge", "m5.large"], BF, 16, [job("a", **MEM_JOB)], ["m5.large"], None, 0),
    # BEST_FIT_PROGRESSIVE: the lowest price per vCPU.
    (["c5.xlarge", "m5.large"], BFP, 16, [job("a", **MEM_JOB)], ["c5.xlarge"], None, 0),
    # SPOT_CAPACITY_OPTIMIZED: the largest type within maxvCpus.
    (["c5.large", "m5.2xlarge"], SCO, 16, [job("a")], ["m5.2xlarge"], None, 0),
    (["c5"], SCO, 40, [job("a")], ["c5.9xlarge"], None, 0),
    # SPOT_PRICE_CAPACITY_OPTIMIZED: the lowest price per vCPU, then the largest.
    (["c5.large", "m5.2xlarge"], SPCO, 16, [job("a")], ["c5.large"], None, 0),
    (["c5", "m5"], SPCO, 16, [job("a")], ["c5.4xlarge"], None, 0),
    # maxvCpus: BEST_FIT never goes past it; the others by at most one instance.
    (["c5"], BF, 3, [job("a", 2), job("b", 2)], ["c5.large"], WAIT, 0),
    (["c5"], BFP, 3, [job("a", 2), job("b", 2), job("c", 2)], ["c5.large", "c5.large"], WAIT, 0),
    (["c5"], SCO, 3, [job("a", 2), job("b", 2), job("c", 2)], ["c5.large", "c5.large"], WAIT, 0),
    # A job no allowed type can hold, or larger than maxvCpus, blocks (MISCONFIGURATION).
    (["c5.large"], BF, 16, [job("a", 4)], [], MAX_CPU, 0),
    (["c5"], BF, 3, [job("a", 3)], [], MAX_CPU, 0),
    (["c5"], BFP, 3, [job("a", 3)], ["c5.xlarge"], None, 0),
    (["c5"], SPCO, 8, [job("a", 9)], [], MAX_CPU, 0),
    (["c5"], BF, 16, [job("a", 1, 300_000)], [], RESOURCE, 0),
    (["optimal"], BF, 16, [job("a", gpus=1)], [], RESOURCE, 0),
    (["optimal", "g4dn"], BF, 16, [job("a", gpus=1)], ["g4dn.xlarge"], None, 0),
    (["p3"], BF, 64, [job("a", gpus=4)], ["p3.8xlarge"], None, 0),
]


@pytest.mark.parametrize(
    ("types", "strategy", "max_vcpus", "jobs", "launched", "wait", "_"),
    CASES,
    ids=[f"{c[1].value}-{'+'.join(c[0])}-max{c[2]}-{len(c[3])}jobs" for c in CASES],
)
def test_launch_table(
    types: list[str],
    strategy: AllocationStrategy,
    max_vcpus: float,
    jobs: list[JobRecord],
    launched: list[str],
    wait: str | None,
    _: int,
) -> None:
    pool = managed(types, strategy, max_vcpus)
    p = run(pool, jobs)
    got_launched, placed, waits = kinds(pool, p)
    assert got_launched == launched
    assert waits == ([wait] if wait else [])
    assert len(placed) == len(jobs) - len(waits)
    assert pool.fleet is not None
    total = pool.fleet.total_vcpus
    if strategy is BF:
        assert total <= max_vcpus
    else:  # at most one instance past maxvCpus
        biggest = max((i.vcpus for i in pool.fleet.instances.values()), default=0)
        assert total < max_vcpus + biggest


def test_jobs_pack_tightest_first() -> None:
    pool = managed(["c5"], BF, 16)
    assert pool.fleet is not None
    small = pool.fleet.launch(CATALOG["c5.large"], "i-10000000000000001", 0)
    big = pool.fleet.launch(CATALOG["c5.2xlarge"], "i-10000000000000002", 1)
    p = run(pool, [job("a", 2), job("b", 1), job("c", 4)])
    assert [(d.job.job_id, d.instance) for d in p.placements] == [
        ("a", small.instance_id),  # fills the small one exactly
        ("b", big.instance_id),
        ("c", big.instance_id),
    ]
    assert p.launches == []
    assert big.used_vcpus == 5 and big.jobs == {"b", "c"}


def test_min_vcpus_are_kept_and_idle_instances_retire_after_the_idle_time() -> None:
    pool = managed(["c5"], BF, max_vcpus=16, min_vcpus=4, idle_ms=1000)
    assert pool.fleet is not None
    fleet = pool.fleet
    p = run(pool, [])
    assert [i.instance.instance_type for i in p.launches] == ["c5.large", "c5.large"]
    assert fleet.total_vcpus == 4
    # Demand: three 2-vCPU jobs use both and launch a third instance.
    jobs = [job("a", 2), job("b", 2), job("c", 2)]
    p = run(pool, jobs, now=10)
    assert len(p.placements) == 3 and len(p.launches) == 1 and fleet.total_vcpus == 6
    for j in jobs:
        j.status = JobStatus.RUNNING
    # All finish: the first pass marks them idle and says when to look again.
    for j in jobs:
        pool.give(j)
    p = run(pool, [], now=100)
    assert p.retirements == [] and p.wake_at == 1100
    p = run(pool, [], now=1099)
    assert p.retirements == []
    p = run(pool, [], now=1100)
    assert len(p.retirements) == 1  # down to minvCpus, not below
    assert fleet.total_vcpus == 4 and p.wake_at is None
    assert run(pool, [], now=999_999).retirements == []
    assert pool.used_vcpus == 0


@pytest.mark.parametrize("small_id", ["i-00000000000000001", "i-fffffffffffffffff"])
def test_the_idle_instances_kept_for_min_vcpus_are_the_fewest_vcpus_that_cover_it(
    small_id: str,
) -> None:
    """Whatever went idle first and whatever the ids, the fleet falls back to minvCpus when
    an instance of that size is there: the c5.large stays, both c5.xlarge retire."""
    pool = managed(["c5"], BF, max_vcpus=16, min_vcpus=2, idle_ms=1000)
    assert pool.fleet is not None
    fleet = pool.fleet
    fleet.launch(CATALOG["c5.large"], small_id, 0)
    fleet.launch(CATALOG["c5.xlarge"], "i-80000000000000001", 0)
    fleet.launch(CATALOG["c5.xlarge"], "i-80000000000000002", 0)
    assert run(pool, [], now=0).wake_at == 1000
    p = run(pool, [], now=1000)
    assert sorted(r.instance.instance_type for r in p.retirements) == ["c5.xlarge"] * 2
    assert list(fleet.instances) == [small_id] and fleet.total_vcpus == 2
    # Short of minvCpus with what is idle: the one instance that covers 3 vCPUs on its own.
    pool = managed(["c5"], BF, max_vcpus=16, min_vcpus=3, idle_ms=1000)
    assert pool.fleet is not None
    pool.fleet.launch(CATALOG["c5.large"], small_id, 0)
    pool.fleet.launch(CATALOG["c5.xlarge"], "i-80000000000000001", 0)
    run(pool, [], now=0)
    p = run(pool, [], now=5000)
    assert [r.instance.instance_type for r in p.retirements] == ["c5.large"]
    assert pool.fleet.total_vcpus == 4 and p.launches == []
    # Two small ones cover minvCpus together: they stay, and the big one retires.
    pool = managed(["c5"], BF, max_vcpus=16, min_vcpus=4, idle_ms=1000)
    assert pool.fleet is not None
    pool.fleet.launch(CATALOG["c5.2xlarge"], "i-00000000000000000", 0)  # longest idle
    pool.fleet.launch(CATALOG["c5.large"], small_id, 1)
    pool.fleet.launch(CATALOG["c5.large"], "i-80000000000000001", 1)
    run(pool, [], now=2)
    p = run(pool, [], now=5000)
    assert [r.instance.instance_type for r in p.retirements] == ["c5.2xlarge"]
    assert pool.fleet.total_vcpus == 4 and p.launches == []


def test_an_idle_instance_is_used_before_it_retires() -> None:
    pool = managed(["c5"], BF, max_vcpus=16, idle_ms=1000)
    assert pool.fleet is not None
    first = job("a")
    run(pool, [first], now=0)
    first.status = JobStatus.SUCCEEDED
    pool.give(first)
    assert run(pool, [], now=10).wake_at == 1010
    p = run(pool, [job("b")], now=500)
    assert p.launches == [] and len(p.placements) == 1 and p.retirements == []
    assert run(pool, [], now=5000).retirements == []  # busy again: stays


def test_disabled_compute_environment_launches_nothing_for_jobs_but_keeps_min() -> None:
    pool = managed(["c5"], BF, max_vcpus=16, min_vcpus=2)
    pool.enabled = False
    p = run(pool, [job("a")])
    assert p.placements == [] and len(p.launches) == 1  # the minvCpus instance
    assert p.waits[0].reason.startswith(WAIT)


def test_declared_hosts_are_never_launched_or_retired() -> None:
    fleet = Fleet(managed=False)
    for n, v in (("a", 2), ("b", 2)):
        fleet.instances[f"i-{n * 17}"] = Instance(f"i-{n * 17}", "host", v, 4000, 0, host=n)
    pool = CapacityPool("ce", True, 4, 8000, 0, fleet=fleet)
    p = run(pool, [job("1", 2), job("2", 2), job("3", 2), job("4", 8)])
    assert sorted(d.instance or "" for d in p.placements) == ["i-" + "a" * 17, "i-" + "b" * 17]
    assert p.launches == [] and p.retirements == []
    assert [w.reason.split(" - ")[0] for w in p.waits] == [WAIT]
    blocked = run(pool, [job("5", 8)])
    assert blocked.waits[0].reason.startswith(MAX_CPU)


def test_catalog_names() -> None:
    assert unknown_instance_type("c5") is None
    assert unknown_instance_type("optimal") is None
    assert unknown_instance_type("g4dn.xlarge") is None
    problem = unknown_instance_type("x9.huge")
    assert problem is not None and "c5" in problem
    assert {t.family for t in expand_instance_types(["optimal"])} == {"c5", "m5", "r5"}
    assert expand_instance_types(["default_x86_64"]) == expand_instance_types(["optimal"])
    prices = [t.price for t in expand_instance_types(["c5", "m5.large"])]
    assert prices == sorted(prices)


def test_reclaim_delay() -> None:
    assert reclaim_delay_s(0, 0.5) is None
    one = reclaim_delay_s(60, 0.5)
    assert one is not None and 41 < one < 42  # ln 2 minutes
