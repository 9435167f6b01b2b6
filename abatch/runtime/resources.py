"""Compute environments, job queues and job definitions: apply a config, create, update,
register. Every change is stored first, then taken into the in-memory registry and capacity
pools, then the scheduling loop is woken (capacity may have appeared).

Applying a config is idempotent: a resource that exists and matches is left alone, a changed
one is updated, a changed job definition becomes a new revision. Resources that the config
does not mention are left as they are.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from abatch.executors.gpus import GpuDetection
from abatch.model import fargate, strict
from abatch.model.enums import FARGATE_TYPES, JobDefinitionStatus, ResourceState
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue
from abatch.scheduler.devices import (
    LOCAL_HOST,
    DeviceLedger,
    DeviceSlots,
    ce_device_ids,
    ce_gpu_count,
    host_key,
)
from abatch.scheduler.hostsafety import host_warnings
from abatch.scheduler.nodes import multinode_refusal
from abatch.scheduler.placement import CapacityPool

from .host import facts, host_memory_mib

if TYPE_CHECKING:
    from collections.abc import Callable

    from abatch.config import LoadedConfig
    from abatch.config.settings import RuntimeSettings
    from abatch.model.policy import SchedulingPolicy
    from abatch.scheduler.fleet import Fleet
    from abatch.store.sqlite import SqliteStore

    from .registry import Registry


def ce_host(ce: ComputeEnvironment) -> str:
    """The host key of a compute environment's executor endpoint (scheduler.devices)."""
    return host_key(ce.executor.value, ce.docker_host)


@dataclass
class ApplyReport:
    changes: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, name, what)

    def add(self, kind: str, name: str, what: str) -> None:
        self.changes.append((kind, name, what))

    @property
    def changed(self) -> bool:
        return any(what != "unchanged" for _, _, what in self.changes)


