"""Capacity accounting and placement: `plan(queues, pools)` -> decisions.

Rules (reference §8.1, §8.2):
- queues are evaluated in descending priority (ties: name), FIFO inside a queue;
- each job tries its queue's compute environments in ascending order and takes the first
  ENABLED one with room for its vCPUs, memory and GPUs (GPUs: room in the count, and as many
  device ids free on the host it would run on, scheduler.devices);
- a job that does not fit now stops its queue (strict FIFO, as AWS: nothing is preempted and
  nothing jumps the head); the cycle moves on to the next queue, so lower-priority queues can
  use capacity the head of a higher one cannot;
- a job that can never fit any of its queue's compute environments blocks its queue with AWS's
  MISCONFIGURATION reason;
- a multi-node parallel job is placed whole: its record carries the sum of its nodes' needs,
  so it starts only in one compute environment with room for every node at once (or not at
  all), and only in one that can run multi-node jobs (not SPOT, Fargate or UNMANAGED; those
  are refused at submit, this covers a compute environment changed since).

A compute environment with a fleet (fleet.py: virtual instances, or declared hosts) places
each job on one instance, launching one when the allocation strategy allows; the plan then
carries the launches, and the retirements of instances idle long enough, for the runtime to
carry out. One without (instanceTypes not given, Fargate) is a single pool of capacity.

The queues hand in their RUNNABLE jobs as an ordered iterable (head first). Entries that are
no longer RUNNABLE are skipped, so the runtime can remove lazily. Cost is proportional to
the jobs placed plus the queues and instances, never to the number waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from abatch.model.catalog import InstanceType
from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.scheduler.fairshare import reserved_reason

from .devices import DeviceSlots
from .fleet import Fleet, Instance

REASON_MAX_CPU = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue "
    "cannot meet the CPU requirement of the job."
)
REASON_RESOURCE = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) "
    "is higher than that can be met by the CE(s) attached to the job queue."
)
REASON_NO_CE = "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."
REASON_NO_MULTINODE = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - No CE associated with the job queue can run "
    "multi-node parallel jobs (SPOT, FARGATE and UNMANAGED can't)."
)
WAITING_CODE = "WAITING_FOR_CAPACITY"
QUEUED_CODE = "QUEUED"


@dataclass(slots=True)
class CapacityPool:
    """One compute environment's capacity and what running jobs hold of it."""

    name: str
    enabled: bool
    vcpus: float
    memory: int
    gpus: int
    used_vcpus: float = 0.0
    used_memory: int = 0
    used_gpus: int = 0
    unavailable: str | None = None  # why it cannot take jobs right now (engine down)
    multinode: bool = True  # can run multi-node parallel jobs
    fleet: Fleet | None = None  # instances or hosts; None: one pool of capacity
    # The specific GPU ids its jobs take (scheduler.devices), shared with the other compute
    # environments on the same host: the environment's own, and each declared host's.
    devices: DeviceSlots | None = None
    host_devices: dict[str, DeviceSlots] = field(default_factory=dict)  # by instance id

    @property
    def usable(self) -> bool:
        return self.enabled and self.unavailable is None

    def can_run(self, job: JobRecord) -> bool:
        return self.multinode or not job.is_multinode

    def fits_now(self, job: JobRecord) -> bool:
        if self.fleet is not None:
            found = self.fleet.pick(job)
            return self.can_run(job) and found is not None and self.device_room(job, found)
        return self.can_run(job) and (
            self.used_vcpus + job.vcpus <= self.vcpus + 1e-9
            and self.used_memory + job.memory <= self.memory
            and self.used_gpus + job.gpus <= self.gpus
            and self.device_room(job, None)
        )

    def slots(self, where: Instance | InstanceType | None) -> DeviceSlots | None:
        """The GPU ids a job placed on `where` (an instance, a type to launch, or the
        environment itself) takes from."""
        if isinstance(where, Instance) and where.instance_id in self.host_devices:
            return self.host_devices[where.instance_id]
        return self.devices

    def device_room(self, job: JobRecord, where: Instance | InstanceType | None) -> bool:
        slots = self.slots(where)
        return not job.gpus or slots is None or slots.free() >= job.gpus

    def fits_ever(self, job: JobRecord) -> bool:
        if self.fleet is not None:
            return self.can_run(job) and self.fleet.fits_ever(job)
        return self.can_run(job) and (
            job.vcpus <= self.vcpus + 1e-9 and job.memory <= self.memory and job.gpus <= self.gpus
        )

    def cpu_never(self, job: JobRecord) -> bool:
        if self.fleet is not None:
            return self.fleet.cpu_never(job)
        return job.vcpus > self.vcpus + 1e-9

    def take(self, job: JobRecord, instance_id: str | None = None) -> Instance | None:
        """Count `job` as running here; with a fleet, on `instance_id` (when it is still
        known) or on the instance it would be placed on now. Returns that instance."""
        self.used_vcpus += job.vcpus
        self.used_memory += job.memory
        self.used_gpus += job.gpus
        fleet = self.fleet
        inst: Instance | None = None
        if fleet is not None:
            inst = fleet.instances.get(instance_id) if instance_id is not None else None
            if inst is None:
                found = fleet.pick(job)
                inst = found if isinstance(found, Instance) else None
            if inst is not None:
                fleet.take(job, inst)
        slots = self.slots(inst)
        if job.gpus and slots is not None:
            slots.take(job.job_id, job.gpus)
        return inst

    def give(self, job: JobRecord) -> None:
        self.used_vcpus = max(0.0, self.used_vcpus - job.vcpus)
        self.used_memory = max(0, self.used_memory - job.memory)
        self.used_gpus = max(0, self.used_gpus - job.gpus)
        if self.fleet is not None:
            self.fleet.give(job)
        slots = self.devices or next(iter(self.host_devices.values()), None)
        if slots is not None:
            slots.give(job.job_id)  # the ledger knows where it holds them

    def free_text(self) -> str:
        fleet = self.fleet
        if fleet is not None:
            noun = "instance(s)" if fleet.managed else "host(s)"
            limit = f" (maxvCpus {fleet.max_vcpus:g})" if fleet.managed else ""
            return (
                f"{self.name} has {len(fleet.instances)} {noun} with "
                f"{fleet.total_vcpus:g} vCPU{limit}, {self.used_vcpus:g} in use"
            )
        gpus = self.gpus - self.used_gpus
        if self.devices is not None:
            gpus = min(gpus, self.devices.free())
        return (
            f"{self.name} has {self.vcpus - self.used_vcpus:g} of {self.vcpus:g} vCPU, "
            f"{self.memory - self.used_memory} of {self.memory} MiB"
            + (f", {gpus} of {self.gpus} GPU" if self.gpus else "")
            + " free"
        )


