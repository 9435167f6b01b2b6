"""Resolve a job definition plus SubmitJob overrides into the job's effective spec, and a spec
plus an attempt into what an executor runs (reference §5, §6).

Merge rules: command replaces; environment merges by name (override wins); resource
requirements replace per type; legacy vcpus/memory overrides do not beat a VCPU/MEMORY given
in the definition's resourceRequirements; retryStrategy, timeout and propagateTags replace
wholesale; parameters merge with submit values winning. `Ref::name` is substituted only in
`command`, as a whole element or as a token inside a longer element; unresolved placeholders
stay literal.
"""

from __future__ import annotations

import re
from typing import Any

from abatch.model.job import ContainerOverrides, SubmitJobRequest
from abatch.model.resources import JobDefinition

DEFAULT_VCPUS = 1.0
DEFAULT_MEMORY_MIB = 512
_REF = re.compile(r"Ref::([A-Za-z0-9_]+)")


def effective_spec(
    jd: JobDefinition, req: SubmitJobRequest, jd_aws: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The AWS-shaped fields a JobDetail echoes back, fixed at submit time. `jd_aws` is
    `jd.to_aws()` when the caller has it cached (it is read, never changed)."""
    if jd_aws is None:
        jd_aws = jd.to_aws()
    container = merge_container(jd_aws.get("containerProperties") or {}, req.container_overrides)
    parameters = dict(jd.parameters or {})
    parameters.update(req.parameters or {})
    spec: dict[str, Any] = {"container": container, "parameters": parameters}
    if req.retry_strategy is not None:
        spec["retryStrategy"] = req.retry_strategy.to_aws()
    elif "retryStrategy" in jd_aws:
        spec["retryStrategy"] = jd_aws["retryStrategy"]
    if req.timeout is not None and req.timeout.attempt_duration_seconds is not None:
        spec["timeout"] = req.timeout.to_aws()
    elif "timeout" in jd_aws:
        spec["timeout"] = jd_aws["timeout"]
    propagate = req.propagate_tags if req.propagate_tags is not None else jd.propagate_tags
    if propagate is not None:
        spec["propagateTags"] = propagate
    tags = dict(jd.tags or {}) if propagate else {}
    tags.update(req.tags or {})
    if tags:
        spec["tags"] = tags
    spec["platformCapabilities"] = list(jd.platform_capabilities or ["EC2"])
    if req.share_identifier is not None:
        spec["shareIdentifier"] = req.share_identifier
    priority = req.scheduling_priority_override
    if priority is None:
        priority = jd.scheduling_priority
    if priority is not None:
        spec["schedulingPriority"] = priority
    return spec


def merge_container(base: dict[str, Any], ov: ContainerOverrides | None) -> dict[str, Any]:
    """`base` (AWS containerProperties) with SubmitJob's containerOverrides merged in."""
    container: dict[str, Any] = dict(base)
    if ov is not None:
        if ov.command is not None:
            container["command"] = list(ov.command)
        if ov.environment is not None:
            env = {kv["name"]: kv.get("value", "") for kv in container.get("environment") or []}
            for kv in ov.environment:
                env[kv.name] = kv.value
            container["environment"] = [{"name": k, "value": v} for k, v in env.items()]
        reqs = {r["type"]: r for r in container.get("resourceRequirements") or []}
        if ov.resource_requirements is not None:
            for r in ov.resource_requirements:
                reqs[r.type.value] = {"type": r.type.value, "value": r.value}
        if ov.vcpus is not None and "VCPU" not in reqs:
            container["vcpus"] = ov.vcpus
        if ov.memory is not None and "MEMORY" not in reqs:
            container["memory"] = ov.memory
        if reqs:
            container["resourceRequirements"] = list(reqs.values())
        if ov.instance_type is not None:
            container["instanceType"] = ov.instance_type
    return container


def resources_of(container: dict[str, Any]) -> tuple[float, int, int]:
    """(vCPUs, memory MiB, GPUs) the job holds while it runs."""
    reqs = {r["type"]: r["value"] for r in container.get("resourceRequirements") or []}
    vcpus = float(reqs.get("VCPU", container.get("vcpus") or DEFAULT_VCPUS))
    memory = int(float(reqs.get("MEMORY", container.get("memory") or DEFAULT_MEMORY_MIB)))
    gpus = int(float(reqs.get("GPU", 0)))
    return vcpus, memory, gpus


def substitute(command: list[str], parameters: dict[str, str]) -> list[str]:
    out = []
    for part in command:
        if part.startswith("Ref::") and part[5:] in parameters:
            out.append(parameters[part[5:]])
        elif "Ref::" in part:
            out.append(_REF.sub(lambda m: parameters.get(m.group(1), m.group(0)), part))
        else:
            out.append(part)
    return out


def job_environment(
    container: dict[str, Any],
    *,
    job_id: str,
    attempt: int,
    queue: str,
    ce: str,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """User variables plus the AWS_BATCH_* ones (which users cannot set)."""
    env = {kv["name"]: kv.get("value", "") for kv in container.get("environment") or []}
    env["AWS_BATCH_JOB_ID"] = job_id
    env["AWS_BATCH_JOB_ATTEMPT"] = str(attempt)
    env["AWS_BATCH_JQ_NAME"] = queue
    env["AWS_BATCH_CE_NAME"] = ce
    if extra:
        env.update(extra)
    return env