class ResourceManager:
    settings: RuntimeSettings
    registry: Registry
    store: SqliteStore
    pools: dict[str, CapacityPool]
    runnable: dict[str, deque[JobRecord]]
    devices: DeviceLedger
    host_gpus: GpuDetection
    _wake: asyncio.Event
    _fleet_for: Callable[[ComputeEnvironment, Fleet | None], Fleet | None]  # InstancesMixin
    _policies_changed: Callable[[], None]  # SharesMixin
    _policy_stored: Callable[[SchedulingPolicy | None, str], None]
    policies: dict[str, SchedulingPolicy]

    def _set_ce(self, ce: ComputeEnvironment) -> None:
        name = ce.compute_environment_name
        self.registry.compute_environments[name] = ce
        old = self.pools.get(name)
        fleet = self._fleet_for(ce, old.fleet if old is not None else None)
        ids = self._gpu_ids(ce)
        host = ce_host(ce)
        pool = CapacityPool(
            name=name,
            enabled=ce.state is ResourceState.ENABLED,
            vcpus=float(ce.max_vcpus),
            memory=ce.memory or host_memory_mib(),
            gpus=ce_gpu_count(ce.gpus, ids),
            multinode=multinode_refusal(ce) is None,
            fleet=fleet,
            devices=DeviceSlots(self.devices, host, ids) if ids else None,
        )
        if fleet is not None and not fleet.managed:
            # Declared hosts: the environment's capacity is theirs, GPU ids included.
            pool.memory = sum(i.memory for i in fleet.instances.values())
            pool.gpus = sum(i.gpus for i in fleet.instances.values())
            for inst in fleet.instances.values():
                key = host_key("docker", inst.endpoint)
                detected = self.host_gpus.ids if key == LOCAL_HOST else ()
                host_ids = ce_device_ids(None, inst.gpus, detected)
                if inst.gpus and host_ids:
                    pool.host_devices[inst.instance_id] = DeviceSlots(self.devices, key, host_ids)
        if old is not None:
            pool.used_vcpus, pool.used_memory, pool.used_gpus = (
                old.used_vcpus,
                old.used_memory,
                old.used_gpus,
            )
        self.pools[name] = pool

    def host_warnings(self) -> list[str]:
        """What the compute environments on this machine promise beyond it (a warning each,
        with the numbers; scheduler.hostsafety)."""
        return host_warnings(
            list(self.registry.compute_environments.values()), facts(self.host_gpus)
        )

    def _gpu_ids(self, ce: ComputeEnvironment) -> tuple[str, ...]:
        """The GPU ids a compute environment hands out (none on Fargate)."""
        cr = ce.compute_resources
        if cr is not None and cr.type in FARGATE_TYPES:
            return ()
        detected = self.host_gpus.ids if ce_host(ce) == LOCAL_HOST else ()
        return ce_device_ids(ce.gpu_devices, ce.gpus, detected)

    async def put_compute_environment(self, ce: ComputeEnvironment) -> str:
        """Create or update; returns 'created', 'updated' or 'unchanged'."""
        old = self.registry.compute_environments.get(ce.compute_environment_name)
        if old is not None and old.model_dump() == ce.model_dump():
            return "unchanged"
        await self.store.put_compute_environment(ce, _now())
        self._set_ce(ce)
        self._wake.set()
        return "created" if old is None else "updated"

    async def put_scheduling_policy(self, policy: SchedulingPolicy) -> str:
        """Create or replace a policy (from a config); its queues follow at once."""
        old = self.policies.get(policy.name)
        if old is not None and old.model_dump() == policy.model_dump():
            return "unchanged"
        await self.store.put_scheduling_policy(policy, _now())
        self._policy_stored(policy, policy.name)
        return "created" if old is None else "updated"

    async def put_job_queue(self, jq: JobQueue) -> str:
        for name in jq.ce_names():
            if name not in self.registry.compute_environments:
                raise ClientError(
                    f"job queue {jq.job_queue_name!r}: compute environment {name!r} does not exist"
                )
        old = self.registry.job_queues.get(jq.job_queue_name)
        if old is not None and old.model_dump() == jq.model_dump():
            return "unchanged"
        if old is not None and (old.scheduling_policy_arn is None) != (
            jq.scheduling_policy_arn is None
        ):
            # As AWS: a FIFO queue never gets a policy and a policy is never removed (their
            # waiting jobs are kept in different structures); a new queue can.
            raise ClientError(
                f"job queue {jq.job_queue_name!r}: a scheduling policy can't be "
                + ("added to a FIFO queue" if old.scheduling_policy_arn is None else "removed")
                + "; delete the queue and create it again"
            )
        await self.store.put_job_queue(jq, _now())
        self.registry.job_queues[jq.job_queue_name] = jq
        self.runnable.setdefault(jq.job_queue_name, deque())
        self._policies_changed()
        self._wake.set()
        return "created" if old is None else "updated"

    async def register_job_definition(self, jd: JobDefinition) -> JobDefinition:
        """Always a new revision (as RegisterJobDefinition)."""
        if jd.is_fargate:
            problems = fargate.definition_problems(jd)
            if problems:
                raise ClientError(fargate.problems_text(problems))
        if self.settings.strict:
            problems = strict.definition_problems(jd)
            if problems:
                raise ClientError(strict.problems_text(problems))
        name = jd.job_definition_name
        revision = await self.store.latest_revision(name) + 1
        stored = jd.model_copy(update={"revision": revision, "status": JobDefinitionStatus.ACTIVE})
        await self.store.put_job_definition(stored, _now())
        self.registry.add_definition(stored)
        return stored

    async def ensure_job_definition(self, jd: JobDefinition) -> tuple[JobDefinition, str]:
        """Register only if the latest ACTIVE revision differs (config apply)."""
        revisions = self.registry.job_definitions.get(jd.job_definition_name) or []
        active = [r for r in revisions if r.status is JobDefinitionStatus.ACTIVE]
        if active and active[-1].same_content(jd):
            return active[-1], "unchanged"
        stored = await self.register_job_definition(jd)
        return stored, f"registered revision {stored.revision}"

    async def deregister_job_definition(self, name: str, revision: int) -> None:
        revisions = self.registry.job_definitions.get(name) or []
        for jd in revisions:
            if jd.revision == revision:
                inactive = jd.model_copy(update={"status": JobDefinitionStatus.INACTIVE})
                await self.store.put_job_definition(inactive, _now())
                self.registry.add_definition(inactive)
                return
        raise ClientError(f"job definition {name}:{revision} does not exist")

    async def apply(self, config: LoadedConfig) -> ApplyReport:
        if self.settings.strict:
            self._check_region_counts(config)
        report = ApplyReport()
        for policy in config.scheduling_policies:
            report.add("scheduling policy", policy.name, await self.put_scheduling_policy(policy))
        for ce in config.compute_environments:
            report.add(
                "compute environment",
                ce.compute_environment_name,
                await self.put_compute_environment(ce),
            )
        for jq in config.job_queues:
            report.add("job queue", jq.job_queue_name, await self.put_job_queue(jq))
        for jd in config.job_definitions:
            _, what = await self.ensure_job_definition(jd)
            report.add("job definition", jd.job_definition_name, what)
        return report

    def _check_region_counts(self, config: LoadedConfig) -> None:
        """In strict mode, the file's compute environments and job queues together with
        those already in the state directory (made through the API, or by an earlier config)
        are at most AWS's 50 each; refused before anything is applied."""
        for noun, have, wanted in (
            (
                "compute environments",
                self.registry.compute_environments,
                {ce.compute_environment_name for ce in config.compute_environments},
            ),
            (
                "job queues",
                self.registry.job_queues,
                {jq.job_queue_name for jq in config.job_queues},
            ),
        ):
            total = len(wanted | have.keys())
            why = strict.per_region_problem(total, noun)
            if why is not None:
                raise ClientError(
                    f"{why}: the config declares {len(wanted)} and {total - len(wanted)} more "
                    "are already in the state directory; delete some or leave strict mode"
                )


def _now() -> int:
    return int(time.time() * 1000)
