"""A compute environment's fleet from its settings: which compute environments have
instances, and what carries over when one is updated.

- MANAGED EC2 or SPOT with `instanceTypes`: a managed fleet of catalog types (allocation
  strategy default BEST_FIT, minvCpus, maxvCpus, the idle time before an instance retires);
- UNMANAGED with `hosts`: one instance per declared host, its id derived from the compute
  environment's and the host's names, so it is the same after a restart;
- anything else (no instanceTypes, Fargate, UNMANAGED without hosts): no fleet, one pool.

On an update the running instances and the jobs on them carry over: a managed fleet keeps
its instances (types no longer allowed retire once idle); a host that is still declared
keeps what runs on it.
"""

from __future__ import annotations

import hashlib

from abatch.model.catalog import expand_instance_types
from abatch.model.enums import AllocationStrategy, CEType, ComputeResourceType
from abatch.model.resources import ComputeEnvironment

from .fleet import Fleet, Instance

_EC2_TYPES = (ComputeResourceType.EC2, ComputeResourceType.SPOT)


def host_instance_id(ce_name: str, host_name: str) -> str:
    """`i-` and 17 hex digits, the same every time for this host of this environment."""
    digest = hashlib.sha256(f"{ce_name}/{host_name}".encode()).hexdigest()
    return "i-" + digest[:17]


def fleet_for(ce: ComputeEnvironment, old: Fleet | None) -> Fleet | None:
    cr = ce.compute_resources
    if ce.type is CEType.UNMANAGED and ce.hosts:
        fleet = Fleet(managed=False)
        for host in ce.hosts:
            iid = host_instance_id(ce.compute_environment_name, host.name)
            inst = Instance(
                instance_id=iid,
                instance_type="host",
                vcpus=float(host.vcpus),
                memory=host.memory,
                gpus=host.gpus,
                host=host.name,
                endpoint=host.docker_host,
            )
            before = old.instances.get(iid) if old is not None else None
            if before is not None:
                inst.used_vcpus, inst.used_memory, inst.used_gpus = (
                    before.used_vcpus,
                    before.used_memory,
                    before.used_gpus,
                )
                inst.jobs = set(before.jobs)
                inst.launched_at = before.launched_at
            fleet.instances[iid] = inst
        if old is not None:
            fleet.where = {j: i for j, i in old.where.items() if i in fleet.instances}
        return fleet
    if cr is None or cr.type not in _EC2_TYPES or not cr.instance_types:
        return None
    fleet = Fleet(
        managed=True,
        types=expand_instance_types(cr.instance_types),
        strategy=cr.allocation_strategy or AllocationStrategy.BEST_FIT,
        min_vcpus=float(cr.min_vcpus),
        max_vcpus=float(cr.max_vcpus),
        spot=cr.type is ComputeResourceType.SPOT,
        idle_ms=int(ce.instance_idle_seconds * 1000),
    )
    if old is not None and old.managed:
        fleet.instances = old.instances
        fleet.where = old.where
    return fleet
