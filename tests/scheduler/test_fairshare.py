"""Fair share, pure: the window, weights, reservation and usage ledger from tables, the order
of dispatch, and a discrete-event simulation on a fake clock showing that weight 0.5 gets
twice the vCPU-seconds of weight 1.0."""

from __future__ import annotations

import heapq
import itertools
import random
from typing import Any

import pytest

from abatch.model.enums import JobStatus as S
from abatch.model.job import Attempt, JobRecord
from abatch.model.policy import FairsharePolicy
from abatch.scheduler.fairshare import (
    MAX_ACTIVE,
    ShareQueue,
    reserved_vcpus,
    weights,
    window_ms,
)
from abatch.scheduler.placement import CapacityPool, QueueView, plan
from abatch.scheduler.usage import Usage

_seq = itertools.count()


def policy(**kw: Any) -> FairsharePolicy:
    return FairsharePolicy.model_validate(kw)


def job(ident: str, vcpus: float = 1, priority: int | None = None) -> JobRecord:
    n = next(_seq)
    spec: dict[str, Any] = {"shareIdentifier": ident}
    if priority is not None:
        spec["schedulingPriority"] = priority
    return JobRecord(
        job_id=f"{ident}-{n}",
        job_name=f"{ident}-{n}",
        job_queue="q",
        job_definition="d:1",
        status=S.RUNNABLE,
        created_at=0,
        seq=n,
        vcpus=vcpus,
        memory=1,
        gpus=0,
        spec=spec,
    )


def add(sq: ShareQueue, j: JobRecord) -> JobRecord:
    sq.enter(j)
    sq.push(j)
    return j


def start(sq: ShareQueue, j: JobRecord, now: int) -> None:
    j.attempts.append(Attempt(len(j.attempts) + 1, "ce", "t", "s", now, started_at=now))
    for to in (S.STARTING, S.RUNNING):
        before, j.status = j.status, to
        sq.note(j, before, to, now)


def end(sq: ShareQueue, j: JobRecord, now: int) -> None:
    j.attempts[-1].stopped_at = now
    j.status = S.SUCCEEDED
    sq.note(j, S.RUNNING, S.SUCCEEDED, now)


# ---------------------------------------------------------------------- tables


@pytest.mark.parametrize(
    ("decay", "window_s"),
    [(None, 600), (0, 600), (1, 600), (600, 600), (601, 601), (3600, 3600), (604800, 604800)],
)
def test_window_is_decay_with_a_600_second_minimum(decay: int | None, window_s: int) -> None:
    assert window_ms(policy(shareDecaySeconds=decay)) == window_s * 1000
    assert window_ms(None) == 600_000


def test_weights_exact_prefix_and_default() -> None:
    p = policy(
        shareDistribution=[
            {"shareIdentifier": "UserA*", "weightFactor": 0.5},
            {"shareIdentifier": "B", "weightFactor": 0.25},
            {"shareIdentifier": "C"},
        ]
    )
    got = weights(p, ["UserA1", "UserA2", "UserA3", "B", "C", "D", "UserB"])
    # The prefix group shares its weight: each of its 3 active members weighs 0.5 x 3.
    assert got == {
        "UserA1": 1.5,
        "UserA2": 1.5,
        "UserA3": 1.5,
        "B": 0.25,
        "C": 1.0,
        "D": 1.0,
        "UserB": 1.0,
    }
    assert weights(p, ["UserA9"]) == {"UserA9": 0.5}
    assert weights(None, ["x"]) == {"x": 1.0}


@pytest.mark.parametrize(
    ("reservation", "active", "held_back"),
    [(None, 1, 0.0), (0, 3, 0.0), (50, 1, 8.0), (50, 2, 4.0), (50, 3, 2.0), (99, 1, 15.84)],
)
def test_reservation_is_c_percent_to_the_power_of_active(
    reservation: int | None, active: int, held_back: float
) -> None:
    got = reserved_vcpus(policy(computeReservation=reservation), active, 16)
    assert got == pytest.approx(held_back)


