"""Instances of a compute environment: which instance a job goes on, which instance type to
launch for it, which idle instance to retire. Pure: time and new instance ids come in as
arguments; the decisions go out as values (see `placement.plan`).

Two kinds of fleet:
- managed (a MANAGED EC2 or SPOT compute environment with instanceTypes): virtual instances
  of catalog types, launched when a RUNNABLE job fits no running instance and retired after
  `idle_ms` without a job, keeping the total vCPUs between minvCpus and maxvCpus;
- hosts (an UNMANAGED compute environment with declared hosts): a fixed set, never launched
  or retired.

Rules (documented in the README, "Compute environments"):
- a job goes on the running instance where it fits tightest (fewest vCPUs left, then least
  memory, then the oldest), so instances empty out and can retire;
- otherwise an instance is launched, its type chosen by the allocation strategy among the
  allowed types that can hold the job:
  - BEST_FIT: the cheapest type (then the smallest) that keeps the total within maxvCpus;
    nothing else, so maxvCpus is never exceeded;
  - BEST_FIT_PROGRESSIVE: the lowest price per vCPU (then the smallest) within maxvCpus;
  - SPOT_CAPACITY_OPTIMIZED: the largest type within maxvCpus (fewest instances to lose);
  - SPOT_PRICE_CAPACITY_OPTIMIZED: the lowest price per vCPU, then the largest, within
    maxvCpus;
  - all but BEST_FIT: when no type fits within maxvCpus but the total is still under it,
    the smallest type that holds the job, so the total exceeds maxvCpus by at most one
    instance (reference §1.1);
- a job needing more vCPUs than maxvCpus, or more than every allowed type offers, can never
  run (MISCONFIGURATION, see placement.py);
- the idle instances that stay for minvCpus are chosen by size (the smallest total that
  covers what is missing), never by which went idle first, so the total falls back to
  minvCpus, or as close above it as the instances there allow.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from abatch.model.catalog import InstanceType
from abatch.model.enums import AllocationStrategy
from abatch.model.job import JobRecord

EPS = 1e-9
A = AllocationStrategy


@dataclass(slots=True)
class Instance:
    """A virtual EC2 instance, or a declared host of an UNMANAGED compute environment."""

    instance_id: str
    instance_type: str  # a catalog type, or "host" for a declared host
    vcpus: float
    memory: int
    gpus: int
    price: float = 0.0
    host: str | None = None  # the declared host's name
    endpoint: str | None = None  # its Docker endpoint; None: this machine
    launched_at: int = 0
    spot: bool = False
    used_vcpus: float = 0.0
    used_memory: int = 0
    used_gpus: int = 0
    jobs: set[str] = field(default_factory=set)
    idle_since: int | None = None  # set by the first scaling pass that finds it empty

    @property
    def host_key(self) -> str:
        """The machine this instance runs its jobs on: its Docker endpoint, or "local"."""
        return self.endpoint or "local"

    def fits(self, job: JobRecord) -> bool:
        return (
            self.used_vcpus + job.vcpus <= self.vcpus + EPS
            and self.used_memory + job.memory <= self.memory
            and self.used_gpus + job.gpus <= self.gpus
        )

    def could_hold(self, job: JobRecord) -> bool:
        return job.vcpus <= self.vcpus + EPS and job.memory <= self.memory and job.gpus <= self.gpus


def type_holds(t: InstanceType, job: JobRecord) -> bool:
    return job.vcpus <= t.vcpus + EPS and job.memory <= t.memory and job.gpus <= t.gpus


@dataclass(slots=True)
class Fleet:
    managed: bool
    types: tuple[InstanceType, ...] = ()
    strategy: AllocationStrategy = A.BEST_FIT
    min_vcpus: float = 0.0
    max_vcpus: float = 0.0
    spot: bool = False
    idle_ms: int = 60_000
    instances: dict[str, Instance] = field(default_factory=dict)
    where: dict[str, str] = field(default_factory=dict)  # job id -> instance id

    @property
    def total_vcpus(self) -> float:
        return sum(i.vcpus for i in self.instances.values())

    # ------------------------------------------------------------------ choosing

    def pick(self, job: JobRecord) -> Instance | InstanceType | None:
        """A running instance for `job`, else a type to launch for it, else None."""
        best: Instance | None = None
        best_key: tuple[float, int, int, str] | None = None
        for inst in self.instances.values():
            if inst.fits(job):
                key = (
                    inst.vcpus - inst.used_vcpus - job.vcpus,
                    inst.memory - inst.used_memory - job.memory,
                    inst.launched_at,
                    inst.instance_id,
                )
                if best_key is None or key < best_key:
                    best, best_key = inst, key
        if best is not None or not self.managed:
            return best
        return self.launch_type(job)

    def launch_type(self, job: JobRecord) -> InstanceType | None:
        """The type the allocation strategy launches for `job` now, or None (wait)."""
        if job.vcpus > self.max_vcpus + EPS:
            return None
        room = self.max_vcpus - self.total_vcpus
        holding = [t for t in self.types if type_holds(t, job)]
        within = [t for t in holding if t.vcpus <= room + EPS]
        if within:
            return min(within, key=_RANK[self.strategy])
        if self.strategy is A.BEST_FIT or room <= EPS or not holding:
            return None
        return min(holding, key=lambda t: (t.vcpus, t.price, t.name))

    def fits_ever(self, job: JobRecord) -> bool:
        """Whether `job` could run here once the fleet has room."""
        if not self.managed:
            return any(i.could_hold(job) for i in self.instances.values())
        if job.vcpus > self.max_vcpus + EPS:
            return False
        limit = self.max_vcpus if self.strategy is A.BEST_FIT else math.inf
        return any(type_holds(t, job) and t.vcpus <= limit + EPS for t in self.types)

    def cpu_never(self, job: JobRecord) -> bool:
        """True when the job's vCPUs alone can never be met (the MAX_RESOURCE reason)."""
        if not self.managed:
            return all(job.vcpus > i.vcpus + EPS for i in self.instances.values())
        if job.vcpus > self.max_vcpus + EPS:
            return True
        limit = self.max_vcpus if self.strategy is A.BEST_FIT else math.inf
        return not any(job.vcpus <= t.vcpus + EPS and t.vcpus <= limit + EPS for t in self.types)

    # ------------------------------------------------------------------ ledger

    def launch(self, t: InstanceType, instance_id: str, now: int) -> Instance:
        inst = Instance(
            instance_id=instance_id,
            instance_type=t.name,
            vcpus=float(t.vcpus),
            memory=t.memory,
            gpus=t.gpus,
            price=t.price,
            launched_at=now,
            spot=self.spot,
        )
        self.instances[instance_id] = inst
        return inst

    def take(self, job: JobRecord, inst: Instance) -> None:
        inst.used_vcpus += job.vcpus
        inst.used_memory += job.memory
        inst.used_gpus += job.gpus
        inst.jobs.add(job.job_id)
        inst.idle_since = None
        self.where[job.job_id] = inst.instance_id

    def give(self, job: JobRecord) -> Instance | None:
        """Release what `job` holds; returns its instance (None if that is gone)."""
        instance_id = self.where.pop(job.job_id, None)
        inst = self.instances.get(instance_id) if instance_id is not None else None
        if inst is None or job.job_id not in inst.jobs:
            return None
        inst.jobs.discard(job.job_id)
        inst.used_vcpus = max(0.0, inst.used_vcpus - job.vcpus)
        inst.used_memory = max(0, inst.used_memory - job.memory)
        inst.used_gpus = max(0, inst.used_gpus - job.gpus)
        return inst

    def remove(self, instance_id: str) -> Instance | None:
        """An instance that is gone (retired or reclaimed); its jobs keep no place here."""
        inst = self.instances.pop(instance_id, None)
        if inst is not None:
            for job_id in inst.jobs:
                self.where.pop(job_id, None)
        return inst

    # ------------------------------------------------------------------ scaling

    def scale(
        self, now: int, new_id: Callable[[], str]
    ) -> tuple[list[Instance], list[Instance], int | None]:
        """(launched, retired, when to look again): retire instances idle for `idle_ms`
        (or idle while the total is above maxvCpus), except the idle ones kept for minvCpus
        (see `_kept_for_min`), and launch the smallest types while the total is below
        minvCpus."""
        if not self.managed:
            return [], [], None
        retired: list[Instance] = []
        wake_at: int | None = None
        idle = sorted(
            (i for i in self.instances.values() if not i.jobs),
            key=lambda i: (i.idle_since if i.idle_since is not None else now, i.instance_id),
        )
        for inst in idle:
            if inst.idle_since is None:
                inst.idle_since = now
        kept = self._kept_for_min(idle)
        for inst in idle:
            if inst.instance_id in kept:
                continue
            total = self.total_vcpus
            if total - inst.vcpus < self.min_vcpus - EPS:
                continue
            due = (now if inst.idle_since is None else inst.idle_since) + self.idle_ms
            if due <= now or total > self.max_vcpus + EPS:
                self.instances.pop(inst.instance_id)
                retired.append(inst)
            else:
                wake_at = due if wake_at is None else min(wake_at, due)
        launched: list[Instance] = []
        by_size = sorted(self.types, key=lambda t: (t.vcpus, t.price, t.name))
        while by_size and self.total_vcpus < self.min_vcpus - EPS:
            room = self.max_vcpus - self.total_vcpus
            t = by_size[0]
            if t.vcpus > room + EPS and self.strategy is A.BEST_FIT:
                break
            inst = self.launch(t, new_id(), now)
            inst.idle_since = now
            launched.append(inst)
        return launched, retired, wake_at

    def _kept_for_min(self, idle: list[Instance]) -> set[str]:
        """The idle instances (ids) that stay to hold minvCpus, whatever their idle time:
        none when the busy instances cover it; otherwise the idle instances whose vCPUs add
        up to the smallest total that covers what is missing (then the fewest instances,
        then the longest idle). So the fleet comes back down to minvCpus, or as close above
        it as its instances allow, whichever instance happened to go idle first."""
        need = self.min_vcpus - sum(i.vcpus for i in self.instances.values() if i.jobs)
        if need <= EPS or not idle:
            return set()
        sizes = [round(i.vcpus) for i in idle]  # catalog types have whole vCPUs
        target = math.ceil(need - EPS)
        # A smallest covering total is below target + the largest size: were it not, any one
        # instance could be dropped and the rest would still cover. Subset sums below that
        # bound, each with the fewest instances (first found: longest idle) that make it.
        bound = target + max(sizes)
        best: dict[int, tuple[int, ...]] = {0: ()}
        for k, size in enumerate(sizes):
            for total, chosen in list(best.items()):
                t = total + size
                if t < bound and (t not in best or len(best[t]) > len(chosen) + 1):
                    best[t] = (*chosen, k)
        covering = [t for t in best if t >= target]
        if not covering:
            return {i.instance_id for i in idle}  # all of them still fall short
        return {idle[k].instance_id for k in best[min(covering)]}


def _per_vcpu(t: InstanceType) -> float:
    return t.price / t.vcpus


_RANK: dict[AllocationStrategy, Callable[[InstanceType], tuple[float, float, str]]] = {
    A.BEST_FIT: lambda t: (t.price, t.vcpus, t.name),
    A.BEST_FIT_PROGRESSIVE: lambda t: (_per_vcpu(t), t.vcpus, t.name),
    A.SPOT_CAPACITY_OPTIMIZED: lambda t: (-t.vcpus, t.price, t.name),
    A.SPOT_PRICE_CAPACITY_OPTIMIZED: lambda t: (_per_vcpu(t), -t.vcpus, t.name),
}


def reclaim_delay_s(rate_per_hour: float, u: float) -> float | None:
    """Seconds until a Spot instance is reclaimed, for a uniform draw `u` in [0, 1): an
    exponential lifetime with `rate_per_hour` reclaims per instance-hour (None: never)."""
    if rate_per_hour <= 0:
        return None
    return -math.log(1.0 - u) * 3600.0 / rate_per_hour