@dataclass(slots=True)
class QueueView:
    name: str
    priority: int
    ce_names: Sequence[str]
    runnable: Iterable[JobRecord]
    vcpu_cap: float | None = None  # fair share's computeReservation: vCPUs it may still take


@dataclass(slots=True, frozen=True)
class Place:
    job: JobRecord
    ce: str
    instance: str | None = None  # the instance id, in a compute environment with a fleet


@dataclass(slots=True, frozen=True)
class Launch:
    ce: str
    instance: Instance


@dataclass(slots=True, frozen=True)
class Retire:
    ce: str
    instance: Instance


@dataclass(slots=True, frozen=True)
class Wait:
    """The head of a queue cannot start; `reason` says why (its status reason)."""

    job: JobRecord
    reason: str
    blocked: bool  # True: can never fit as configured (MISCONFIGURATION / ACTION_REQUIRED)


@dataclass(slots=True)
class Plan:
    placements: list[Place] = field(default_factory=list)
    waits: list[Wait] = field(default_factory=list)
    launches: list[Launch] = field(default_factory=list)
    retirements: list[Retire] = field(default_factory=list)
    wake_at: int | None = None  # when an idle instance is due to retire: plan again then


def needs_text(job: JobRecord) -> str:
    gpu = f", {job.gpus} GPU" if job.gpus else ""
    return f"needs {job.vcpus:g} vCPU, {job.memory} MiB{gpu}"


