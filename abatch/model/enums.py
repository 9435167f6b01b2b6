"""Status and kind enumerations, spelled as AWS spells them."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    SUBMITTED = "SUBMITTED"
    PENDING = "PENDING"
    RUNNABLE = "RUNNABLE"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """On a host: holds capacity."""
        return self in (JobStatus.STARTING, JobStatus.RUNNING)


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED})
WAITING_STATUSES = frozenset({JobStatus.SUBMITTED, JobStatus.PENDING, JobStatus.RUNNABLE})
ALL_STATUSES = tuple(JobStatus)


class ResourceState(StrEnum):
    ENABLED = "ENABLED"
    DISABLED = "DISABLED"


class ResourceStatus(StrEnum):
    CREATING = "CREATING"
    UPDATING = "UPDATING"
    DELETING = "DELETING"
    DELETED = "DELETED"
    VALID = "VALID"
    INVALID = "INVALID"


class CEType(StrEnum):
    MANAGED = "MANAGED"
    UNMANAGED = "UNMANAGED"


class ComputeResourceType(StrEnum):
    EC2 = "EC2"
    SPOT = "SPOT"
    FARGATE = "FARGATE"
    FARGATE_SPOT = "FARGATE_SPOT"


FARGATE_TYPES = frozenset({ComputeResourceType.FARGATE, ComputeResourceType.FARGATE_SPOT})


class AllocationStrategy(StrEnum):
    BEST_FIT = "BEST_FIT"
    BEST_FIT_PROGRESSIVE = "BEST_FIT_PROGRESSIVE"
    SPOT_CAPACITY_OPTIMIZED = "SPOT_CAPACITY_OPTIMIZED"
    SPOT_PRICE_CAPACITY_OPTIMIZED = "SPOT_PRICE_CAPACITY_OPTIMIZED"


class ExecutorKind(StrEnum):
    PROCESS = "process"
    DOCKER = "docker"


class JobDefinitionType(StrEnum):
    CONTAINER = "container"
    MULTINODE = "multinode"


class JobDefinitionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class ResourceType(StrEnum):
    VCPU = "VCPU"
    MEMORY = "MEMORY"
    GPU = "GPU"


class RetryAction(StrEnum):
    RETRY = "RETRY"
    EXIT = "EXIT"
