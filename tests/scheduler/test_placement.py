"""Placement decisions as tables: queues and pools in, placements and waits out."""

from __future__ import annotations

from collections import deque

import pytest

from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.scheduler.placement import (
    REASON_MAX_CPU,
    REASON_NO_CE,
    REASON_RESOURCE,
    CapacityPool,
    QueueView,
    plan,
)


def job(
    jid: str,
    vcpus: float = 1,
    memory: int = 100,
    gpus: int = 0,
    status: JobStatus = JobStatus.RUNNABLE,
) -> JobRecord:
    return JobRecord(
        job_id=jid,
        job_name=jid,
        job_queue="q",
        job_definition="d:1",
        status=status,
        created_at=0,
        seq=0,
        vcpus=vcpus,
        memory=memory,
        gpus=gpus,
        spec={},
    )


def pool(
    name: str,
    vcpus: float,
    memory: int = 1000,
    gpus: int = 0,
    enabled: bool = True,
    used: float = 0,
) -> CapacityPool:
    return CapacityPool(name, enabled, vcpus, memory, gpus, used_vcpus=used)


Decisions = tuple[list[tuple[str, str]], list[tuple[str, str]]]


def decide(
    queues: list[tuple[str, int, list[str], list[JobRecord]]], pools: list[CapacityPool]
) -> Decisions:
    p = plan(
        [QueueView(n, prio, ces, deque(jobs)) for n, prio, ces, jobs in queues],
        {x.name: x for x in pools},
    )
    return (
        [(d.job.job_id, d.ce) for d in p.placements],
        [(w.job.job_id, w.reason.split(" - ")[0]) for w in p.waits],
    )


CASES = [
    pytest.param(
        [("q", 1, ["ce"], [job("a"), job("b"), job("c")])],
        [pool("ce", 2)],
        [("a", "ce"), ("b", "ce")],
        [("c", "WAITING_FOR_CAPACITY")],
        id="fifo-until-full",
    ),
    pytest.param(
        [("low", 1, ["ce"], [job("l1")]), ("high", 10, ["ce"], [job("h1"), job("h2")])],
        [pool("ce", 2)],
        [("h1", "ce"), ("h2", "ce")],
        [("l1", "WAITING_FOR_CAPACITY")],
        id="higher-priority-first",
    ),
    pytest.param(
        [("high", 10, ["ce"], [job("h1", vcpus=2)]), ("low", 1, ["ce"], [job("l1")])],
        [pool("ce", 2, used=1)],
        [("l1", "ce")],
        [("h1", "WAITING_FOR_CAPACITY")],
        id="lower-priority-takes-what-head-cannot-use",
    ),
    pytest.param(
        [("q", 1, ["ce"], [job("big", vcpus=4), job("small")])],
        [pool("ce", 2)],
        [],
        [("big", "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE")],
        id="never-fits-blocks-queue",
    ),
    pytest.param(
        [("q", 1, ["ce"], [job("fat", memory=5000)])],
        [pool("ce", 8, memory=1000)],
        [],
        [("fat", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")],
        id="memory-never-fits",
    ),
    pytest.param(
        [("q", 1, ["ce"], [job("g", gpus=1)])],
        [pool("ce", 8)],
        [],
        [("g", "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")],
        id="gpu-never-fits",
    ),
    pytest.param(
        [("q", 1, ["a", "b"], [job("j1", vcpus=2), job("j2", vcpus=2)])],
        [pool("a", 2), pool("b", 4)],
        [("j1", "a"), ("j2", "b")],
        [],
        id="compute-environments-in-order",
    ),
    pytest.param(
        [("q", 1, ["a", "b"], [job("j1")])],
        [pool("a", 2, enabled=False), pool("b", 2)],
        [("j1", "b")],
        [],
        id="disabled-ce-skipped",
    ),
    pytest.param(
        [("q", 1, ["a"], [job("j1")])],
        [pool("a", 2, enabled=False)],
        [],
        [("j1", "WAITING_FOR_CAPACITY")],
        id="only-ce-disabled-waits",
    ),
    pytest.param(
        [("q", 1, ["gone"], [job("j1")])],
        [],
        [],
        [("j1", "ACTION_REQUIRED")],
        id="no-compute-environment",
    ),
    pytest.param(
        [("q", 1, ["ce"], [job("x", status=JobStatus.FAILED), job("a")])],
        [pool("ce", 1)],
        [("a", "ce")],
        [],
        id="skips-entries-no-longer-runnable",
    ),
    pytest.param(
        [("q", 1, ["ce"], [job("a", vcpus=0.5), job("b", vcpus=0.5), job("c", vcpus=0.5)])],
        [pool("ce", 1)],
        [("a", "ce"), ("b", "ce")],
        [("c", "WAITING_FOR_CAPACITY")],
        id="fractional-vcpus",
    ),
]


@pytest.mark.parametrize(("queues", "pools", "placed", "waits"), CASES)
def test_plan(queues, pools, placed, waits) -> None:  # type: ignore[no-untyped-def]
    assert decide(queues, pools) == (placed, waits)


def test_plan_takes_capacity_in_the_pools() -> None:
    ce = pool("ce", 4, memory=1000)
    plan([QueueView("q", 1, ["ce"], deque([job("a", 3, 600)]))], {"ce": ce})
    assert (ce.used_vcpus, ce.used_memory) == (3, 600)
    ce.give(job("a", 3, 600))
    assert (ce.used_vcpus, ce.used_memory) == (0, 0)


def test_reasons_are_the_aws_strings() -> None:
    assert REASON_MAX_CPU.startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - ")
    assert REASON_RESOURCE.startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - ")
    assert REASON_NO_CE.startswith("ACTION_REQUIRED - ")


def test_waiting_reason_says_what_is_needed_and_free() -> None:
    p = plan(
        [QueueView("q", 1, ["ce"], deque([job("a", 2, 300)]))],
        {"ce": pool("ce", 2, memory=1000, used=1)},
    )
    reason = p.waits[0].reason
    assert "needs 2 vCPU, 300 MiB" in reason
    assert "ce has 1 of 2 vCPU" in reason


def test_plan_cost_does_not_grow_with_the_queue() -> None:
    """The head does not fit: the other 100,000 jobs are never looked at."""

    class Counting(deque[JobRecord]):
        seen = 0

        def __iter__(self):  # type: ignore[no-untyped-def]
            for item in super().__iter__():
                Counting.seen += 1
                yield item

    q = Counting(job(f"j{i}") for i in range(100_000))
    plan([QueueView("q", 1, ["ce"], q)], {"ce": pool("ce", 1, used=1)})
    assert Counting.seen == 1


def test_unavailable_compute_environment_is_skipped_and_named() -> None:
    down = pool("a", 4)
    down.unavailable = "DockerTimeoutError: cannot reach the Docker engine"
    p = plan([QueueView("q", 1, ["a"], deque([job("j")]))], {"a": down})
    assert not p.placements
    assert "a unavailable: DockerTimeoutError" in p.waits[0].reason
    p = plan([QueueView("q", 1, ["a", "b"], deque([job("j")]))], {"a": down, "b": pool("b", 1)})
    assert [(d.job.job_id, d.ce) for d in p.placements] == [("j", "b")]


def test_a_job_listed_twice_is_placed_once() -> None:
    j = job("dup")
    p = plan([QueueView("q", 1, ["ce"], deque([j, j, job("next")]))], {"ce": pool("ce", 4)})
    assert [d.job.job_id for d in p.placements] == ["dup", "next"]
