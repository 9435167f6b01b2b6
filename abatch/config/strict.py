"""Strict mode: AWS limits that abatch relaxes by default, enforced exactly.

By default abatch is kinder than AWS where AWS's limit only gets in the way of fast local
work (a 5-second timeout in a test, a job without an image on the process executor).
`strict = true` in `[runtime]` (or `load_config(..., strict=True)`) makes a config that
passes here one that AWS would accept too. `RELAXED_LIMITS` lists each limit and what the
default mode allows instead; the README prints it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from abatch.model.enums import ResourceType
from abatch.model.job import SubmitJobRequest
from abatch.model.resources import (
    ComputeEnvironment,
    ContainerProperties,
    JobDefinition,
    JobQueue,
    ResourceRequirement,
)

from .entries import Entry
from .jobs import JobEntry
from .lines import KeyPath
from .problems import Problems
from .schedules import ScheduleEntry

AWS_MIN_TIMEOUT_SECONDS = 60
AWS_MAX_PER_REGION = 50

RELAXED_LIMITS: dict[str, str] = {
    "timeout.attempt_duration_seconds is at least 60": "at least 1",
    "container_properties.image is required": (
        "may be left out (the process executor does not use it)"
    ),
    "a VCPU requirement is a whole number of at least 1 (EC2)": "any number above 0, e.g. 0.5",
    "at most 50 compute environments and 50 job queues": "no limit",
    "a rate schedule counts minutes, hours or days": "seconds too, e.g. rate(10 seconds)",
}

_STRICT = "in strict mode (AWS's limit)"


def check_strict(
    ces: Sequence[Entry[ComputeEnvironment]],
    queues: Sequence[Entry[JobQueue]],
    defs: Sequence[Entry[JobDefinition]],
    jobs: Sequence[JobEntry],
    problems: Problems,
    schedules: Sequence[ScheduleEntry] = (),
) -> None:
    for entries, noun in ((ces, "compute environments"), (queues, "job queues")):
        if len(entries) > AWS_MAX_PER_REGION:
            problems.add(
                entries[AWS_MAX_PER_REGION].prefix[:2],
                f"at most {AWS_MAX_PER_REGION} {noun} {_STRICT}, not {len(entries)}",
            )
    fargate: dict[str, bool] = {}
    for entry in defs:
        if entry.model is not None:
            fargate.setdefault(entry.model.job_definition_name, _is_fargate(entry.model))
            _check_definition(entry, entry.model, problems)
    for job in jobs:
        if job.job is not None:
            _check_request(job.job.request, job.path, fargate, problems)
    for sched in schedules:
        if sched.parsed is not None and not sched.parsed.aws_compatible:
            problems.add(
                (*sched.path, "schedule_expression"),
                f"rate in seconds is an abatch extension, refused {_STRICT}: "
                "the smallest unit is the minute",
            )
        if sched.schedule is not None:
            _check_request(sched.schedule.request, (*sched.path, "job"), fargate, problems)


def _check_request(
    request: SubmitJobRequest, prefix: KeyPath, fargate: dict[str, bool], problems: Problems
) -> None:
    timeout = request.timeout.attempt_duration_seconds if request.timeout else None
    if timeout is not None and timeout < AWS_MIN_TIMEOUT_SECONDS:
        problems.add((*prefix, "timeout", "attempt_duration_seconds"), _too_short(timeout))
    overrides = request.container_overrides
    definition = request.job_definition.partition(":")[0]
    if overrides is not None and not fargate.get(definition, False):
        for k, value in _fractional_vcpus(overrides.resource_requirements):
            path = (*prefix, "container_overrides", "resource_requirements", k, "value")
            problems.add(path, _whole_vcpus(value))


def _check_definition(entry: Entry[Any], model: JobDefinition, problems: Problems) -> None:
    timeout = model.timeout.attempt_duration_seconds if model.timeout else None
    if timeout is not None and timeout < AWS_MIN_TIMEOUT_SECONDS:
        problems.add(entry.path(("timeout", "attempt_duration_seconds")), _too_short(timeout))
    containers: list[tuple[tuple[int | str, ...], ContainerProperties]] = []
    if model.container_properties is not None:
        containers.append((("container_properties",), model.container_properties))
    for k, node in enumerate(
        model.node_properties.node_range_properties if model.node_properties else []
    ):
        if node.container is not None:
            containers.append(
                (("node_properties", "node_range_properties", k, "container"), node.container)
            )
    for loc, container in containers:
        if container.image is None:
            problems.add(entry.path((*loc, "image")), f"is required {_STRICT}")
        if _is_fargate(model):
            continue
        for k, value in _fractional_vcpus(container.resource_requirements):
            problems.add(
                entry.path((*loc, "resource_requirements", k, "value")), _whole_vcpus(value)
            )


def _is_fargate(model: JobDefinition) -> bool:
    return "FARGATE" in (model.platform_capabilities or [])


def _fractional_vcpus(
    requirements: list[ResourceRequirement] | None,
) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    for k, req in enumerate(requirements or []):
        if req.type is ResourceType.VCPU:
            number = float(req.value)
            if number < 1 or not number.is_integer():
                out.append((k, req.value))
    return out


def _too_short(seconds: int) -> str:
    return f"must be at least {AWS_MIN_TIMEOUT_SECONDS} {_STRICT}, got {seconds}"


def _whole_vcpus(value: str) -> str:
    return f"VCPU must be a whole number of at least 1 {_STRICT} on EC2, got {value!r}"
