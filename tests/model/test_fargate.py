"""Fargate's rules as tables: every vCPU/memory combination of reference §9, valid and not,
and what a Fargate container or compute environment may not have."""

from __future__ import annotations

from typing import Any

import pytest

from abatch.model.fargate import (
    FARGATE_SIZES,
    compute_resources_problems,
    container_problems,
    size_problem,
    where,
)
from abatch.model.resources import ComputeResources, ContainerProperties

# Reference §9, written out the long way.
TABLE = {
    0.25: [512, 1024, 2048],
    0.5: [1024, 2048, 3072, 4096],
    1: list(range(2048, 8192 + 1, 1024)),
    2: list(range(4096, 16384 + 1, 1024)),
    4: list(range(8192, 30720 + 1, 1024)),
    8: list(range(16384, 61440 + 1, 4096)),
    16: list(range(32768, 122880 + 1, 8192)),
}


def test_the_table_is_the_reference() -> None:
    assert {k: list(v) for k, v in FARGATE_SIZES.items()} == TABLE
    assert sum(len(v) for v in TABLE.values()) == 3 + 4 + 7 + 13 + 23 + 12 + 12


@pytest.mark.parametrize(("vcpus", "memory"), [(v, m) for v, ms in TABLE.items() for m in ms])
def test_every_valid_combination(vcpus: float, memory: int) -> None:
    assert size_problem(vcpus, memory) is None


@pytest.mark.parametrize(
    ("vcpus", "memory", "message"),
    [
        (0.25, 3072, "with 0.25 vCPU it must be 512, 1024, 2048 MiB"),
        (0.25, 256, "MEMORY 256 does not go with VCPU 0.25"),
        (0.5, 512, "with 0.5 vCPU it must be 1024-4096 in steps of 1024 MiB"),
        (0.5, 5120, "does not go with VCPU 0.5"),
        (1, 1024, "with 1 vCPU it must be 2048-8192 in steps of 1024 MiB"),
        (1, 2560, "does not go with VCPU 1"),
        (2, 17408, "does not go with VCPU 2"),
        (4, 31744, "does not go with VCPU 4"),
        (8, 17408, "with 8 vCPU it must be 16384-61440 in steps of 4096 MiB"),
        (8, 65536, "does not go with VCPU 8"),
        (16, 36864, "with 16 vCPU it must be 32768-122880 in steps of 8192 MiB"),
        (16, 131072, "does not go with VCPU 16"),
        (0.3, 1024, "VCPU 0.3 is not a Fargate size; Fargate allows 0.25, 0.5, 1, 2, 4, 8, 16"),
        (3, 8192, "VCPU 3 is not a Fargate size"),
        (32, 65536, "VCPU 32 is not a Fargate size"),
    ],
)
def test_invalid_combinations(vcpus: float, memory: int, message: str) -> None:
    problem = size_problem(vcpus, memory)
    assert problem is not None and message in problem


GOOD: dict[str, Any] = {
    "image": "busybox",
    "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    "resourceRequirements": [{"type": "VCPU", "value": "0.25"}, {"type": "MEMORY", "value": "512"}],
    "logConfiguration": {"logDriver": "awslogs"},
    "volumes": [{"name": "efs", "efsVolumeConfiguration": {"fileSystemId": "fs-1"}}],
}


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        ({}, []),
        (
            {"resourceRequirements": [], "vcpus": 1, "memory": 2048},
            [
                ("vcpus", "give VCPU in resource_requirements"),
                ("memory", "give MEMORY in resource_requirements"),
                ("resourceRequirements", "Fargate needs VCPU and MEMORY here"),
            ],
        ),
        (
            {
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "2048"},
                    {"type": "GPU", "value": "1"},
                ]
            },
            [("resourceRequirements[2]", "GPU is not available on Fargate")],
        ),
        ({"privileged": True}, [("privileged", "not allowed on Fargate")]),
        ({"privileged": False}, []),
        (
            {"ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 2}]},
            [("ulimits", "not allowed on Fargate")],
        ),
        (
            {
                "linuxParameters": {
                    "devices": [{"hostPath": "/dev/fuse"}],
                    "tmpfs": [{"containerPath": "/t", "size": 1}],
                    "sharedMemorySize": 64,
                    "maxSwap": 10,
                    "swappiness": 5,
                    "initProcessEnabled": True,
                }
            },
            [
                (f"linuxParameters.{name}", "not allowed on Fargate")
                for name in ("devices", "tmpfs", "sharedMemorySize", "maxSwap", "swappiness")
            ],
        ),
        (
            {"volumes": [{"name": "h", "host": {"sourcePath": "/srv"}}]},
            [("volumes[0].host", "host volumes are not allowed on Fargate")],
        ),
        ({"executionRoleArn": None}, [("executionRoleArn", "is required on Fargate")]),
        (
            {"logConfiguration": {"logDriver": "json-file"}},
            [("logConfiguration.logDriver", "log driver 'json-file' is not allowed")],
        ),
    ],
)
def test_container_rules(change: dict[str, Any], problems: list[tuple[str, str]]) -> None:
    body = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    found = container_problems(ContainerProperties.model_validate(body))
    assert len(found) == len(problems)
    for (loc, message), (field, part) in zip(found, problems, strict=True):
        assert where(loc) == field and part in message


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"type": "FARGATE", "maxvCpus": 4, "subnets": ["s"]}, []),
        (
            {
                "type": "FARGATE_SPOT",
                "maxvCpus": 4,
                "minvCpus": 0,
                "desiredvCpus": 1,
                "instanceTypes": ["optimal"],
                "allocationStrategy": "BEST_FIT",
                "bidPercentage": 50,
            },
            ["minvCpus", "desiredvCpus", "instanceTypes", "allocationStrategy", "bidPercentage"],
        ),
        ({"type": "FARGATE", "maxvCpus": 4, "subnets": [f"s{i}" for i in range(17)]}, ["subnets"]),
        ({"type": "FARGATE", "maxvCpus": 4, "subnets": [f"s{i}" for i in range(16)]}, []),
    ],
)
def test_compute_resources_rules(body: dict[str, Any], fields: list[str]) -> None:
    cr = ComputeResources.model_validate(body)
    found = compute_resources_problems(cr, cr.model_fields_set)
    assert [where(loc) for loc, _ in found] == fields
