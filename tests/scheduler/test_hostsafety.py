"""Host safety as tables: what compute environments on this machine promise against it."""

from __future__ import annotations

from typing import Any

import pytest

from abatch.model.resources import ComputeEnvironment
from abatch.scheduler.hostsafety import HostFacts, host_warnings

HOST = HostFacts(cpus=8, memory_mib=16000)


def ce(name: str, vcpus: int, **kw: Any) -> ComputeEnvironment:
    return ComputeEnvironment.model_validate(
        {"computeEnvironmentName": name, "computeResources": {"maxvCpus": vcpus}, **kw}
    )


@pytest.mark.parametrize(
    ("ces", "host", "warnings"),
    [
        ([ce("a", 4, memory=8000), ce("b", 4, memory=8000)], HOST, []),  # exactly the machine
        (
            [ce("a", 6, memory=1000), ce("b", 4, memory=1000)],
            HOST,
            ["promise 10 vCPUs (a 6, b 4) but it has 8 CPUs"],
        ),
        (
            [ce("a", 2, memory=12000), ce("b", 2, memory=8000)],
            HOST,
            ["promise 20000 MiB of memory (a 12000 MiB, b 8000 MiB;"],
        ),
        (
            # No memory setting: each may hand out all of the machine's.
            [ce("a", 2), ce("b", 2)],
            HOST,
            ["promise 32000 MiB of memory (a 16000 MiB, b 16000 MiB; no `memory` setting"],
        ),
        (
            # Remote Docker endpoints and DISABLED ones promise nothing here.
            [
                ce("a", 8, memory=16000),
                ce("far", 64, memory=99999, executor="docker", docker_host="tcp://gpu1:2375"),
                ce("off", 64, memory=99999, state="DISABLED"),
                ce("sock", 0 + 1, memory=1, executor="docker", docker_host="unix:///x.sock"),
            ],
            HOST,
            ["promise 9 vCPUs (a 8, sock 1) but it has 8 CPUs", "promise 16001 MiB"],
        ),
        (
            # Declared hosts: only those on this machine count, with their own capacity.
            [
                ComputeEnvironment.model_validate(
                    {
                        "computeEnvironmentName": "farm",
                        "type": "UNMANAGED",
                        "executor": "docker",
                        "hosts": [
                            {"name": "here", "vcpus": 6, "memory": 9000},
                            {"name": "far", "vcpus": 64, "memory": 1, "docker_host": "tcp://x:1"},
                        ],
                    }
                ),
                ce("a", 4, memory=8000),
            ],
            HOST,
            ["promise 10 vCPUs (farm/here 6, a 4) but it has 8 CPUs", "promise 17000 MiB"],
        ),
        (
            [ce("g", 2, memory=1, gpus=4)],
            HostFacts(8, 16000, ("0", "1")),
            ["g has gpus = 4 but this machine has 2; its jobs hold at most 2 at once"],
        ),
        (
            [ce("g", 2, memory=1, gpus=2)],
            HOST,
            ["g has gpus = 2 but nvidia-smi lists no GPU on this machine; its jobs get ids 0-1"],
        ),
        (
            [ce("g", 2, memory=1, gpu_devices=["0", "1"])],
            HOST,
            ["g lists gpu_devices 0, 1 but nvidia-smi lists no GPU on this machine; they are"],
        ),
        (
            [ce("g", 2, memory=1, gpu_devices=["1", "7"])],
            HostFacts(8, 16000, ("0", "1")),
            ["g lists gpu_devices 7 that nvidia-smi does not list on this machine (it lists 0, 1)"],
        ),
        (
            [ce("g", 2, memory=1), ce("h", 2, memory=1, gpus=1)],
            HostFacts(8, 16000, ("0", "1")),
            ["promise 3 GPUs (g 2, h 1) but it has 2; they share its devices"],
        ),
        (
            [],
            HostFacts(8, 16000, (), "nvidia-smi failed (exit 9): no driver"),
            [
                "GPUs: nvidia-smi failed (exit 9): no driver; "
                "this machine's GPUs are taken to be none"
            ],
        ),
    ],
)
def test_host_warnings(ces: list[ComputeEnvironment], host: HostFacts, warnings: list[str]) -> None:
    found = host_warnings(ces, host)
    assert len(found) == len(warnings), found
    for line, part in zip(found, warnings, strict=True):
        assert part in line
