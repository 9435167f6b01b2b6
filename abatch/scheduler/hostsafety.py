"""Host safety: what the compute environments on this machine promise against what it has.

A compute environment is on this machine when its attempts run here (scheduler.devices
`host_key` is `local`: the process executor, and Docker on the local socket); remote Docker
endpoints do not count; an UNMANAGED one with declared hosts counts its hosts here. Only
ENABLED ones count (a DISABLED one places nothing). Each promises its `max_vcpus`, its
`memory` (no setting: the whole machine's) and its GPUs; a declared host its own.
Promising more than the machine has is allowed (jobs share the CPUs and memory; GPUs are
never shared, jobs wait for them), but it is said, with the numbers, as warnings.

Pure: the machine's facts come in as `HostFacts`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from abatch.model.enums import ResourceState
from abatch.model.resources import ComputeEnvironment

from .devices import LOCAL_HOST, ce_device_ids, ce_gpu_count, host_key


@dataclass(slots=True, frozen=True)
class HostFacts:
    cpus: int
    memory_mib: int
    gpu_ids: tuple[str, ...] = ()
    gpu_note: str | None = None  # why GPU detection found nothing usable


def on_this_machine(ce: ComputeEnvironment) -> bool:
    return host_key(ce.executor.value, ce.docker_host) == LOCAL_HOST


def _listing(items: list[tuple[str, float]], unit: str) -> str:
    return ", ".join(f"{name} {value:g}{unit}" for name, value in items)


def _promises(ces: Sequence[ComputeEnvironment], host: HostFacts) -> list[tuple[str, float, int]]:
    """(who, vCPUs, MiB) each ENABLED compute environment, or declared host, on this machine
    promises."""
    out: list[tuple[str, float, int]] = []
    for c in ces:
        if c.state is not ResourceState.ENABLED:
            continue
        if c.hosts:
            for h in c.hosts:
                if host_key(c.executor.value, h.docker_host) == LOCAL_HOST:
                    out.append((f"{c.compute_environment_name}/{h.name}", h.vcpus, h.memory))
        elif on_this_machine(c):
            out.append(
                (c.compute_environment_name, float(c.max_vcpus), c.memory or host.memory_mib)
            )
    return out


def host_warnings(ces: Sequence[ComputeEnvironment], host: HostFacts) -> list[str]:
    """One line per promise this machine cannot keep; none when all is well."""
    local = [c for c in ces if on_this_machine(c) and c.state is ResourceState.ENABLED]
    out: list[str] = []
    if host.gpu_note is not None:
        out.append(f"GPUs: {host.gpu_note}; this machine's GPUs are taken to be none")
    promises = _promises(ces, host)
    vcpus = [(who, v) for who, v, _ in promises]
    total = sum(v for _, v in vcpus)
    if total > host.cpus:
        out.append(
            f"compute environments on this machine promise {total:g} vCPUs "
            f"({_listing(vcpus, '')}) but it has {host.cpus} CPUs"
        )
    memory = [(who, float(m)) for who, _, m in promises]
    total = sum(m for _, m in memory)
    if total > host.memory_mib:
        out.append(
            f"compute environments on this machine promise {total:g} MiB of memory "
            f"({_listing(memory, ' MiB')}; no `memory` setting means all of it) but it has "
            f"{host.memory_mib} MiB"
        )
    local = [c for c in local if not c.hosts]
    for c in local:
        if c.gpu_devices and not host.gpu_ids:
            out.append(
                f"compute environment {c.compute_environment_name} lists gpu_devices "
                f"{', '.join(c.gpu_devices)} but nvidia-smi lists no GPU on this machine; "
                "they are handed out as declared"
            )
        elif c.gpu_devices:
            unknown = [d for d in c.gpu_devices if d not in host.gpu_ids]
            if unknown:
                out.append(
                    f"compute environment {c.compute_environment_name} lists gpu_devices "
                    f"{', '.join(unknown)} that nvidia-smi does not list on this machine "
                    f"(it lists {', '.join(host.gpu_ids)})"
                )
        elif c.gpus and c.gpus > len(host.gpu_ids):
            if host.gpu_ids:
                out.append(
                    f"compute environment {c.compute_environment_name} has gpus = {c.gpus} but "
                    f"this machine has {len(host.gpu_ids)}; its jobs hold at most "
                    f"{len(host.gpu_ids)} at once"
                )
            else:
                out.append(
                    f"compute environment {c.compute_environment_name} has gpus = {c.gpus} but "
                    f"nvidia-smi lists no GPU on this machine; its jobs get ids 0-{c.gpus - 1} "
                    "as declared"
                )
    gpus = [
        (c.compute_environment_name, float(ce_gpu_count(c.gpus, ids)))
        for c in local
        if (ids := ce_device_ids(c.gpu_devices, c.gpus, host.gpu_ids))
    ]
    total = sum(g for _, g in gpus)
    physical = len(host.gpu_ids)
    if physical and total > physical:
        out.append(
            f"compute environments on this machine promise {total:g} GPUs "
            f"({_listing(gpus, '')}) but it has {physical}; they share its devices, so GPU "
            "jobs wait for one another"
        )
    return out
