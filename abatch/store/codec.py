"""Rows <-> records. Kept apart from the SQL so both stay short."""

from __future__ import annotations

import json
from typing import Any

from abatch.model.enums import JobStatus
from abatch.model.job import Attempt, JobRecord

JOB_COLUMNS = (
    "job_id, job_name, job_queue, job_definition, status, status_reason, created_at, "
    "started_at, stopped_at, seq, vcpus, memory, gpus, ce, flags, history, spec"
)
ATTEMPT_COLUMNS = (
    "job_id, number, ce, task_id, log_stream, created_at, started_at, stopped_at, exit_code, "
    "reason, status_reason, pid, instance_id, gpu_ids"
)
FLAG_CANCELLED = 1
FLAG_TERMINATED = 2

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def dumps(value: Any) -> str:
    return _dumps(value)


def encode_history(history: list[tuple[JobStatus, int]]) -> str:
    return ";".join(f"{s.value} {t}" for s, t in history)


def decode_history(text: str) -> list[tuple[JobStatus, int]]:
    out = []
    for item in text.split(";"):
        if item:
            status, _, at = item.partition(" ")
            out.append((JobStatus(status), int(at)))
    return out


def flags_of(job: JobRecord) -> int:
    return (FLAG_CANCELLED if job.is_cancelled else 0) | (
        FLAG_TERMINATED if job.is_terminated else 0
    )


def job_insert_row(job: JobRecord) -> tuple[Any, ...]:
    return (
        job.job_id,
        job.job_name,
        job.job_queue,
        job.job_definition,
        job.status.value,
        job.status_reason,
        job.created_at,
        job.started_at,
        job.stopped_at,
        job.seq,
        job.vcpus,
        job.memory,
        job.gpus,
        job.ce,
        flags_of(job),
        encode_history(job.history),
        dumps(job.spec),
    )


JOB_UPDATE_SQL = (
    "UPDATE jobs SET status=?, status_reason=?, started_at=?, stopped_at=?, seq=?, ce=?, "
    "flags=?, history=? WHERE job_id=?"
)


def job_update_row(job: JobRecord) -> tuple[Any, ...]:
    return (
        job.status.value,
        job.status_reason,
        job.started_at,
        job.stopped_at,
        job.seq,
        job.ce,
        flags_of(job),
        encode_history(job.history),
        job.job_id,
    )


def attempt_row(job_id: str, a: Attempt) -> tuple[Any, ...]:
    return (
        job_id,
        a.number,
        a.ce,
        a.task_id,
        a.log_stream,
        a.created_at,
        a.started_at,
        a.stopped_at,
        a.exit_code,
        a.reason,
        a.status_reason,
        a.pid,
        a.instance_id,
        ",".join(a.gpu_ids),
    )


def job_from_row(row: tuple[Any, ...]) -> JobRecord:
    (
        job_id,
        name,
        queue,
        jd,
        status,
        reason,
        created,
        started,
        stopped,
        seq,
        vcpus,
        memory,
        gpus,
        ce,
        flags,
        history,
        spec,
    ) = row
    return JobRecord(
        job_id=job_id,
        job_name=name,
        job_queue=queue,
        job_definition=jd,
        status=JobStatus(status),
        created_at=created,
        seq=seq,
        vcpus=vcpus,
        memory=memory,
        gpus=gpus,
        spec=json.loads(spec),
        status_reason=reason,
        started_at=started,
        stopped_at=stopped,
        ce=ce,
        history=decode_history(history),
        is_cancelled=bool(flags & FLAG_CANCELLED),
        is_terminated=bool(flags & FLAG_TERMINATED),
    )


def attempt_from_row(row: tuple[Any, ...]) -> tuple[str, Attempt]:
    (
        job_id,
        number,
        ce,
        task_id,
        stream,
        created,
        started,
        stopped,
        code,
        reason,
        sreason,
        pid,
        instance_id,
        gpu_ids,
    ) = row
    return job_id, Attempt(
        number=number,
        ce=ce,
        task_id=task_id,
        log_stream=stream,
        created_at=created,
        started_at=started,
        stopped_at=stopped,
        exit_code=code,
        reason=reason,
        status_reason=sreason,
        pid=pid,
        instance_id=instance_id,
        gpu_ids=tuple(gpu_ids.split(",")) if gpu_ids else (),
    )
