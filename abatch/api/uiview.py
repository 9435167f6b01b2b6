"""abatch's extension operations for a terminal UI attached from another process
(`abatch tui --attach`). AWS Batch has no way to read a list by offset, count it, sort it by
name or duration, or wait for a change, which a virtual jobs table and live updates need; these
serve `abatch.runtime.view`'s reads as JSON. Same transport, signing and errors as the Batch
operations (`POST /v1/<name>`); every name starts with `Abatch` so none can collide with an
AWS operation. Listed in COMPATIBILITY.md.

- `AbatchCountJobs`, `AbatchListJobPage` (offset pages in creation order), `AbatchOrderJobs`
  (a list's row keys in another order) and `AbatchGetJobsByKey` (the rows of some keys):
  filter members `jobQueue`, `jobStatus`, `namePrefix`, `arrayJobId`, `sort`, `descending`.
- `AbatchDescribeJobView`: a job's detail with attempts, history, why it waits, its place in
  the queue and dependencies both ways.
- `AbatchOverview`: queues and compute environments with capacity in use; per-queue counts
  of every status when `counts` is true (a scan: the UI asks every few seconds at most).
- `AbatchResubmitJob`: submit a job again as it was submitted.
- `AbatchWatch`: a long poll; answers with the runtime's change `version` as soon as it
  differs from `since`, or after `waitSeconds` (at most 20) with the same one.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

import anyio

from abatch.model.enums import ALL_STATUSES
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.runtime import view
from abatch.runtime.view import SORTS, PageFilter

from .params import Operation, Params

if TYPE_CHECKING:
    from abatch.runtime import Runtime

MAX_PAGE = 1000
MAX_WAIT_S = 20
FILTER = ("jobQueue", "jobStatus", "namePrefix", "arrayJobId", "sort", "descending")


def page_filter(p: Params) -> PageFilter:
    status = p.text("jobStatus")
    if status is not None and status not in {s.value for s in ALL_STATUSES}:
        raise ClientError(
            f"jobStatus must be one of {', '.join(s.value for s in ALL_STATUSES)}, not {status!r}"
        )
    sort = p.text("sort") or "created"
    if sort not in SORTS:
        raise ClientError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")
    descending = p.flag("descending")
    return PageFilter(
        queue=p.text("jobQueue", max_len=128),
        status=status,
        name_prefix=p.text("namePrefix", max_len=128),
        parent=p.text("arrayJobId", max_len=128),
        sort=sort,
        descending=True if descending is None else descending,
    )


async def count_jobs(rt: Runtime, p: Params) -> dict[str, Any]:
    return {"count": await view.job_count(rt, page_filter(p))}


async def list_job_page(rt: Runtime, p: Params) -> dict[str, Any]:
    f = page_filter(p)
    if not f.by_position:
        raise ClientError("AbatchListJobPage lists in creation order; use AbatchOrderJobs")
    offset = p.number("offset", lo=0) or 0
    limit = p.page_size("limit", default=200, hi=MAX_PAGE)
    return {"jobs": [view.job_doc(j) for j in await view.job_page(rt, f, offset, limit)]}


async def order_jobs(rt: Runtime, p: Params) -> dict[str, Any]:
    f = page_filter(p)
    if f.by_position:
        raise ClientError("sort must be one of name, status, started, duration here")
    return {"keys": await view.job_order(rt, f)}


async def get_jobs_by_key(rt: Runtime, p: Params) -> dict[str, Any]:
    keys = p.body.get("keys")
    if keys is None:
        raise ClientError("keys is required")
    if not isinstance(keys, list) or not all(
        isinstance(k, int) and not isinstance(k, bool) for k in keys
    ):
        raise ClientError("keys: expected a list of integers")
    if len(keys) > MAX_PAGE:
        raise ClientError(f"keys: at most {MAX_PAGE} items, got {len(keys)}")
    return {"jobs": [view.job_doc(j) for j in await view.jobs_at(rt, keys)]}


async def describe_job_view(rt: Runtime, p: Params) -> dict[str, Any]:
    return {"view": await view.job_view(rt, p.req_text("jobId", max_len=256))}


async def overview(rt: Runtime, p: Params) -> dict[str, Any]:
    out: dict[str, Any] = {
        "jobQueues": [
            {
                "name": q.name,
                "state": q.state,
                "priority": q.priority,
                "computeEnvironments": list(q.compute_environments),
            }
            for q in view.queue_lines(rt)
        ],
        "computeEnvironments": [
            {
                "name": c.name,
                "state": c.state,
                "kind": c.kind,
                "vcpus": list(c.vcpus),
                "memory": list(c.memory),
                "gpus": list(c.gpus),
                "note": c.note,
            }
            for c in view.ce_lines(rt)
        ],
    }
    if p.flag("counts"):
        counts = await view.finished_counts(rt)
        out["counts"] = {q: {s.value: n for s, n in by.items() if n} for q, by in counts.items()}
    return out


async def resubmit_job(rt: Runtime, p: Params) -> dict[str, Any]:
    job_id = p.req_text("jobId", max_len=256)
    jobs = await rt.get_jobs([job_id])
    if not jobs:
        raise ClientError(f"job {job_id} does not exist")
    req = SubmitJobRequest.model_validate(view.resubmit_fields(jobs[0]))
    (job,) = await rt.submit_many([req])
    return {"jobArn": job.arn, "jobName": job.job_name, "jobId": job.job_id}


class _Changes:
    """A runtime's change counter: bumped by every job event (one integer add on the bus's
    hot path); waiters wake on the next bump."""

    def __init__(self, rt: Runtime) -> None:
        self.count = 0
        self.event = anyio.Event()
        rt.bus.subscribe(self._bump)

    def _bump(self, _: JobRecord) -> None:
        self.count += 1
        if not self.event.is_set():
            self.event.set()

    def version(self, rt: Runtime) -> str:
        """Job events, the queues' and compute environments' states and the instances
        (their changes do not go through the bus): any difference means something to redraw."""
        states = hash(
            (
                tuple((q.name, q.state, q.priority) for q in view.queue_lines(rt)),
                tuple((c.name, c.state, c.vcpus, c.note) for c in view.ce_lines(rt)),
                tuple(i.instance_id for i in view.instances(rt)),
            )
        )
        return f"{self.count}.{states & 0xFFFFFFFF:x}"


_CHANGES: weakref.WeakKeyDictionary[Runtime, _Changes] = weakref.WeakKeyDictionary()


async def watch(rt: Runtime, p: Params) -> dict[str, Any]:
    since = p.text("since", max_len=64)
    wait = p.number("waitSeconds", lo=0, hi=MAX_WAIT_S)
    changes = _CHANGES.get(rt)
    if changes is None:
        changes = _CHANGES[rt] = _Changes(rt)
    current = changes.version(rt)
    if since is None or current != since:
        return {"version": current}
    if changes.event.is_set():
        changes.event = anyio.Event()
    with anyio.move_on_after(MAX_WAIT_S if wait is None else wait):
        await changes.event.wait()
    return {"version": changes.version(rt)}


OPERATIONS: dict[str, Operation] = {
    "AbatchCountJobs": (count_jobs, FILTER),
    "AbatchListJobPage": (list_job_page, (*FILTER, "offset", "limit")),
    "AbatchOrderJobs": (order_jobs, FILTER),
    "AbatchGetJobsByKey": (get_jobs_by_key, ("keys",)),
    "AbatchDescribeJobView": (describe_job_view, ("jobId",)),
    "AbatchOverview": (overview, ("counts",)),
    "AbatchResubmitJob": (resubmit_job, ("jobId",)),
    "AbatchWatch": (watch, ("since", "waitSeconds")),
}
