"""Fargate's rules (reference §9): the vCPU/memory combinations a job may ask for, and what a
Fargate job definition, job or compute environment may not have.

Each check returns problems as (location, message): the location is in model field names
(`("container_properties", "privileged")`), which a config turns into its key path and the
API into AWS's spelling (`where()`), so both name the field the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .base import aws_alias
from .enums import ResourceType

if TYPE_CHECKING:
    from .resources import ComputeResources, ContainerProperties, JobDefinition

Loc = tuple[str | int, ...]
Problem = tuple[Loc, str]


def _steps(first: int, last: int, step: int) -> tuple[int, ...]:
    return tuple(range(first, last + 1, step))


# VCPU -> the MEMORY values (MiB) Fargate allows with it.
FARGATE_SIZES: dict[float, tuple[int, ...]] = {
    0.25: (512, 1024, 2048),
    0.5: _steps(1024, 4096, 1024),
    1: _steps(2048, 8192, 1024),
    2: _steps(4096, 16384, 1024),
    4: _steps(8192, 30720, 1024),
    8: _steps(16384, 61440, 4096),
    16: _steps(32768, 122880, 8192),
}
FARGATE_LOG_DRIVERS = ("awslogs", "splunk")
MAX_FARGATE_SUBNETS = 16


def _memory_text(values: Sequence[int]) -> str:
    if len(values) <= 3:
        return ", ".join(str(v) for v in values)
    return f"{values[0]}-{values[-1]} in steps of {values[1] - values[0]}"


def size_problem(vcpus: float, memory: float) -> str | None:
    """Why (vCPUs, memory MiB) is not a Fargate size, or None when it is one."""
    allowed = FARGATE_SIZES.get(vcpus)
    if allowed is None:
        sizes = ", ".join(f"{v:g}" for v in FARGATE_SIZES)
        return f"VCPU {vcpus:g} is not a Fargate size; Fargate allows {sizes}"
    if memory not in allowed:
        return (
            f"MEMORY {memory:g} does not go with VCPU {vcpus:g} on Fargate; "
            f"with {vcpus:g} vCPU it must be {_memory_text(allowed)} MiB"
        )
    return None


def container_problems(c: ContainerProperties) -> list[Problem]:
    """What a Fargate container (a definition's, or a job's after overrides) may not have."""
    out: list[Problem] = []
    if c.vcpus is not None:
        out.append((("vcpus",), "not allowed on Fargate; give VCPU in resource_requirements"))
    if c.memory is not None:
        out.append((("memory",), "not allowed on Fargate; give MEMORY in resource_requirements"))
    vcpus = c.requirement(ResourceType.VCPU)
    memory = c.requirement(ResourceType.MEMORY)
    reqs: Loc = ("resource_requirements",)
    if vcpus is None or memory is None:
        missing = " and ".join(t for t, v in (("VCPU", vcpus), ("MEMORY", memory)) if v is None)
        out.append((reqs, f"Fargate needs {missing} here"))
    else:
        why = size_problem(vcpus, memory)
        if why is not None:
            out.append((reqs, why))
    for i, r in enumerate(c.resource_requirements or []):
        if r.type is ResourceType.GPU:
            out.append(((*reqs, i), "GPU is not available on Fargate"))
    if c.privileged:
        out.append((("privileged",), "not allowed on Fargate"))
    if c.ulimits:
        out.append((("ulimits",), "not allowed on Fargate"))
    linux = c.linux_parameters
    if linux is not None:
        for name in ("devices", "tmpfs", "shared_memory_size", "max_swap", "swappiness"):
            if getattr(linux, name) is not None:
                out.append((("linux_parameters", name), "not allowed on Fargate"))
    for i, volume in enumerate(c.volumes or []):
        if volume.host is not None:
            out.append((("volumes", i, "host"), "host volumes are not allowed on Fargate"))
    if not c.execution_role_arn:
        out.append((("execution_role_arn",), "is required on Fargate"))
    driver = (c.log_configuration or {}).get("logDriver")
    if driver is not None and driver not in FARGATE_LOG_DRIVERS:
        out.append(
            (
                ("log_configuration", "logDriver"),
                f"log driver {driver!r} is not allowed on Fargate (awslogs or splunk)",
            )
        )
    return out


def definition_problems(jd: JobDefinition) -> list[Problem]:
    """A job definition with platform_capabilities FARGATE."""
    if jd.node_properties is not None:
        return [(("type",), "multi-node parallel job definitions are not allowed on Fargate")]
    if jd.container_properties is None:
        return []
    return [
        (("container_properties", *loc), m)
        for loc, m in container_problems(jd.container_properties)
    ]


# Fields a Fargate compute environment may not be given.
_NOT_ON_FARGATE = (
    "min_vcpus",
    "desired_vcpus",
    "instance_types",
    "allocation_strategy",
    "bid_percentage",
    "image_id",
    "ec2_key_pair",
    "placement_group",
    "spot_iam_fleet_role",
    "launch_template",
    "ec2_configuration",
)


def compute_resources_problems(cr: ComputeResources, given: Iterable[str]) -> list[Problem]:
    """A FARGATE / FARGATE_SPOT compute environment's compute_resources; `given` are the
    fields the request or config set (a default minvCpus of 0 is not a mistake)."""
    given = set(given)
    out: list[Problem] = [
        ((name,), "not allowed on a Fargate compute environment")
        for name in _NOT_ON_FARGATE
        if name in given
    ]
    if len(cr.subnets or []) > MAX_FARGATE_SUBNETS:
        out.append(
            (("subnets",), f"at most {MAX_FARGATE_SUBNETS} on Fargate, not {len(cr.subnets or [])}")
        )
    return out


def where(loc: Loc) -> str:
    """A location in AWS's spelling: `containerProperties.linuxParameters.maxSwap`,
    `resourceRequirements[1]`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if part[:1].islower() and "_" not in part else aws_alias(part)
            out += ("." if out else "") + name
    return out


def problems_text(problems: Sequence[Problem], prefix: Loc = ()) -> str:
    """One line for an API error: `field: what; field: what`."""
    return "; ".join(f"{where((*prefix, *loc))}: {m}" for loc, m in problems)
