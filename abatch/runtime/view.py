"""A read-only view of a runtime for the terminal UI: pages of jobs, counts, dependents,
queue positions and log files, so that the UI never touches the store itself.

Every read flushes first, so it sees every change made so far (as ListJobs does).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.store import pages
from abatch.store.pages import PageFilter

from .instances import InstanceInfo

if TYPE_CHECKING:
    from .runtime import Runtime

__all__ = [
    "InstanceInfo",
    "PageFilter",
    "dependents",
    "finished_counts",
    "instances",
    "job_count",
    "job_page",
    "log_path",
    "queue_position",
    "reclaim",
]


async def job_page(rt: Runtime, f: PageFilter, offset: int, limit: int) -> list[JobRecord]:
    """Jobs `offset .. offset+limit` of the list `f`; unfinished ones are the live records."""
    await rt.store.flush_for_read()
    jobs = await pages.job_page(rt.store, f, offset, limit)
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
