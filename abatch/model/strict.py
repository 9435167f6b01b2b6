"""Strict mode's rules: the AWS limits that abatch relaxes by default, each written once.

Both entries use these: the runtime (requests through the API, schedules, config apply) and
config files (`abatch.config.strict`, which adds the file-only checks and `RELAXED_LIMITS`).
As in `abatch.model.fargate`, each check returns problems as (location, message): the
location is in model field names (`("container_properties", "image")`), which a config turns
into its key path and the API into AWS's spelling (`problems_text`), so both entries name the
field the same way and say the same thing about it.

The rules: `timeout.attemptDurationSeconds` is at least 60 (in a definition and in a
submission); every container (a definition's, each node range's of a multi-node one) has a
non-empty image; a VCPU requirement is a whole number of at least 1, written without a
decimal point or exponent, unless the definition is FARGATE (a definition's, a submission's
containerOverrides and nodeOverrides); at most 50 compute environments and 50 job queues (a
config file's count, and at apply that count with what the state directory already has; the
API's CreateComputeEnvironment and CreateJobQueue hold to it in every mode).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .enums import ResourceType
from .fargate import Loc, Problem, problems_text

if TYPE_CHECKING:
    from .job import SubmitJobRequest
    from .resources import ContainerProperties, JobDefinition, JobTimeout, ResourceRequirement

__all__ = [
    "AWS_MAX_PER_REGION",
    "AWS_MIN_TIMEOUT_SECONDS",
    "STRICT",
    "definition_problems",
    "image_problem",
    "per_region_problem",
    "problems_text",
    "request_problems",
    "timeout_problem",
    "vcpu_problem",
]

AWS_MIN_TIMEOUT_SECONDS = 60
AWS_MAX_PER_REGION = 50
STRICT = "in strict mode (AWS's limit)"


# The rules, on plain values: why a value breaks one, or None.


def timeout_problem(seconds: int | None) -> str | None:
    """An attempt duration (None: not given) below AWS's minimum."""
    if seconds is not None and seconds < AWS_MIN_TIMEOUT_SECONDS:
        return f"must be at least {AWS_MIN_TIMEOUT_SECONDS} {STRICT}, got {seconds}"
    return None


def image_problem(image: str | None) -> str | None:
    """A container without an image (an empty one names none either)."""
    return None if image else f"is required {STRICT}"


def vcpu_problem(value: str, *, fargate: bool) -> str | None:
    """A VCPU requirement's value (already a number above 0): on EC2 a whole number of at
    least 1, written as one: AWS refuses "1.0" ("Value 1.0 for type VCPU in
    resourceRequirement is not valid"). Fargate takes its own fractional sizes
    (abatch.model.fargate checks those)."""
    if fargate:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        return f"VCPU must be a whole number of at least 1 {STRICT} on EC2, got {value!r}"
    return None


def per_region_problem(count: int, noun: str) -> str | None:
    """`count` compute environments or job queues (`noun`) in one place."""
    if count > AWS_MAX_PER_REGION:
        return f"at most {AWS_MAX_PER_REGION} {noun} {STRICT}, not {count}"
    return None


# The rules applied to a model: a definition, or a SubmitJob request.


def definition_problems(jd: JobDefinition) -> list[Problem]:
    """What AWS would refuse in RegisterJobDefinition."""
    out = _timeout_problems(jd.timeout)
    containers: list[tuple[Loc, ContainerProperties]] = []
    if jd.container_properties is not None:
        containers.append((("container_properties",), jd.container_properties))
    ranges = jd.node_properties.node_range_properties if jd.node_properties else []
    for k, node in enumerate(ranges):
        if node.container is not None:
            loc: Loc = ("node_properties", "node_range_properties", k, "container")
            containers.append((loc, node.container))
    for where, container in containers:
        why = image_problem(container.image)
        if why is not None:
            out.append(((*where, "image"), why))
        out += _vcpu_problems(container.resource_requirements, where, fargate=jd.is_fargate)
    return out


def request_problems(req: SubmitJobRequest, *, fargate: bool) -> list[Problem]:
    """What AWS would refuse in a SubmitJob request for a definition (FARGATE or not);
    the definition's own limits are `definition_problems`."""
    out = _timeout_problems(req.timeout)
    if req.container_overrides is not None:
        out += _vcpu_problems(
            req.container_overrides.resource_requirements,
            ("container_overrides",),
            fargate=fargate,
        )
    overrides = req.node_overrides.node_property_overrides if req.node_overrides else None
    for k, node in enumerate(overrides or []):
        if node.container_overrides is not None:
            out += _vcpu_problems(
                node.container_overrides.resource_requirements,
                ("node_overrides", "node_property_overrides", k, "container_overrides"),
                fargate=fargate,
            )
    return out


def _timeout_problems(timeout: JobTimeout | None) -> list[Problem]:
    why = timeout_problem(timeout.attempt_duration_seconds if timeout else None)
    return [] if why is None else [(("timeout", "attempt_duration_seconds"), why)]


def _vcpu_problems(
    requirements: Sequence[ResourceRequirement] | None, loc: Loc, *, fargate: bool
) -> list[Problem]:
    out: list[Problem] = []
    for k, req in enumerate(requirements or []):
        if req.type is ResourceType.VCPU:
            why = vcpu_problem(req.value, fargate=fargate)
            if why is not None:
                out.append(((*loc, "resource_requirements", k, "value"), why))
    return out
