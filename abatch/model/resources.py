"""Compute environments, job queues and job definitions, shaped as AWS shapes them.

Local settings that AWS has no field for (executor kind, memory and GPUs of a local compute
environment) are plain attributes here, named clearly, and left out of the AWS JSON.
Validation limits are the reference's (../shared/reference/aws-batch.md §11).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field, field_validator, model_validator

from .base import AwsModel, ResourceName, ce_arn, jd_arn, jq_arn
from .catalog import unknown_instance_type
from .enums import (
    AllocationStrategy,
    CEType,
    ComputeResourceType,
    ExecutorKind,
    JobDefinitionStatus,
    JobDefinitionType,
    ResourceState,
    ResourceStatus,
    ResourceType,
    RetryAction,
)

RESERVED_ENV_PREFIX = "AWS_BATCH"
_PATTERN_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.: \t")


# ---------------------------------------------------------------- compute environments


class ComputeResources(AwsModel):
    type: ComputeResourceType = ComputeResourceType.EC2
    max_vcpus: int = Field(gt=0)
    min_vcpus: int = Field(default=0, ge=0)
    desired_vcpus: int | None = Field(default=None, ge=0)
    allocation_strategy: AllocationStrategy | None = None
    instance_types: list[str] | None = None
    subnets: list[str] | None = None
    security_group_ids: list[str] | None = None
    instance_role: str | None = None
    bid_percentage: int | None = Field(default=None, ge=0, le=100)
    tags: dict[str, str] | None = None
    # EC2 plumbing with no local meaning: stored and echoed back, as AWS clients expect.
    image_id: str | None = Field(default=None, max_length=256)
    ec2_key_pair: str | None = Field(default=None, max_length=256)
    placement_group: str | None = Field(default=None, max_length=256)
    spot_iam_fleet_role: str | None = Field(default=None, max_length=2048)
    launch_template: dict[str, str] | None = None
    ec2_configuration: list[dict[str, str]] | None = Field(default=None, max_length=2)

    @field_validator("instance_types")
    @classmethod
    def _instance_types(cls, value: list[str] | None) -> list[str] | None:
        for entry in value or []:
            problem = unknown_instance_type(entry)
            if problem is not None:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _min_le_max(self) -> ComputeResources:
        if self.min_vcpus > self.max_vcpus:
            raise ValueError(
                f"min_vcpus ({self.min_vcpus:g}) is larger than max_vcpus ({self.max_vcpus:g})"
            )
        return self


_DOCKER_SCHEMES = ("unix://", "tcp://", "ssh://")


class UnmanagedHost(AwsModel):
    """A host of an UNMANAGED compute environment (a local setting): this machine when
    `docker_host` is absent, else the Docker engine at that endpoint."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    vcpus: float = Field(gt=0, le=4096)
    memory: int = Field(gt=0, description="MiB")
    gpus: int = Field(default=0, ge=0, le=64)
    docker_host: str | None = None

    @field_validator("docker_host")
    @classmethod
    def _docker_host(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_DOCKER_SCHEMES):
            raise ValueError(f"docker_host {value!r} must start with unix://, tcp:// or ssh://")
        return value

    @property
    def host_key(self) -> str:
        """Names the machine: its Docker endpoint, or "local" for this one."""
        return self.docker_host or "local"


# Fields AWS has no name for. All but `hosts` can also be given as `abatch:` tags.
TAG_CE_SETTINGS = frozenset(
    {
        "executor",
        "memory",
        "gpus",
        "gpu_devices",
        "docker_host",
        "keep_containers",
        "instance_idle_seconds",
        "spot_reclaim_rate",
    }
)
LOCAL_CE_SETTINGS = TAG_CE_SETTINGS | {"hosts"}
DEFAULT_INSTANCE_IDLE_SECONDS = 60.0


class UpdatePolicy(AwsModel):
    """Stored and echoed back (an update here never replaces instances, so it has nothing
    to govern)."""

    terminate_jobs_on_update: bool = False
    job_execution_timeout_minutes: int = Field(default=30, ge=1, le=360)


