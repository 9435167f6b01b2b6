"""Instances at run time: carrying out the plan's launches and retirements, Spot reclaims (on
command, or at a compute environment's `spot_reclaim_rate`), the idle timer, and the
instances as the UI, the API and the CLI read them.

The decisions are the scheduler's (fleet.py); this module records them (the store's
`instances` table, write-behind) and keeps the timers: one per Spot instance with a
reclaim rate, and one for the earliest idle instance due to retire.

A reclaim ends every attempt on the instance with `Host EC2 (instance i-…) terminated.` as
attempt and job status reason (reference §9); the job's own retry strategy then decides
(an `evaluateOnExit` rule on `Host EC2*` matches), and the scheduler launches new instances
for whatever waits.
"""

from __future__ import annotations

import asyncio
import random
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abatch.model.errors import ClientError, NotFoundError
from abatch.scheduler.fleet import Fleet, Instance, reclaim_delay_s
from abatch.scheduler.fleet_config import fleet_for
from abatch.store.sqlite import InstanceRow

if TYPE_CHECKING:
    from collections.abc import Callable

    from abatch.model.job import JobRecord
    from abatch.model.resources import ComputeEnvironment
    from abatch.scheduler.placement import CapacityPool, Plan
    from abatch.store.sqlite import SqliteStore

    from .attempts import Running
    from .registry import Registry

RETIRED_IDLE = "idle"
RETIRED_RECLAIMED = "reclaimed"
RETIRED_GONE = "compute environment changed or deleted"


def reclaim_reason(instance_id: str) -> str:
    """AWS's status reason for an attempt whose Spot host was taken back (reference §9)."""
    return f"Host EC2 (instance {instance_id}) terminated."


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """One instance (or declared host) and the jobs on it, as the readers see it."""

    instance_id: str
    compute_environment: str
    instance_type: str
    spot: bool
    vcpus: float
    memory: int
    gpus: int
    used_vcpus: float
    used_memory: int
    used_gpus: int
    price: float
    host: str | None
    host_key: str  # the machine: a Docker endpoint, or "local"
    launched_at: int
    idle_since: int | None
    jobs: tuple[tuple[str, str], ...]  # (job id, job name)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "instanceId": self.instance_id,
            "computeEnvironment": self.compute_environment,
            "instanceType": self.instance_type,
            "lifecycle": "spot" if self.spot else "on-demand",
            "vcpus": self.vcpus,
            "memory": self.memory,
            "gpus": self.gpus,
            "usedVcpus": self.used_vcpus,
            "usedMemory": self.used_memory,
            "usedGpus": self.used_gpus,
            "hostKey": self.host_key,
            "launchedAt": self.launched_at,
            "jobs": [{"jobId": j, "jobName": n} for j, n in self.jobs],
        }
        if self.price:
            out["onDemandPrice"] = self.price
        if self.host is not None:
            out["host"] = self.host
        if self.idle_since is not None:
            out["idleSince"] = self.idle_since
        return out


