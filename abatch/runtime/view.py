"""A read-only view of a runtime for the terminal UI: pages of jobs, counts, dependents,
queue positions, the queues' and compute environments' rows, and log files, so that the UI
never touches the store itself. The API's extension operations (`abatch/api/uiview.py`) serve
the same reads to a terminal UI attached from another process.

Every read flushes first, so it sees every change made so far (as ListJobs does).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.store import pages
from abatch.store.pages import SORTS, PageFilter

from .instances import InstanceInfo

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = [
    "SORTS",
    "CeRow",
    "InstanceInfo",
    "PageFilter",
    "QueueLine",
    "ce_lines",
    "dependents",
    "finished_counts",
    "instances",
    "job_count",
    "job_doc",
    "job_order",
    "job_page",
    "job_view",
    "jobs_at",
    "log_path",
    "queue_lines",
    "queue_position",
    "reclaim",
    "resubmit_fields",
]


async def job_page(rt: Runtime, f: PageFilter, offset: int, limit: int) -> list[JobRecord]:
    """Jobs `offset .. offset+limit` of the list `f`; unfinished ones are the live records."""
    await rt.store.flush_for_read()
    jobs = await pages.job_page(rt.store, f, offset, limit)
    return [rt.jobs.get(j.job_id) or j for j in jobs]


async def job_order(rt: Runtime, f: PageFilter) -> list[int]:
    """The list `f` in its sort order, as row keys for `jobs_at` (one narrow sort: for a
    sort other than creation order, which pages by offset)."""
    await rt.store.flush()
    return await pages.job_order(rt.store, f, int(rt.clock() * 1000))


async def jobs_at(rt: Runtime, keys: list[int]) -> list[JobRecord]:
    """The jobs with these row keys (from `job_order`), in that order."""
    await rt.store.flush()
    jobs = await pages.jobs_at(rt.store, keys)
    return [rt.jobs.get(j.job_id) or j for j in jobs]


async def job_count(rt: Runtime, f: PageFilter) -> int:
    await rt.store.flush_for_read()
    return await pages.job_count(rt.store, f)


async def finished_counts(rt: Runtime) -> dict[str, dict[JobStatus, int]]:
    """Per queue, counts of every status (a scan: call it when something changed, at most
    every few seconds, never per frame)."""
    await rt.store.flush_for_read()
    out: dict[str, dict[JobStatus, int]] = {}
    for name in rt.registry.job_queues:
        out[name] = await rt.store.count_by_status(name)
    return out


async def dependents(rt: Runtime, job_id: str) -> list[tuple[str, str]]:
    await rt.store.flush_for_read()
    return await pages.dependents(rt.store, job_id)


async def queue_position(rt: Runtime, job: JobRecord) -> int | None:
    """1-based position of a RUNNABLE job among its queue's RUNNABLE jobs, from memory (on a
    fair-share queue, in fair-share order, as far as the first 10,000)."""
    if job.status is not JobStatus.RUNNABLE:
        return None
    position = 0
    seen: set[str] = set()
    line = rt.share_order(job.job_queue, 10_000)
    for j in line if line is not None else rt.runnable.get(job.job_queue) or ():
        if j.status is not JobStatus.RUNNABLE or j.job_id in seen:
            continue
        seen.add(j.job_id)
        position += 1
        if j is job or j.job_id == job.job_id:
            return position
    return None


def log_path(rt: Runtime, stream: str) -> Path:
    return rt.log_path(stream)


def instances(rt: Runtime, ce: str | None = None) -> list[InstanceInfo]:
    """Instances (and declared hosts) with the jobs on them, from memory; `ce` narrows to
    one compute environment (NotFoundError if it does not exist). Await
    `rt.instances_changed()` to learn when to read again."""
    return rt.instances(ce)


def reclaim(rt: Runtime, instance_id: str) -> InstanceInfo:
    """Reclaim a Spot instance (ClientError for an On-Demand one or a declared host)."""
    return rt.reclaim_instance(instance_id)


@dataclass(frozen=True, slots=True)
class QueueLine:
    name: str
    state: str
    priority: int
    compute_environments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CeRow:
    """A compute environment and what is in use of its capacity (also the terminal UI's row,
    whether the runtime is local or attached over the API)."""

    name: str
    state: str
    kind: str  # MANAGED EC2, FARGATE, UNMANAGED...
    vcpus: tuple[float, float]  # used, capacity
    memory: tuple[int, int]
    gpus: tuple[int, int]
    note: str | None = None  # why it takes no jobs right now


def queue_lines(rt: Runtime) -> list[QueueLine]:
    """The job queues, highest priority first."""
    return [
        QueueLine(jq.job_queue_name, jq.state.value, jq.priority, tuple(jq.ce_names()))
        for jq in sorted(rt.registry.job_queues.values(), key=lambda q: -q.priority)
    ]


def ce_lines(rt: Runtime) -> list[CeRow]:
    """The compute environments by name, with what is in use of their capacity."""
    rows = []
    for name, ce in sorted(rt.registry.compute_environments.items()):
        pool = rt.pools.get(name)
        kind = ce.type.value
        cr = ce.compute_resources
        if cr is not None:
            kind += f" {cr.type.value}"
        rows.append(
            CeRow(
                name=name,
                state=ce.state.value,
                kind=kind,
                vcpus=(pool.used_vcpus, pool.vcpus) if pool else (0.0, 0.0),
                memory=(pool.used_memory, pool.memory) if pool else (0, 0),
                gpus=(pool.used_gpus, pool.gpus) if pool else (0, 0),
                note=pool.unavailable if pool else None,
            )
        )
    return rows


def resubmit_fields(job: JobRecord) -> dict[str, Any]:
    """A SubmitJob body (AWS spelling) that submits `job` again: same name, queue,
    definition, parameters, array size, retry strategy, timeout, tags, share and command."""
    spec = job.spec
    fields: dict[str, Any] = {
        "jobName": job.job_name,
        "jobQueue": job.job_queue,
        "jobDefinition": job.job_definition,
    }
    if spec.get("parameters"):
        fields["parameters"] = spec["parameters"]
    size = (spec.get("arrayProperties") or {}).get("size")
    if size is not None and "_parent" not in spec:
        fields["arrayProperties"] = {"size": size}
    for key in ("retryStrategy", "timeout", "tags", "shareIdentifier"):
        if spec.get(key) is not None:
            fields[key] = spec[key]
    command = (spec.get("container") or {}).get("command")
    if command:
        fields["containerOverrides"] = {"command": command}
    return fields


def job_doc(job: JobRecord) -> dict[str, Any]:
    """One jobs-table row, as JSON (what an attached terminal UI reads over the API)."""
    a = job.current_attempt
    size = (job.spec.get("arrayProperties") or {}).get("size")
    return {
        "jobId": job.job_id,
        "jobName": job.job_name,
        "jobQueue": job.job_queue,
        "status": job.status.value,
        "createdAt": job.created_at,
        "startedAt": job.started_at,
        "stoppedAt": job.stopped_at,
        "vcpus": job.vcpus,
        "memory": job.memory,
        "gpus": job.gpus,
        "attempts": len(job.attempts),
        "exitCode": a.exit_code if a is not None else None,
        "statusReason": job.status_reason,
        "arraySize": size if "_parent" not in job.spec else None,
    }


async def job_view(rt: Runtime, job_id: str) -> dict[str, Any] | None:
    """Everything a job's detail view shows, as JSON; None if there is no such job."""
    jobs = await rt.get_jobs([job_id])
    if not jobs:
        return None
    job = jobs[0]
    details = await rt.describe_jobs([job_id])
    detail = details[0] if details else job.to_detail()
    return {
        "job": job_doc(job),
        "detail": detail,
        "attempts": [
            {
                "number": a.number,
                "logStreamName": a.log_stream,
                "startedAt": a.started_at,
                "stoppedAt": a.stopped_at,
                "exitCode": a.exit_code,
                "reason": a.reason,
                "statusReason": a.status_reason,
            }
            for a in job.attempts
        ],
        "history": [[s.value, t] for s, t in job.history],
        "why": rt.explain(job),
        "queuePosition": await queue_position(rt, job),
        "dependsOn": list(job.spec.get("_waitFor") or []),
        "dependents": [list(d) for d in await dependents(rt, job_id)],
        "arraySummary": (detail.get("arrayProperties") or {}).get("statusSummary"),
    }
