"""This machine's CPUs, memory and GPUs, and the host-safety warnings for a set of compute
environments (scheduler.hostsafety), for `abatch validate` and the start of `abatch run`."""

from __future__ import annotations

import os
from collections.abc import Sequence

from abatch.executors.gpus import GpuDetection, detect_gpus
from abatch.model.resources import ComputeEnvironment
from abatch.scheduler.hostsafety import HostFacts, host_warnings


def host_cpus() -> int:
    """CPUs this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def host_memory_mib() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024))


def facts(gpus: GpuDetection) -> HostFacts:
    return HostFacts(host_cpus(), host_memory_mib(), gpus.ids, gpus.note)


async def warnings_for(ces: Sequence[ComputeEnvironment]) -> list[str]:
    """Detect this machine's GPUs, then what `ces` promise beyond the machine."""
    return host_warnings(ces, facts(await detect_gpus()))
