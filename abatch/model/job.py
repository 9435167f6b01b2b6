"""Jobs: the SubmitJob request, the internal job record, attempts, and the AWS JobDetail shape.

`JobRecord` and `Attempt` are plain slotted dataclasses, not pydantic models: the runtime holds
every unfinished job in memory and creates 100,000 of them in one submission, so the hot path
must not pay for validation twice. Requests are validated once, as pydantic models, at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, model_validator

from .base import AwsModel, JobName, jd_arn, job_arn, jq_arn
from .enums import ALL_STATUSES, JobStatus
from .resources import JobTimeout as JobTimeout
from .resources import (
    KeyValuePair,
    ResourceRequirement,
    RetryStrategy,
    _check_env_names,
)

LOG_GROUP = "/aws/batch/job"


class ContainerOverrides(AwsModel):
    command: list[str] | None = None
    environment: list[KeyValuePair] | None = None
    resource_requirements: list[ResourceRequirement] | None = None
    vcpus: int | None = Field(default=None, ge=1)
    memory: int | None = Field(default=None, ge=4)
    instance_type: str | None = None

    @model_validator(mode="after")
    def _checks(self) -> ContainerOverrides:
        _check_env_names(self.environment)
        for i, part in enumerate(self.command or []):
            if part == "":
                raise ValueError(f"command[{i}] is empty: override command elements must not be")
        return self


class ArrayProperties(AwsModel):
    size: int = Field(ge=2, le=10000)


class JobDependency(AwsModel):
    job_id: str | None = None
    type: str | None = None

    @model_validator(mode="after")
    def _type(self) -> JobDependency:
        if self.type is not None and self.type not in ("N_TO_N", "SEQUENTIAL"):
            raise ValueError(f"type must be N_TO_N or SEQUENTIAL, not {self.type!r}")
        return self


class NodePropertyOverride(AwsModel):
    target_nodes: str
    container_overrides: ContainerOverrides | None = None
    instance_types: list[str] | None = None


class NodeOverrides(AwsModel):
    num_nodes: int | None = Field(default=None, ge=1, le=1000)
    node_property_overrides: list[NodePropertyOverride] | None = None


class SubmitJobRequest(AwsModel):
    job_name: JobName
    job_queue: str
    job_definition: str
    array_properties: ArrayProperties | None = None
    depends_on: list[JobDependency] | None = Field(default=None, max_length=20)
    parameters: dict[str, str] | None = None
    container_overrides: ContainerOverrides | None = None
    node_overrides: NodeOverrides | None = None
    retry_strategy: RetryStrategy | None = None
    propagate_tags: bool | None = None
    timeout: JobTimeout | None = None
    tags: dict[str, str] | None = None
    share_identifier: str | None = Field(default=None, max_length=255)
    scheduling_priority_override: int | None = Field(default=None, ge=0, le=9999)
    # No ecsPropertiesOverride / eksPropertiesOverride / consumableResourcePropertiesOverride:
    # abatch runs no ECS-properties, EKS or consumable-resource jobs, so the model refuses
    # them as unknown fields rather than accepting and ignoring them.


@dataclass(slots=True)
class Attempt:
    """One run of a job on a host. Numbered from 1."""

    number: int
    ce: str
    task_id: str
    log_stream: str
    created_at: int
    started_at: int | None = None
    stopped_at: int | None = None
    exit_code: int | None = None
    reason: str | None = None
    status_reason: str | None = None
    pid: int | None = None
    instance_id: str | None = None  # the instance (or declared host) it ran on
    gpu_ids: tuple[str, ...] = ()  # the GPU devices this attempt holds on its host

    def to_aws(self) -> dict[str, Any]:
        container: dict[str, Any] = {
            "logStreamName": self.log_stream,
            "taskArn": f"arn:aws:ecs:us-east-1:123456789012:task/{self.ce}/{self.task_id}",
        }
        if self.instance_id is not None:
            container["containerInstanceArn"] = container_instance_arn(self.ce, self.instance_id)
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.reason is not None:
            container["reason"] = self.reason[:255]
        if self.gpu_ids:
            container["gpuIds"] = list(self.gpu_ids)  # a local field (ECS's name for it)
        out: dict[str, Any] = {"container": container}
        if self.started_at is not None:
            out["startedAt"] = self.started_at
        if self.stopped_at is not None:
            out["stoppedAt"] = self.stopped_at
        if self.status_reason is not None:
            out["statusReason"] = self.status_reason
        return out


@dataclass(slots=True)
class JobRecord:
    """A job as the runtime and store know it.

    `spec` holds the effective, merged AWS-shaped fields fixed at submit time (container,
    parameters, retryStrategy, timeout, tags, dependsOn, …) and is written once.
    The scalar fields are what changes as the job moves and what scheduling reads.
    """

    job_id: str
    job_name: str
    job_queue: str
    job_definition: str  # "name:revision"
    status: JobStatus
    created_at: int
    seq: int  # position key inside the queue: lower runs first
    vcpus: float
    memory: int
    gpus: int
    spec: dict[str, Any]
    status_reason: str | None = None
    started_at: int | None = None
    stopped_at: int | None = None
    ce: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    history: list[tuple[JobStatus, int]] = field(default_factory=list)
    is_cancelled: bool = False
    is_terminated: bool = False

    @property
    def arn(self) -> str:
        return job_arn(self.job_id)

    @property
    def is_multinode(self) -> bool:
        """A multi-node parallel job (the parent of its nodes `jobId#i`)."""
        return "nodeProperties" in self.spec and "nodeDetails" not in self.spec

    @property
    def multinode_parent(self) -> str | None:
        """For a node `jobId#i`, `jobId`."""
        parent: str | None = self.spec.get("_mnp")
        return parent

    @property
    def current_attempt(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def exit_code(self) -> int | None:
        a = self.current_attempt
        return a.exit_code if a else None

    def to_summary(self) -> dict[str, Any]:
        """AWS JobSummary."""
        out: dict[str, Any] = {
            "jobArn": self.arn,
            "jobId": self.job_id,
            "jobName": self.job_name,
            "createdAt": self.created_at,
            "status": self.status.value,
            "jobDefinition": _jd_arn_from_ref(self.job_definition),
        }
        if self.status_reason is not None:
            out["statusReason"] = self.status_reason
        if self.started_at is not None:
            out["startedAt"] = self.started_at
        if self.stopped_at is not None:
            out["stoppedAt"] = self.stopped_at
        a = self.current_attempt
        if a is not None and (a.exit_code is not None or a.reason is not None):
            c: dict[str, Any] = {}
            if a.exit_code is not None:
                c["exitCode"] = a.exit_code
            if a.reason is not None:
                c["reason"] = a.reason[:255]
            out["container"] = c
        return out

    def to_detail(self) -> dict[str, Any]:
        """AWS JobDetail: every field that applies, nothing that does not."""
        out: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.job_name,
            "jobId": self.job_id,
            "jobQueue": jq_arn(self.job_queue),
            "status": self.status.value,
            "createdAt": self.created_at,
            "jobDefinition": _jd_arn_from_ref(self.job_definition),
            "attempts": [a.to_aws() for a in self.attempts if a.started_at is not None],
        }
        if self.status_reason is not None:
            out["statusReason"] = self.status_reason
        if self.started_at is not None:
            out["startedAt"] = self.started_at
        if self.stopped_at is not None:
            out["stoppedAt"] = self.stopped_at
        for key in (
            "dependsOn",
            "parameters",
            "retryStrategy",
            "timeout",
            "tags",
            "propagateTags",
            "platformCapabilities",
            "shareIdentifier",
            "schedulingPriority",
            "arrayProperties",
            "nodeProperties",
            "nodeDetails",
        ):
            if self.spec.get(key) is not None:
                out[key] = self.spec[key]
        container = dict(self.spec.get("container") or {})
        a = self.current_attempt
        if a is not None:
            container["logStreamName"] = a.log_stream
            container["taskArn"] = f"arn:aws:ecs:us-east-1:123456789012:task/{a.ce}/{a.task_id}"
            if a.instance_id is not None:
                container["containerInstanceArn"] = container_instance_arn(a.ce, a.instance_id)
            if a.exit_code is not None:
                container["exitCode"] = a.exit_code
            if a.reason is not None:
                container["reason"] = a.reason[:255]
            if a.gpu_ids:
                container["gpuIds"] = list(a.gpu_ids)
        out["container"] = container
        out["isCancelled"] = self.is_cancelled
        out["isTerminated"] = self.is_terminated
        return out


def container_instance_arn(ce: str, instance_id: str) -> str:
    """ECS's container instance ARN, with the EC2 instance id where ECS has its own id, so
    that it names the instance (abatch has no separate ECS id)."""
    return f"arn:aws:ecs:us-east-1:123456789012:container-instance/{ce}/{instance_id}"


def _jd_arn_from_ref(ref: str) -> str:
    name, _, rev = ref.partition(":")
    return jd_arn(name, int(rev or 0))


def empty_status_summary() -> dict[str, int]:
    return {s.value: 0 for s in ALL_STATUSES}


def log_stream_name(definition_name: str, task_id: str) -> str:
    """AWS's format: `{first 200 chars of the JD name}/default/{task id}`."""
    return f"{definition_name[:200]}/default/{task_id}"