class ComputeEnvironment(AwsModel):
    compute_environment_name: ResourceName
    type: CEType = CEType.MANAGED
    state: ResourceState = ResourceState.ENABLED
    compute_resources: ComputeResources | None = None
    unmanaged_vcpus: int | None = Field(default=None, ge=0)
    service_role: str | None = None
    update_policy: UpdatePolicy | None = None
    tags: dict[str, str] | None = None
    # Local settings (not AWS fields).
    executor: ExecutorKind = ExecutorKind.PROCESS
    memory: int | None = Field(default=None, gt=0, description="MiB; default: the host's")
    gpus: int | None = Field(default=None, ge=0, description="default: the host's GPUs")
    gpu_devices: list[str] | None = Field(default=None, description="GPU ids, e.g. ['0', '1']")
    docker_host: str | None = Field(default=None, description="unix://, tcp://, ssh://")
    keep_containers: bool = False
    instance_idle_seconds: float = Field(
        default=DEFAULT_INSTANCE_IDLE_SECONDS,
        ge=0,
        le=86400,
        description="an instance with no job for this long is retired (down to minvCpus)",
    )
    spot_reclaim_rate: float = Field(
        default=0.0, ge=0, le=3600, description="SPOT: reclaims per instance per hour"
    )
    hosts: list[UnmanagedHost] | None = Field(default=None, max_length=256)
    # Set by the runtime.
    status: ResourceStatus = ResourceStatus.VALID
    status_reason: str | None = "ComputeEnvironment Healthy"

    @field_validator("docker_host")
    @classmethod
    def _docker_host(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(_DOCKER_SCHEMES):
            raise ValueError(f"docker_host {value!r} must start with unix://, tcp:// or ssh://")
        return value

    @field_validator("gpu_devices", mode="before")
    @classmethod
    def _gpu_devices_text(cls, value: Any) -> Any:
        # The `abatch:gpu-devices` tag gives them as "0,1".
        if isinstance(value, str):
            return [part.strip() for part in value.split(",")]
        return value

    @field_validator("gpu_devices")
    @classmethod
    def _gpu_devices(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for item in value:
            if not item or "," in item or item != item.strip():
                raise ValueError(
                    f"GPU device id {item!r} must be a non-empty index or UUID without "
                    "commas or spaces"
                )
        if len(set(value)) != len(value):
            raise ValueError("gpu_devices lists a device more than once")
        return value

    @model_validator(mode="after")
    def _resources(self) -> ComputeEnvironment:
        if self.type is CEType.MANAGED and self.compute_resources is None:
            raise ValueError("a MANAGED compute environment needs compute_resources")
        if self.type is CEType.UNMANAGED and self.compute_resources is not None:
            raise ValueError("an UNMANAGED compute environment takes no compute_resources")
        if self.hosts is not None:
            self._check_hosts(self.hosts)
        cr = self.compute_resources
        if self.spot_reclaim_rate and (
            cr is None or cr.type is not ComputeResourceType.SPOT or not cr.instance_types
        ):
            raise ValueError(
                "spot_reclaim_rate applies only to a SPOT compute environment with "
                "compute_resources.instance_types (it reclaims its instances)"
            )
        if self.gpu_devices and self.gpus is not None and self.gpus > len(self.gpu_devices):
            raise ValueError(
                f"gpus ({self.gpus}) is more than the {len(self.gpu_devices)} gpu_devices listed"
            )
        return self

    def _check_hosts(self, hosts: list[UnmanagedHost]) -> None:
        if self.type is not CEType.UNMANAGED:
            raise ValueError(
                "hosts: only an UNMANAGED compute environment takes hosts (a MANAGED one "
                "launches its own instances)"
            )
        if not hosts:
            raise ValueError("hosts: give at least one host, or leave hosts out")
        seen: set[str] = set()
        for i, host in enumerate(hosts):
            if host.name in seen:
                raise ValueError(f"hosts[{i}].name: another host is named {host.name!r}")
            seen.add(host.name)
            if host.docker_host is not None and self.executor is not ExecutorKind.DOCKER:
                raise ValueError(
                    f'hosts[{i}].docker_host: a Docker endpoint needs executor = "docker" '
                    f"(the process executor runs on this machine only)"
                )

    @property
    def arn(self) -> str:
        return ce_arn(self.compute_environment_name)

    @property
    def max_vcpus(self) -> float:
        if self.compute_resources is not None:
            return self.compute_resources.max_vcpus
        if self.unmanaged_vcpus is None and self.hosts:
            return sum(h.vcpus for h in self.hosts)
        return self.unmanaged_vcpus or 0.0

    def to_aws(self) -> dict[str, Any]:
        # Local settings are stored with the resource (model_dump keeps them) but are not
        # AWS fields: the API reports them as `abatch:` tags instead.
        out = self.model_dump(
            mode="json", by_alias=True, exclude_none=True, exclude=set(LOCAL_CE_SETTINGS)
        )
        out["computeEnvironmentArn"] = self.arn
        out["ecsClusterArn"] = (
            f"arn:aws:ecs:us-east-1:123456789012:cluster/{self.compute_environment_name}"
        )
        return out


# ---------------------------------------------------------------- job queues


class ComputeEnvironmentOrder(AwsModel):
    order: int = Field(ge=0)
    compute_environment: str


class JobStateTimeLimitAction(AwsModel):
    reason: str = Field(min_length=1)
    state: str = "RUNNABLE"
    max_time_seconds: int = Field(ge=600, le=86400)
    action: str = "CANCEL"

    @field_validator("state")
    @classmethod
    def _state(cls, v: str) -> str:
        if v != "RUNNABLE":
            raise ValueError("state must be RUNNABLE")
        return v

    @field_validator("action")
    @classmethod
    def _action(cls, v: str) -> str:
        if v.upper() != "CANCEL":
            raise ValueError("action must be CANCEL")
        return v.upper()


class JobQueue(AwsModel):
    job_queue_name: ResourceName
    priority: int = Field(ge=0, le=1000)
    state: ResourceState = ResourceState.ENABLED
    compute_environment_order: list[ComputeEnvironmentOrder] = Field(min_length=1, max_length=3)
    scheduling_policy_arn: str | None = None
    job_state_time_limit_actions: list[JobStateTimeLimitAction] | None = None
    tags: dict[str, str] | None = None
    status: ResourceStatus = ResourceStatus.VALID
    status_reason: str | None = "JobQueue Healthy"

    @model_validator(mode="after")
    def _unique_orders(self) -> JobQueue:
        orders = [o.order for o in self.compute_environment_order]
        if len(set(orders)) != len(orders):
            raise ValueError("compute_environment_order has two entries with the same order")
        return self

    @property
    def arn(self) -> str:
        return jq_arn(self.job_queue_name)

    def ce_names(self) -> list[str]:
        """Compute environment names (ARNs reduced to names) in ascending order."""
        from .base import name_from_ref

        ordered = sorted(self.compute_environment_order, key=lambda o: o.order)
        return [name_from_ref(o.compute_environment, "compute-environment") for o in ordered]

    def to_aws(self) -> dict[str, Any]:
        out = super().to_aws()
        out["jobQueueArn"] = self.arn
        out["computeEnvironmentOrder"] = [
            {"order": o.order, "computeEnvironment": ce_arn(n)}
            for o, n in zip(
                sorted(self.compute_environment_order, key=lambda o: o.order),
                self.ce_names(),
                strict=True,
            )
        ]
        return out


# ---------------------------------------------------------------- job definitions


class KeyValuePair(AwsModel):
    name: str = Field(min_length=1)
    value: str = ""


class ResourceRequirement(AwsModel):
    type: ResourceType
    value: str

    @model_validator(mode="after")
    def _value(self) -> ResourceRequirement:
        try:
            number = float(self.value)
        except ValueError:
            raise ValueError(f"{self.type.value} value {self.value!r} is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"{self.type.value} value {self.value!r} is not a finite number")
        if self.type is ResourceType.MEMORY and number < 4:
            raise ValueError(f"MEMORY must be at least 4 MiB, got {self.value}")
        if self.type is ResourceType.VCPU and number <= 0:
            raise ValueError(f"VCPU must be greater than 0, got {self.value}")
        if self.type is ResourceType.GPU and (number < 0 or number != int(number)):
            raise ValueError(f"GPU must be a whole number of at least 0, got {self.value}")
        return self


class Host(AwsModel):
    source_path: str | None = None


class Volume(AwsModel):
    name: str | None = None
    host: Host | None = None
    efs_volume_configuration: dict[str, Any] | None = None


class MountPoint(AwsModel):
    container_path: str | None = None
    read_only: bool | None = None
    source_volume: str | None = None


class Ulimit(AwsModel):
    name: str
    soft_limit: int
    hard_limit: int


class Device(AwsModel):
    host_path: str
    container_path: str | None = None
    permissions: list[str] | None = None


class Tmpfs(AwsModel):
    container_path: str
    size: int = Field(gt=0)
    mount_options: list[str] | None = None


class LinuxParameters(AwsModel):
    devices: list[Device] | None = None
    init_process_enabled: bool | None = None
    shared_memory_size: int | None = Field(default=None, gt=0)
    tmpfs: list[Tmpfs] | None = None
    max_swap: int | None = Field(default=None, ge=0)
    swappiness: int | None = Field(default=None, ge=0, le=100)


def _check_env_names(env: list[KeyValuePair] | None) -> None:
    for kv in env or []:
        if kv.name.startswith(RESERVED_ENV_PREFIX):
            raise ValueError(
                f"environment variable {kv.name!r}: names starting with AWS_BATCH are reserved"
            )


class ContainerProperties(AwsModel):
    image: str | None = Field(default=None, max_length=255)
    command: list[str] | None = None
    environment: list[KeyValuePair] | None = None
    resource_requirements: list[ResourceRequirement] | None = None
    vcpus: int | None = Field(default=None, ge=1)
    memory: int | None = Field(default=None, ge=4)
    volumes: list[Volume] | None = None
    mount_points: list[MountPoint] | None = None
    linux_parameters: LinuxParameters | None = None
    ulimits: list[Ulimit] | None = None
    user: str | None = None
    privileged: bool | None = None
    readonly_root_filesystem: bool | None = None
    job_role_arn: str | None = None
    execution_role_arn: str | None = None
    instance_type: str | None = None
    log_configuration: dict[str, Any] | None = None
    secrets: list[dict[str, Any]] | None = None
    network_configuration: dict[str, Any] | None = None
    fargate_platform_configuration: dict[str, Any] | None = None
    ephemeral_storage: dict[str, Any] | None = None
    runtime_platform: dict[str, Any] | None = None
    repository_credentials: dict[str, Any] | None = None
    enable_execute_command: bool | None = None

    @model_validator(mode="after")
    def _checks(self) -> ContainerProperties:
        _check_env_names(self.environment)
        types = [r.type for r in self.resource_requirements or []]
        for t in set(types):
            if types.count(t) > 1:
                raise ValueError(f"resource_requirements lists {t.value} more than once")
        if self.vcpus is not None and ResourceType.VCPU in types:
            raise ValueError("give VCPU either in vcpus or in resource_requirements, not both")
        if self.memory is not None and ResourceType.MEMORY in types:
            raise ValueError("give MEMORY either in memory or in resource_requirements, not both")
        return self

    def requirement(self, kind: ResourceType) -> float | None:
        for r in self.resource_requirements or []:
            if r.type is kind:
                return float(r.value)
        return None


class EvaluateOnExit(AwsModel):
    on_status_reason: str | None = Field(default=None, max_length=512)
    on_reason: str | None = Field(default=None, max_length=512)
    on_exit_code: str | None = Field(default=None, max_length=512)
    action: RetryAction

    @field_validator("action", mode="before")
    @classmethod
    def _action_upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _patterns(self) -> EvaluateOnExit:
        for field in ("on_status_reason", "on_reason"):
            value = getattr(self, field)
            if value is None:
                continue
            body = value[:-1] if value.endswith("*") else value
            bad = sorted(set(body) - _PATTERN_CHARS)
            if bad:
                raise ValueError(
                    f"{field} {value!r} has characters not allowed in a pattern: {''.join(bad)!r}"
                    " (letters, digits, '.', ':', spaces, and a final '*')"
                )
        if self.on_exit_code is not None:
            body = self.on_exit_code
            body = body[:-1] if body.endswith("*") else body
            if body and not body.isdigit():
                raise ValueError(
                    f"on_exit_code {self.on_exit_code!r} must be digits, optionally ending in '*'"
                )
        return self


class RetryStrategy(AwsModel):
    attempts: int | None = Field(default=None, ge=1, le=10)
    evaluate_on_exit: list[EvaluateOnExit] | None = Field(default=None, max_length=5)

    @model_validator(mode="after")
    def _attempts_needed(self) -> RetryStrategy:
        if self.evaluate_on_exit and self.attempts is None:
            raise ValueError("attempts is required when evaluate_on_exit is given")
        return self


class JobTimeout(AwsModel):
    # AWS requires >= 60; the default (relaxed) mode accepts >= 1 for fast local testing.
    attempt_duration_seconds: int | None = Field(default=None, ge=1)


class NodeRangeProperty(AwsModel):
    target_nodes: str
    container: ContainerProperties | None = None
    instance_types: list[str] | None = None


class NodeProperties(AwsModel):
    num_nodes: int = Field(ge=1, le=1000)
    main_node: int = Field(ge=0)
    node_range_properties: list[NodeRangeProperty] = Field(min_length=1, max_length=5)

    @model_validator(mode="after")
    def _ranges(self) -> NodeProperties:
        from .nodes import assign_nodes

        if self.main_node >= self.num_nodes:
            raise ValueError(
                f"mainNode {self.main_node} must be less than numNodes {self.num_nodes}"
            )
        for i, rng in enumerate(self.node_range_properties):
            if rng.container is None:
                raise ValueError(
                    f"nodeRangeProperties[{i}] (targetNodes {rng.target_nodes!r}) needs a container"
                )
        assign_nodes([r.target_nodes for r in self.node_range_properties], self.num_nodes)
        return self


class JobDefinition(AwsModel):
    job_definition_name: ResourceName
    type: JobDefinitionType = JobDefinitionType.CONTAINER
    parameters: dict[str, str] | None = None
    scheduling_priority: int | None = Field(default=None, ge=0, le=9999)
    container_properties: ContainerProperties | None = None
    node_properties: NodeProperties | None = None
    retry_strategy: RetryStrategy | None = None
    propagate_tags: bool | None = None
    timeout: JobTimeout | None = None
    tags: dict[str, str] | None = None
    platform_capabilities: list[str] | None = None
    # Set when registered.
    revision: int | None = None
    status: JobDefinitionStatus | None = None

    @model_validator(mode="after")
    def _body(self) -> JobDefinition:
        if self.type is JobDefinitionType.CONTAINER and self.container_properties is None:
            raise ValueError("a container job definition needs container_properties")
        if self.type is JobDefinitionType.MULTINODE and self.node_properties is None:
            raise ValueError("a multinode job definition needs node_properties")
        if len(self.tags or {}) > 50:
            raise ValueError("at most 50 tags")
        caps = self.platform_capabilities
        if caps is not None and (len(caps) != 1 or caps[0] not in ("EC2", "FARGATE")):
            raise ValueError(f"platform_capabilities must be ['EC2'] or ['FARGATE'], not {caps}")
        return self

    @property
    def arn(self) -> str:
        return jd_arn(self.job_definition_name, self.revision or 0)

    @property
    def is_fargate(self) -> bool:
        return "FARGATE" in (self.platform_capabilities or [])

    def same_content(self, other: JobDefinition) -> bool:
        """True when registering `other` would change nothing (revision and status aside)."""
        skip = {"revision", "status"}
        return self.model_dump(exclude=skip) == other.model_dump(exclude=skip)

    def to_aws(self) -> dict[str, Any]:
        out = super().to_aws()
        out["jobDefinitionArn"] = self.arn
        out.setdefault("containerOrchestrationType", "ECS")
        return out