def test_usage_ledger_matches_the_definition() -> None:
    """Random attempts against a brute-force sum of vcpus x seconds inside the window."""
    rng = random.Random(7)
    window = 600_000
    ledger = Usage()
    attempts: list[tuple[float, int, int | None]] = []  # (vcpus, start, stop)
    running: dict[str, int] = {}
    now = 0
    for step in range(2000):
        now += rng.randint(0, 40_000)
        if running and rng.random() < 0.5:
            key = rng.choice(sorted(running))
            i = running.pop(key)
            v, s, _ = attempts[i]
            attempts[i] = (v, s, now)
            ledger.stop(key, now)
        else:
            v = rng.choice([0.25, 1, 2, 4])
            running[f"k{step}"] = len(attempts)
            attempts.append((v, now, None))
            ledger.start(f"k{step}", v, now)
        cut = now - window
        expected = sum(
            v * max(0, min(stop if stop is not None else now, now) - max(s, cut)) / 1000
            for v, s, stop in attempts
        )
        assert ledger.usage_s(now, window) == pytest.approx(expected, abs=1e-6)


def test_usage_of_finished_attempts_leaves_with_the_window() -> None:
    ledger = Usage()
    ledger.finished(2000, 0, 100_000)  # 2 vCPU for 100 s
    assert ledger.usage_s(100_000, 600_000) == 200
    assert ledger.usage_s(650_000, 600_000) == 100  # half of it is still inside
    assert ledger.usage_s(700_000, 600_000) == 0
    assert ledger.empty


# ---------------------------------------------------------------------- order


def test_lowest_weighted_usage_goes_first_and_is_ranked_again_after_each_placement() -> None:
    sq = ShareQueue(policy(shareDistribution=[{"shareIdentifier": "B", "weightFactor": 0.5}]))
    a = [add(sq, job("A")) for _ in range(3)]
    b = [add(sq, job("B")) for _ in range(3)]
    # No usage yet: ties go to fewer vCPUs held x weight, then the oldest job, so B (weight
    # 0.5) takes two places for each of A's.
    assert sq.peek(0, 6) == [a[0], b[0], b[1], a[1], b[2], a[2]]
    # A used 100 vCPU-s, B 150 (weighted 75): B goes first while it has jobs.
    sq.add_finished("A", 1, 0, 100_000)
    sq.add_finished("B", 1, 0, 150_000)
    assert sq.peek(200_000, 6) == [b[0], b[1], b[2], a[0], a[1], a[2]]


def test_scheduling_priority_orders_jobs_inside_one_identifier_only() -> None:
    sq = ShareQueue(policy())
    low = add(sq, job("A", priority=1))
    high = add(sq, job("A", priority=9))
    plain = add(sq, job("A"))
    other = add(sq, job("B", priority=0))
    order = sq.peek(0, 4)
    assert [j for j in order if j.spec["shareIdentifier"] == "A"] == [high, low, plain]
    assert order[1] is other  # B's turn comes by usage, whatever A's priorities are


def test_dispatch_takes_each_job_asked_past_as_placed() -> None:
    sq = ShareQueue(policy())
    a1, a2 = add(sq, job("A")), add(sq, job("A"))
    b1 = add(sq, job("B"))
    pools = {"ce": CapacityPool("ce", True, 2, 100, 0)}
    result = plan([QueueView("q", 1, ["ce"], sq.dispatch(0))], pools)
    assert [p.job for p in result.placements] == [a1, b1]
    assert [w.job for w in result.waits] == [a2]
    for p in result.placements:
        start(sq, p.job, 0)
    assert sq.peek(0, 5) == [a2]


def test_compute_reservation_holds_capacity_back_for_new_identifiers() -> None:
    sq = ShareQueue(policy(computeReservation=50))
    pools = {"ce": CapacityPool("ce", True, 4, 100, 0)}
    for _ in range(4):
        add(sq, job("A"))
    cap = sq.cap(0, 4)
    assert cap == 2  # one active identifier: 50% of 4 vCPUs held back
    result = plan([QueueView("q", 1, ["ce"], sq.dispatch(0), cap)], pools)
    assert len(result.placements) == 2
    assert result.waits[0].reason.startswith("WAITING_FOR_CAPACITY - ")
    assert "computeReservation" in result.waits[0].reason
    for p in result.placements:
        start(sq, p.job, 0)
    b = add(sq, job("B"))  # a second identifier: 25% held back, so 1 more vCPU, for B
    cap = sq.cap(1000, 4)
    assert cap == 1
    result = plan([QueueView("q", 1, ["ce"], sq.dispatch(1000), cap)], pools)
    assert [p.job for p in result.placements] == [b]


