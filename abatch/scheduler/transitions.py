"""The job state machine: one table, one function that refuses an illegal move.

No I/O and no clock: the caller passes `now` (epoch milliseconds). Every accepted move is
appended to the job's history, so the history is complete by construction.
"""

from __future__ import annotations

from abatch.model.enums import JobStatus
from abatch.model.errors import IllegalTransitionError
from abatch.model.job import JobRecord

S = JobStatus

ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    S.SUBMITTED: frozenset({S.PENDING, S.RUNNABLE, S.FAILED}),
    S.PENDING: frozenset({S.RUNNABLE, S.FAILED, S.SUCCEEDED}),  # SUCCEEDED: array parents
    S.RUNNABLE: frozenset({S.STARTING, S.FAILED}),
    # STARTING -> RUNNABLE/FAILED: the attempt could not start (retry or not).
    S.STARTING: frozenset({S.RUNNING, S.RUNNABLE, S.FAILED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.RUNNABLE}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
}


def can_transition(current: JobStatus, to: JobStatus) -> bool:
    return to in ALLOWED[current]


def transition(job: JobRecord, to: JobStatus, now: int, reason: str | None = None) -> None:
    """Move `job` to `to` at time `now`, or raise IllegalTransitionError.

    Sets the fields AWS ties to moves: `startedAt` on entering RUNNING (first time only),
    `stoppedAt` on entering a terminal status. `reason` replaces the status reason (None clears
    it, as a job leaving RUNNABLE no longer waits for anything).
    """
    if to not in ALLOWED[job.status]:
        raise IllegalTransitionError(
            f"job {job.job_id}: {job.status.value} -> {to.value} is not a legal move"
        )
    job.status = to
    job.status_reason = reason
    job.history.append((to, now))
    if to is S.RUNNING and job.started_at is None:
        job.started_at = now
    if to.is_terminal:
        job.stopped_at = now


def reopen_node(job: JobRecord, now: int) -> None:
    """Back to RUNNABLE: the one move out of SUCCEEDED or FAILED, for a node (`jobId#i`) of a
    multi-node job whose whole job is retried (reference §4: all nodes run again). Raises
    IllegalTransitionError for anything else."""
    if "_mnp" not in job.spec or not job.status.is_terminal:
        raise IllegalTransitionError(
            f"job {job.job_id}: {job.status.value} -> RUNNABLE is not a legal move"
        )
    job.status = S.RUNNABLE
    job.status_reason = None
    job.stopped_at = None
    job.history.append((S.RUNNABLE, now))
