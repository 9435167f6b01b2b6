"""The GPU ledger as tables: which ids a job takes, gives back, and what placement sees."""

from __future__ import annotations

import pytest

from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.scheduler.devices import (
    LOCAL_HOST,
    DeviceLedger,
    DeviceSlots,
    ce_device_ids,
    ce_gpu_count,
    host_key,
    split_ids,
)
from abatch.scheduler.placement import CapacityPool, QueueView, plan


@pytest.mark.parametrize(
    ("executor", "docker_host", "key"),
    [
        ("process", None, LOCAL_HOST),
        ("process", "tcp://gpu1:2375", LOCAL_HOST),  # a process runs here, whatever is named
        ("docker", None, LOCAL_HOST),
        ("docker", "unix:///var/run/docker.sock", LOCAL_HOST),
        ("docker", "tcp://gpu1:2375", "tcp://gpu1:2375"),
        ("docker", "ssh://me@gpu2", "ssh://me@gpu2"),
    ],
)
def test_host_key(executor: str, docker_host: str | None, key: str) -> None:
    assert host_key(executor, docker_host) == key


@pytest.mark.parametrize(
    ("declared", "count", "detected", "ids", "usable"),
    [
        (None, None, (), (), 0),  # nothing detected, nothing declared: no GPUs
        (None, 2, (), ("0", "1"), 2),  # declared count, nothing detected: ids 0..N-1
        (None, None, ("0", "1", "2"), ("0", "1", "2"), 3),  # default: every detected GPU
        (None, 2, ("0", "1", "2"), ("0", "1", "2"), 2),  # any of them, two at a time
        (None, 4, ("0", "1"), ("0", "1"), 2),  # never more than there are
        (["2", "3"], None, ("0", "1", "2", "3"), ("2", "3"), 2),  # declared ids win
        (["GPU-a"], 1, (), ("GPU-a",), 1),
        (None, 0, ("0",), ("0",), 0),  # gpus = 0 turns them off
    ],
)
def test_ce_device_ids(
    declared: list[str] | None,
    count: int | None,
    detected: tuple[str, ...],
    ids: tuple[str, ...],
    usable: int,
) -> None:
    assert ce_device_ids(declared, count, detected) == ids
    assert ce_gpu_count(count, ids) == usable


def test_take_give_hold_table() -> None:
    ledger = DeviceLedger()
    ids = ("0", "1", "2")
    steps: list[tuple[str, tuple[str, ...] | None]] = []
    steps.append(("a", ledger.take("h", ids, 2, "a")))
    steps.append(("b", ledger.take("h", ids, 2, "b")))  # only one left: refused, nothing taken
    steps.append(("c", ledger.take("h", ids, 1, "c")))
    steps.append(("a again", ledger.take("h", ids, 2, "a")))  # a holder keeps what it has
    steps.append(("other host", ledger.take("h2", ids, 3, "d")))  # hosts are separate
    assert steps == [
        ("a", ("0", "1")),
        ("b", None),
        ("c", ("2",)),
        ("a again", ("0", "1")),
        ("other host", ("0", "1", "2")),
    ]
    assert ledger.owners("h") == {"0": "a", "1": "a", "2": "c"}
    assert ledger.give("a") == ("0", "1")
    assert ledger.give("a") == ()  # twice is harmless
    assert ledger.take("h", ids, 2, "b") == ("0", "1")  # freed ids go to the next job
    assert ledger.give("c") == ("2",) and ledger.free("h", ids) == ["2"]
    # After a restart: an adopted attempt takes back exactly its ids, never another's.
    assert ledger.hold("h", ["2", "1"], "e") == ("2",)
    assert ledger.held("e") == ("2",) and ledger.held("zz") == ()
    assert ledger.hold("h", ["0"], "b") == ("0", "1")  # already holding: unchanged


@pytest.mark.parametrize(
    ("ids", "counts", "shares"),
    [
        (("0", "1", "2"), [1, 0, 2], [("0",), (), ("1", "2")]),
        (("0", "1"), [1, 1], [("0",), ("1",)]),
        (("0",), [1, 1], [("0",), ()]),
        ((), [0, 0], [(), ()]),
    ],
)
def test_split_ids(ids: tuple[str, ...], counts: list[int], shares: list[tuple[str, ...]]) -> None:
    assert split_ids(ids, counts) == shares


def job(i: int, gpus: int) -> JobRecord:
    return JobRecord(
        job_id=f"j{i}",
        job_name=f"j{i}",
        job_queue="q",
        job_definition="d:1",
        status=JobStatus.RUNNABLE,
        created_at=0,
        seq=i,
        vcpus=1,
        memory=1,
        gpus=gpus,
        spec={},
    )


def test_two_compute_environments_on_one_host_never_share_a_device() -> None:
    """Each compute environment promises 2 GPUs; the host has 2. Placement hands out each
    device once, and the third job waits although its compute environment's count has room."""
    ledger = DeviceLedger()
    pools = {
        name: CapacityPool(
            name, True, 8, 1000, 2, devices=DeviceSlots(ledger, LOCAL_HOST, ("0", "1"))
        )
        for name in ("a", "b")
    }
    jobs = [job(1, 1), job(2, 1), job(3, 1)]
    decisions = plan(
        [QueueView("qa", 2, ["a"], jobs[:2]), QueueView("qb", 1, ["b"], jobs[2:])], pools
    )
    assert [(p.job.job_id, p.ce) for p in decisions.placements] == [("j1", "a"), ("j2", "a")]
    assert ledger.owners(LOCAL_HOST) == {"0": "j1", "1": "j2"}
    (wait,) = decisions.waits
    assert wait.job.job_id == "j3" and not wait.blocked
    assert "b has 8 of 8 vCPU, 1000 of 1000 MiB, 0 of 2 GPU free" in wait.reason
    pools["a"].give(jobs[0])  # j1 ends: its device goes back
    jobs[0].status = JobStatus.SUCCEEDED
    decisions = plan([QueueView("qb", 1, ["b"], jobs[2:])], pools)
    assert [p.job.job_id for p in decisions.placements] == ["j3"]
    assert ledger.held("j3") == ("0",)