def never_fit_reason(job: JobRecord, pools: Sequence[CapacityPool]) -> str | None:
    """The MISCONFIGURATION reason if no pool could ever hold the job, else None."""
    if not pools:
        return REASON_NO_CE
    if any(p.fits_ever(job) for p in pools):
        return None
    if not any(p.can_run(job) for p in pools):
        return REASON_NO_MULTINODE
    if all(p.cpu_never(job) for p in pools if p.can_run(job)):
        return REASON_MAX_CPU
    return REASON_RESOURCE


def _no_ids() -> str:
    raise ValueError("plan() needs new_id to launch an instance")


def plan(
    queues: Iterable[QueueView],
    pools: dict[str, CapacityPool],
    now: int = 0,
    new_id: Callable[[], str] = _no_ids,
) -> Plan:
    """Decide which RUNNABLE jobs start where, which instances to launch for them and which
    idle ones to retire (`now` in epoch ms, `new_id` names a launched instance). Takes
    capacity in `pools` for each placement and applies launches and retirements to their
    fleets, so the caller's ledger stays in step with the decisions it is about to carry
    out."""
    result = Plan()
    placed: set[str] = set()
    for queue in sorted(queues, key=lambda q: (-q.priority, q.name)):
        qpools = [pools[n] for n in queue.ce_names if n in pools]
        cap = queue.vcpu_cap
        for job in queue.runnable:
            if job.status is not JobStatus.RUNNABLE or job.job_id in placed:
                continue
            if cap is not None and job.vcpus > cap + 1e-9:
                never = never_fit_reason(job, qpools)
                why = never or reserved_reason(job, cap)
                result.waits.append(Wait(job, why, blocked=never is not None))
                break
            place = _place(job, qpools, now, new_id, result)
            if place is not None:
                cap = None if cap is None else cap - job.vcpus
                placed.add(job.job_id)
                result.placements.append(place)
                continue
            blocked = never_fit_reason(job, qpools)
            if blocked is not None:
                result.waits.append(Wait(job, blocked, blocked=True))
            else:
                result.waits.append(Wait(job, waiting_reason(job, qpools), blocked=False))
            break
    for pool in pools.values():
        if pool.fleet is None:
            continue
        launched, retired, wake_at = pool.fleet.scale(now, new_id)
        result.launches += [Launch(pool.name, i) for i in launched]
        result.retirements += [Retire(pool.name, i) for i in retired]
        if wake_at is not None:
            result.wake_at = wake_at if result.wake_at is None else min(result.wake_at, wake_at)
    return result


def _place(
    job: JobRecord,
    qpools: Sequence[CapacityPool],
    now: int,
    new_id: Callable[[], str],
    result: Plan,
) -> Place | None:
    """The first usable pool with room takes the job (launching an instance if needed)."""
    for pool in qpools:
        if not pool.usable or not pool.can_run(job):
            continue
        fleet = pool.fleet
        if fleet is None:
            if pool.fits_now(job):
                pool.take(job)
                return Place(job, pool.name)
            continue
        found = fleet.pick(job)
        if found is None or not pool.device_room(job, found):
            continue
        if not isinstance(found, Instance):
            found = fleet.launch(found, new_id(), now)
            result.launches.append(Launch(pool.name, found))
        pool.take(job, found.instance_id)
        return Place(job, pool.name, found.instance_id)
    return None


def waiting_reason(job: JobRecord, qpools: Sequence[CapacityPool]) -> str:
    usable = [p for p in qpools if p.usable]
    if not usable:
        why = "; ".join(
            f"{p.name} {'DISABLED' if not p.enabled else 'unavailable: ' + str(p.unavailable)}"
            for p in qpools
        )
        return f"{WAITING_CODE} - {needs_text(job)}; compute environment(s) {why}"
    free = "; ".join(p.free_text() for p in usable if p.fits_ever(job))
    return f"{WAITING_CODE} - {needs_text(job)}; {free}"


def queued_reason(head: JobRecord, position: int) -> str:
    """Status reason of a RUNNABLE job that is not at the head: who is ahead of it."""
    return (
        f"{QUEUED_CODE} - position {position} in queue, behind job {head.job_id} ({head.job_name})"
    )