def test_at_most_500_active_identifiers() -> None:
    sq = ShareQueue(policy(shareDecaySeconds=600))
    for i in range(MAX_ACTIVE):
        sq.enter(job(f"u{i}"))
    assert sq.admits(["u1", "u499"], 0) is None
    problem = sq.admits(["new"], 0)
    assert problem is not None and "at most 500 active share identifiers" in problem
    # Finished identifiers stay active for the decay window after their last attempt.
    j = job("u0")
    start(sq, j, 0)
    end(sq, j, 10_000)
    for i in range(MAX_ACTIVE):
        sq.shares[f"u{i}"].live = 0
    assert sq.admits([f"x{i}" for i in range(MAX_ACTIVE)], 500_000) is not None
    assert sq.admits([f"x{i}" for i in range(MAX_ACTIVE)], 700_000) is None


# ---------------------------------------------------------------------- simulation


def simulate(
    shares: dict[str, float], hours: float, vcpus: int = 2, seconds: int = 60, decay: int = 0
) -> dict[str, float]:
    """A discrete-event loop on a fake clock: `vcpus` 1-vCPU slots, every identifier always
    has RUNNABLE jobs of `seconds`; returns the vCPU-seconds each identifier got."""
    dist = [{"shareIdentifier": k, "weightFactor": w} for k, w in shares.items()]
    sq = ShareQueue(policy(shareDecaySeconds=decay, shareDistribution=dist))
    pools = {"ce": CapacityPool("ce", True, vcpus, 10**6, 0)}
    for ident in shares:
        for _ in range(vcpus + 1):
            add(sq, job(ident))
    got = dict.fromkeys(shares, 0.0)
    ends: list[tuple[int, str, JobRecord]] = []
    now, stop = 0, int(hours * 3600_000)
    while now < stop:
        for place in plan([QueueView("q", 1, ["ce"], sq.dispatch(now))], pools).placements:
            start(sq, place.job, now)
            heapq.heappush(ends, (now + seconds * 1000, place.job.job_id, place.job))
            add(sq, job(place.job.spec["shareIdentifier"]))  # the stream never runs dry
        now = ends[0][0]
        while ends and ends[0][0] == now:
            _, _, done = heapq.heappop(ends)
            end(sq, done, now)
            pools["ce"].give(done)
            got[done.spec["shareIdentifier"]] += done.vcpus * seconds
    return got


def test_weight_half_gets_twice_the_vcpu_seconds() -> None:
    """The issue's acceptance figure: weights 1 and 0.5, a long stream of equal jobs (60 s,
    1 vCPU) on 2 vCPUs for 8 simulated hours, decay window 3600 s: ratio 2.0 +/- 0.2
    (measured 1.98)."""
    got = simulate({"A": 1.0, "B": 0.5}, hours=8, decay=3600)
    assert got["B"] / got["A"] == pytest.approx(2.0, abs=0.2)
    assert got["A"] + got["B"] == pytest.approx(8 * 3600 * 2, rel=0.01)  # never idle


def test_weight_quarter_gets_four_times() -> None:
    got = simulate({"A": 1.0, "B": 0.25}, hours=8, decay=3600)
    assert got["B"] / got["A"] == pytest.approx(4.0, abs=0.4)


def test_a_short_window_coarsens_the_split() -> None:
    """With the default 600 s window only 20 job-lengths fit in it, and whole jobs make the
    split coarse (measured 1.75): documented, and held here so a change shows up."""
    got = simulate({"A": 1.0, "B": 0.5}, hours=8)
    assert 1.5 < got["B"] / got["A"] < 2.1
