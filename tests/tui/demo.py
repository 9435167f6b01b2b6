"""A fixed workload for the snapshot tests: the same ids, names, times, exit codes and log
lines every run, written straight into a fresh runtime's store (as fill.py does), and a
fixed clock, so that each view renders the same characters every time."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from abatch.model.enums import JobStatus
from abatch.model.job import Attempt, JobRecord

if TYPE_CHECKING:
    from abatch.runtime import Runtime

S = JobStatus
T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC
NOW = T0 + 3_600_000  # the fixed clock: one hour later
TITLE = "abatch · /state"  # the title without the (temporary) state directory


def _id(i: int) -> str:
    return str(uuid.UUID(int=0xABA7C0DE_0000 + i))


def _job(i: int, name: str, status: JobStatus, **kw: Any) -> JobRecord:
    created = T0 + i * 60_000
    started = kw.pop("started", None)
    stopped = kw.pop("stopped", None)
    exit_code = kw.pop("exit_code", None)
    reason = kw.pop("reason", None)
    history = [(S.SUBMITTED, created), (S.RUNNABLE, created + 5)]
    attempts = []
    if started is not None:
        history.append((S.RUNNING, started))
        attempts.append(
            Attempt(
                1,
                "ce",
                f"task-{i}",
                f"d/default/{i:032x}",
                started,
                started,
                stopped,
                exit_code,
                reason,
            )
        )
    if stopped is not None:
        history.append((status, stopped))
    return JobRecord(
        job_id=_id(i),
        job_name=name,
        job_queue=kw.pop("queue", "q"),
        job_definition="d:1",
        status=status,
        created_at=created,
        seq=created * 1000,
        vcpus=1.0,
        memory=64,
        gpus=0,
        spec=kw.pop("spec", {}),
        status_reason=kw.pop("status_reason", None),
        started_at=started,
        stopped_at=stopped,
        ce="ce" if started is not None else None,
        attempts=attempts,
        history=history,
    )


JOBS = [
    _job(0, "prepare-data", S.SUCCEEDED, started=T0 + 1_000, stopped=T0 + 251_000, exit_code=0),
    _job(
        1,
        "train-resnet",
        S.RUNNING,
        started=T0 + 61_000,
        queue="high",
    ),
    _job(
        2,
        "train-vit",
        S.FAILED,
        started=T0 + 121_000,
        stopped=T0 + 1_321_000,
        exit_code=3,
        reason="Essential container in task exited",
        status_reason="Essential container in task exited",
    ),
    _job(
        3,
        "evaluate",
        S.PENDING,
        spec={"_waitFor": [_id(1)]},
        status_reason="waiting for 1 dependency",
    ),
    _job(4, "report", S.RUNNABLE, status_reason="waiting for capacity: 2 of 2 vCPUs in use"),
]
LOGS = {
    1: "epoch 1 loss 0.91\nepoch 2 loss 0.55\nepoch 3 loss 0.31\n",
    2: "loading checkpoint\nTraceback (most recent call last):\nValueError: bad shape\n",
}


async def demo(rt: Runtime) -> None:
    """Write the fixed jobs and their logs into `rt`'s store and state directory."""
    for job in JOBS:
        for a in job.attempts:
            rt.store.mark_attempt(job, a)
    rt.store.insert_jobs(JOBS)
    await rt.store.flush()
    for i, text in LOGS.items():
        path = rt.log_path(JOBS[i].attempts[0].log_stream)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
