"""What the terminal UI needs from a runtime: `TuiBackend`, and the plain rows it reads.

Two implementations: `LocalBackend` (local.py) wraps a runtime in this process and is told
of every change by its event bus; `RemoteBackend` (remote.py) attaches to a runtime in
another process through its HTTP API and learns of changes by long-polling it. The UI only
sees this protocol.

A list's order is `PageFilter.sort` (one of `SORTS`) and `PageFilter.descending`. Log
positions are opaque `LogCursor`s: a byte offset for a local file, a CloudWatch token over
the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from abatch.model.enums import JobStatus
from abatch.runtime.view import SORTS, CeRow, PageFilter

LogCursor = int | str

__all__ = [
    "SORTS",
    "AttemptRow",
    "CeRow",
    "InstanceRow",
    "JobInfo",
    "JobRow",
    "LogCursor",
    "PageFilter",
    "QueueRow",
    "SubmitForm",
    "TuiBackend",
]


@dataclass(frozen=True, slots=True)
class JobRow:
    """One line of the jobs table."""

    job_id: str
    name: str
    queue: str
    status: JobStatus
    created_at: int
    started_at: int | None = None
    stopped_at: int | None = None
    vcpus: float = 0.0
    memory: int = 0
    gpus: int = 0
    attempts: int = 0
    exit_code: int | None = None
    reason: str | None = None
    array_size: int | None = None


@dataclass(frozen=True, slots=True)
class AttemptRow:
    number: int
    log_stream: str
    started_at: int | None
    stopped_at: int | None
    exit_code: int | None
    reason: str | None
    status_reason: str | None


@dataclass(slots=True)
class JobInfo:
    """Everything the detail view shows about one job."""

    row: JobRow
    detail: dict[str, Any]  # AWS JobDetail
    attempts: list[AttemptRow] = field(default_factory=list)
    history: list[tuple[str, int]] = field(default_factory=list)
    why: str | None = None
    position: int | None = None
    depends_on: list[str] = field(default_factory=list)
    dependents: list[tuple[str, str]] = field(default_factory=list)
    array_summary: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class QueueRow:
    name: str
    state: str
    priority: int
    compute_environments: tuple[str, ...]
    counts: dict[JobStatus, int]


@dataclass(frozen=True, slots=True)
class InstanceRow:
    """One instance of a compute environment (or a declared host) and the jobs on it."""

    instance_id: str
    compute_environment: str
    instance_type: str
    spot: bool
    vcpus: tuple[float, float]  # used, capacity
    memory: tuple[int, int]
    gpus: tuple[int, int]
    host: str | None = None
    jobs: tuple[tuple[str, str], ...] = ()  # (job id, job name)
    idle_since: int | None = None


@dataclass(frozen=True, slots=True)
class SubmitForm:
    definition: str
    queue: str
    name: str
    parameters: dict[str, str] = field(default_factory=dict)
    command: list[str] | None = None
    array_size: int | None = None

    def submit_body(self) -> dict[str, Any]:
        """The SubmitJob body (AWS spelling)."""
        fields: dict[str, Any] = {
            "jobName": self.name,
            "jobQueue": self.queue,
            "jobDefinition": self.definition,
        }
        if self.parameters:
            fields["parameters"] = self.parameters
        if self.command:
            fields["containerOverrides"] = {"command": self.command}
        if self.array_size is not None:
            fields["arrayProperties"] = {"size": self.array_size}
        return fields


class TuiBackend(Protocol):
    """The UI's only way to the runtime. Reads are async; `subscribe` calls back (on the UI's
    event loop) when something may have changed, with no argument; it returns an
    unsubscribe function."""

    title: str
    problem: str | None  # why the runtime cannot be reached right now (attached UI only)

    def subscribe(self, fn: Callable[[], None]) -> Callable[[], None]: ...

    async def job_count(self, f: PageFilter) -> int: ...

    async def job_page(self, f: PageFilter, offset: int, limit: int) -> list[JobRow]: ...

    async def job_info(self, job_id: str) -> JobInfo | None: ...

    async def queues(self) -> list[QueueRow]: ...

    async def compute_environments(self) -> list[CeRow]: ...

    async def instances(self) -> list[InstanceRow]:
        """Every instance of every compute environment, by compute environment."""
        ...

    def queue_names(self) -> list[str]: ...

    def definition_names(self) -> list[str]: ...

    async def cancel(self, job_id: str, reason: str) -> None: ...

    async def terminate(self, job_id: str, reason: str) -> None: ...

    async def resubmit(self, job_id: str) -> str: ...

    async def submit(self, form: SubmitForm) -> str: ...

    async def set_queue_state(self, name: str, enabled: bool) -> None: ...

    async def set_ce_state(self, name: str, enabled: bool) -> None: ...

    async def reclaim(self, instance_id: str) -> None:
        """Take a Spot instance back now (its jobs' attempts end; their retry rules decide)."""
        ...

    async def log_tail(self, stream: str, lines: int) -> tuple[list[str], LogCursor]:
        """The last `lines` lines of an attempt's log and the position just past them."""
        ...

    async def log_read(self, stream: str, at: LogCursor) -> tuple[list[str], LogCursor]:
        """Complete lines written since `at` (bounded) and the position past them."""
        ...
