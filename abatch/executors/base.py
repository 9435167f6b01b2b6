"""The executor protocol: start, wait, kill an attempt described by a RunSpec.

An executor knows nothing of queues, jobs or AWS shapes. It is handed a resolved RunSpec and
reports an ExitResult. A spec that cannot be started at all (missing binary, no permission,
unknown image) raises StartError with the container-level reason AWS would give, so the
runtime fails that attempt and carries on.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Protocol

from abatch.model.errors import AbatchError
from abatch.model.runspec import ExitResult, RunSpec


class StartError(AbatchError):
    """The attempt could not be started. `reason` is the AWS-style container reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Handle(Protocol):
    """An opaque running attempt. `key` is the RunSpec key; `pid` is set where meaningful."""

    @property
    def key(self) -> str: ...

    @property
    def pid(self) -> int | None: ...


class Executor(Protocol):
    kind: str

    async def start(self, spec: RunSpec) -> Handle:
        """Start the attempt; return once it is running. Raises StartError."""
        ...

    async def wait(self, handle: Handle) -> ExitResult:
        """Wait for the attempt to end and return how it ended. Safe to call once."""
        ...

    async def kill(self, handle: Handle, grace_seconds: float) -> None:
        """Ask the attempt to stop (SIGTERM or equivalent), then force it after the grace
        period. Returns once the kill has been delivered, not necessarily once it has exited;
        `wait` reports the exit. Killing an attempt that already ended is a no-op."""
        ...

    async def close(self) -> None:
        """Release resources held by the executor (not the attempts)."""
        ...


class EngineUnavailableError(StartError):
    """The executor's engine cannot be reached (e.g. a Docker daemon that is down). Not the
    job's fault: the runtime puts the job back in its queue and the compute environment aside
    until the engine answers again, instead of failing the attempt."""


@dataclass(frozen=True, slots=True)
class KillPlan:
    """What `kill(handle, grace)` does now: the signal to send, whether to cancel an escalation
    already armed, and whether to arm one (SIGKILL at the deadline)."""

    signum: int
    cancel_pending: bool
    arm: bool


def plan_kill(pending_when: float | None, deadline: float, grace_seconds: float) -> KillPlan:
    """The one rule for every executor: a second kill never postpones an earlier escalation;
    a grace of 0 or less means SIGKILL at once; otherwise SIGTERM now and SIGKILL at the
    deadline. `pending_when` is the loop time of an armed escalation, if any."""
    if pending_when is not None and pending_when <= deadline:
        return KillPlan(signal.SIGTERM, cancel_pending=False, arm=False)
    if grace_seconds <= 0:
        return KillPlan(signal.SIGKILL, cancel_pending=pending_when is not None, arm=False)
    return KillPlan(signal.SIGTERM, cancel_pending=pending_when is not None, arm=True)