class InstancesMixin:
    registry: Registry
    store: SqliteStore
    pools: dict[str, CapacityPool]
    running: dict[str, Running]
    jobs: dict[str, JobRecord]
    _wake: asyncio.Event
    _kill: Callable[[Running, float], None]
    _now: Callable[[], int]  # the runtime's clock (injectable), epoch ms

    rng: random.Random
    _instances_event: asyncio.Event
    _reclaim_timers: dict[str, asyncio.TimerHandle]
    _scale_timer: asyncio.TimerHandle | None
    _scale_at: int | None

    def new_instance_id(self) -> str:
        return "i-" + secrets.token_hex(9)[:17]

    async def instances_changed(self) -> None:
        """Return at the next launch, retirement or reclaim (for views that follow them)."""
        await self._instances_event.wait()

    def _note_instances(self) -> None:
        event, self._instances_event = self._instances_event, asyncio.Event()
        event.set()

    # ------------------------------------------------------------------ fleets

    def _fleet_for(self, ce: ComputeEnvironment, old: Fleet | None) -> Fleet | None:
        """The compute environment's fleet after a create or update; instances that no
        longer belong to it are recorded as retired."""
        fleet = fleet_for(ce, old)
        if old is not None and old.managed:
            kept = fleet.instances if fleet is not None else {}
            now = self._now()
            for iid, inst in list(old.instances.items()):
                if iid not in kept:
                    self._record_retired(ce.compute_environment_name, inst, now, RETIRED_GONE)
        return fleet

    def _forget_fleet(self, ce: str, fleet: Fleet) -> None:
        """A deleted compute environment's instances are recorded as retired."""
        now = self._now()
        if fleet.managed:
            for inst in list(fleet.instances.values()):
                self._record_retired(ce, inst, now, RETIRED_GONE)
        fleet.instances.clear()
        self._note_instances()

    async def _load_instances(self) -> None:
        """Instances alive when the last runtime stopped go back into their fleets (their
        jobs are then found by recovery); those of a compute environment that no longer
        has a managed fleet are recorded as retired."""
        now = self._now()
        for row in await self.store.live_instances():
            pool = self.pools.get(row.ce)
            fleet = pool.fleet if pool is not None else None
            types = fleet.types if fleet is not None else ()
            t = next((t for t in types if t.name == row.instance_type), None)
            if fleet is None or not fleet.managed or t is None:
                self.store.mark_instance(_retired(row, now, RETIRED_GONE))
                continue
            inst = fleet.launch(t, row.instance_id, row.launched_at)
            self._arm_reclaim(row.ce, inst)

    def _carry_out(self, decisions: Plan) -> None:
        for launch in decisions.launches:
            inst = launch.instance
            self.store.mark_instance(
                InstanceRow(inst.instance_id, launch.ce, inst.instance_type, inst.launched_at)
            )
            self._arm_reclaim(launch.ce, inst)
        now = self._now()
        for retire in decisions.retirements:
            self._record_retired(retire.ce, retire.instance, now, RETIRED_IDLE)
        if decisions.wake_at is not None:
            self._arm_scale(decisions.wake_at)
        if decisions.launches or decisions.retirements:
            self._note_instances()

    def _record_retired(self, ce: str, inst: Instance, now: int, why: str) -> None:
        timer = self._reclaim_timers.pop(inst.instance_id, None)
        if timer is not None:
            timer.cancel()
        self.store.mark_instance(
            InstanceRow(inst.instance_id, ce, inst.instance_type, inst.launched_at, now, why)
        )

    def _arm_scale(self, at: int) -> None:
        if self._scale_at is not None and self._scale_at <= at and self._scale_timer is not None:
            return
        if self._scale_timer is not None:
            self._scale_timer.cancel()
        self._scale_at = at
        delay = max(0.0, (at - self._now()) / 1000) + 0.001
        self._scale_timer = asyncio.get_running_loop().call_later(delay, self._scale_due)

    def _scale_due(self) -> None:
        self._scale_timer = None
        self._scale_at = None
        self._wake.set()

    def _arm_reclaim(self, ce_name: str, inst: Instance) -> None:
        ce = self.registry.compute_environments.get(ce_name)
        if ce is None or not inst.spot:
            return
        delay = reclaim_delay_s(ce.spot_reclaim_rate, self.rng.random())
        if delay is None:
            return
        loop = asyncio.get_running_loop()
        self._reclaim_timers[inst.instance_id] = loop.call_later(
            delay, self._reclaim_at_random, inst.instance_id
        )

    def _reclaim_at_random(self, instance_id: str) -> None:
        self._reclaim_timers.pop(instance_id, None)
        if self._find_instance(instance_id) is not None:
            self.reclaim_instance(instance_id)

    # ------------------------------------------------------------------ reclaim

    def _find_instance(self, instance_id: str) -> tuple[CapacityPool, Instance] | None:
        for pool in self.pools.values():
            if pool.fleet is not None and instance_id in pool.fleet.instances:
                return pool, pool.fleet.instances[instance_id]
        return None

    def reclaim_instance(self, instance_id: str) -> InstanceInfo:
        """Take a Spot instance back, as EC2 does: it is gone at once, and every attempt on
        it ends with `Host EC2 (instance …) terminated.` (then retried by its own rules)."""
        found = self._find_instance(instance_id)
        if found is None:
            raise NotFoundError(f"instance {instance_id!r} does not exist (or is retired)")
        pool, inst = found
        if not inst.spot:
            what = "a declared host" if inst.host is not None else "an On-Demand (EC2) instance"
            raise ClientError(
                f"instance {instance_id} of compute environment {pool.name!r} is {what}; "
                "only Spot instances are reclaimed"
            )
        info = _info(self, pool.name, inst)
        assert pool.fleet is not None
        pool.fleet.remove(instance_id)
        self._record_retired(pool.name, inst, self._now(), RETIRED_RECLAIMED)
        self._note_instances()
        reason = reclaim_reason(instance_id)
        for job_id in sorted(inst.jobs):
            run = self.running.get(job_id)
            if run is not None and run.attempt.instance_id == instance_id:
                run.host_lost = reason
                self._kill(run, 0)
        self._wake.set()
        return info

    # ------------------------------------------------------------------ reads

    def desired_vcpus(self, ce: str) -> int | None:
        """A managed compute environment's desiredvCpus: the vCPUs of its running instances,
        rising as instances launch for demand and falling as idle ones retire (down to what
        minvCpus keeps). None for a compute environment without instances of its own."""
        if ce not in self.registry.compute_environments:
            raise NotFoundError(f"compute environment {ce!r} does not exist")
        pool = self.pools.get(ce)
        if pool is None or pool.fleet is None or not pool.fleet.managed:
            return None
        return round(pool.fleet.total_vcpus)

    def instances(self, ce: str | None = None) -> list[InstanceInfo]:
        """Every instance (and declared host), by compute environment, oldest first."""
        if ce is not None and ce not in self.registry.compute_environments:
            raise NotFoundError(f"compute environment {ce!r} does not exist")
        out: list[InstanceInfo] = []
        for name in sorted(self.pools):
            pool = self.pools[name]
            if pool.fleet is None or (ce is not None and name != ce):
                continue
            for inst in sorted(
                pool.fleet.instances.values(), key=lambda i: (i.launched_at, i.instance_id)
            ):
                out.append(_info(self, name, inst))
        return out


def _info(rt: InstancesMixin, ce: str, inst: Instance) -> InstanceInfo:
    jobs = tuple((j, rt.jobs[j].job_name if j in rt.jobs else j) for j in sorted(inst.jobs))
    return InstanceInfo(
        instance_id=inst.instance_id,
        compute_environment=ce,
        instance_type=inst.instance_type,
        spot=inst.spot,
        vcpus=inst.vcpus,
        memory=inst.memory,
        gpus=inst.gpus,
        used_vcpus=inst.used_vcpus,
        used_memory=inst.used_memory,
        used_gpus=inst.used_gpus,
        price=inst.price,
        host=inst.host,
        host_key=inst.host_key,
        launched_at=inst.launched_at,
        idle_since=inst.idle_since,
        jobs=jobs,
    )


def _retired(row: InstanceRow, now: int, why: str) -> InstanceRow:
    return InstanceRow(row.instance_id, row.ce, row.instance_type, row.launched_at, now, why)
