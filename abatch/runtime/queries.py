"""Reads with AWS's semantics (reference §10, §13): ListJobs, DescribeJobs, GetJobQueueSnapshot,
and the fair-share check SubmitJob makes.

ListJobs:
- exactly one of a queue, an array job (its children) or a multi-node job (its nodes);
- one status per call, RUNNING when none is given;
- `filters` (one filter; JOB_NAME, JOB_DEFINITION, BEFORE_CREATED_AT, AFTER_CREATED_AT,
  SHARE_IDENTIFIER) make the status ignored, except with SHARE_IDENTIFIER; they do not apply
  to children, so a children listing with filters lists every child;
- a queue's jobs come newest first (array children and nodes are never listed with their
  queue), children by index; pages of up to 1000 (100 with filters) and an opaque token.

Pages are read from the store after a flush, so they include every change made so far.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from abatch.model.base import parse_jd_ref
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord, SubmitJobRequest, empty_status_summary
from abatch.store.extra import JobQuery

if TYPE_CHECKING:
    from abatch.store.sqlite import SqliteStore

    from .attempts import Running
    from .graph import Graph
    from .registry import Registry

S = JobStatus
FILTER_NAMES = (
    "JOB_NAME",
    "JOB_DEFINITION",
    "BEFORE_CREATED_AT",
    "AFTER_CREATED_AT",
    "SHARE_IDENTIFIER",
)
MAX_DESCRIBE = 100
SNAPSHOT_JOBS = 100


def encode_token(kind: str, value: Any) -> str:
    raw = json.dumps([kind, value], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, kind: str) -> Any:
    """The value of a token made by `encode_token(kind, ...)`; ClientError for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        got, value = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        got, value = None, None
    if got != kind:
        raise ClientError("nextToken is not valid for this request")
    return value


class QueriesMixin:
    registry: Registry
    store: SqliteStore
    graph: Graph
    jobs: dict[str, JobRecord]
    runnable: dict[str, deque[JobRecord]]
    running: dict[str, Running]

    get_jobs: Callable[[list[str]], Awaitable[list[JobRecord]]]
    _now: Callable[[], int]
    share_order: Callable[[str, int], list[JobRecord] | None]  # SharesMixin
    share_utilization: Callable[[str], dict[str, Any] | None]
    submit_many: Callable[[list[SubmitJobRequest]], Awaitable[list[JobRecord]]]

    # ------------------------------------------------------------------ submit

    # ------------------------------------------------------------------ ListJobs

    async def list_jobs(
        self,
        *,
        job_queue: str | None = None,
        array_job_id: str | None = None,
        multi_node_job_id: str | None = None,
        job_status: str | None = None,
        filters: list[tuple[str, list[str]]] | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> tuple[list[JobRecord], str | None]:
        """One page of jobs and the token of the next page (None on the last one)."""
        given = [v for v in (job_queue, array_job_id, multi_node_job_id) if v is not None]
        if len(given) != 1:
            raise ClientError("give exactly one of jobQueue, arrayJobId or multiNodeJobId")
        q = JobQuery()
        if job_queue is not None:
            q.queue = self.registry.queue(job_queue).job_queue_name
        else:
            q.parent = array_job_id if array_job_id is not None else multi_node_job_id
            q.sep = ":" if array_job_id is not None else "#"
        if filters and len(filters) > 1:
            raise ClientError("ListJobs takes one filter at a time")
        name, values = filters[0] if filters else (None, [])
        if name is not None:
            # Checked either way; filters do not apply to children.
            _apply_filter(q if q.queue is not None else JobQuery(), name, values)
        if name is None or name == "SHARE_IDENTIFIER":
            status = job_status if job_status is not None else S.RUNNING.value
            if status not in S.__members__:
                raise ClientError(
                    f"jobStatus {status!r} is not one of {', '.join(s.value for s in S)}"
                )
            q.status = status
        cap = 100 if name is not None else 1000
        if max_results is not None and not 1 <= max_results <= cap:
            raise ClientError(f"maxResults must be between 1 and {cap}")
        limit = max_results or cap
        if next_token is not None:
            try:
                if q.queue is not None:
                    at, rowid = decode_token(next_token, "jobs")
                    q.after = (int(at), int(rowid))
                else:
                    q.after_index = int(decode_token(next_token, "children"))
            except (TypeError, ValueError):
                raise ClientError("nextToken is not valid for this request") from None
        q.limit = limit + 1
        await self.store.flush_for_read()
        page = await self.store.list_jobs_page(q)
        jobs = [job for _, job in page]
        if len(jobs) <= limit:
            return jobs, None
        jobs = jobs[:limit]
        last = jobs[-1]
        if q.queue is not None:
            token = encode_token("jobs", [last.created_at, page[limit - 1][0]])
        else:
            token = encode_token("children", int(last.job_id.rsplit(q.sep, 1)[1]))
        return jobs, token

    # ------------------------------------------------------------------ DescribeJobs

    async def describe_jobs(self, job_ids: list[str]) -> list[dict[str, Any]]:
        """JobDetails in the order asked; unknown ids are left out, as on AWS."""
        if len(job_ids) > MAX_DESCRIBE:
            raise ClientError(f"DescribeJobs takes at most {MAX_DESCRIBE} job ids")
        jobs = await self.get_jobs(list(dict.fromkeys(job_ids)))
        tags = await self.store.job_tags([j.job_id for j in jobs])
        out = []
        for job in jobs:
            detail = job.to_detail()
            if job.job_id in tags:
                if tags[job.job_id]:
                    detail["tags"] = tags[job.job_id]
                else:
                    detail.pop("tags", None)
            size = (job.spec.get("arrayProperties") or {}).get("size")
            if size is not None:
                detail["arrayProperties"] = await self._array_properties(job, size)
            out.append(detail)
        return out

    async def _array_properties(self, parent: JobRecord, size: int) -> dict[str, Any]:
        state = self.graph.arrays.get(parent.job_id)
        if state is not None:
            summary = state.summary()
            updated = state.updated_at or parent.created_at
        else:
            summary = empty_status_summary()
            for status, n in (await self.store.child_status_counts(parent.job_id)).items():
                summary[status.value] = n
            updated = parent.stopped_at or self._now()
        return {"size": size, "statusSummary": summary, "statusSummaryLastUpdatedAt": updated}

    # ------------------------------------------------------------------ snapshot

    def queue_snapshot(self, ref: str) -> dict[str, Any]:
        """GetJobQueueSnapshot: the first RUNNABLE jobs in the order they will be tried (on a
        fair-share queue, the order fair share would dispatch them), each with the moment it
        last became RUNNABLE, and the vCPUs the queue's jobs hold."""
        jq = self.registry.queue(ref)
        now = self._now()
        front: list[dict[str, Any]] = []
        seen: set[str] = set()
        line = self.share_order(jq.job_queue_name, SNAPSHOT_JOBS)
        for job in line if line is not None else self.runnable.get(jq.job_queue_name) or ():
            if job.status is not S.RUNNABLE or job.job_id in seen:
                continue  # the deque drops stale entries lazily; a requeued job may be twice
            seen.add(job.job_id)
            became = max((t for s, t in job.history if s is S.RUNNABLE), default=job.created_at)
            front.append({"jobArn": job.arn, "earliestTimeAtPosition": became})
            if len(front) == SNAPSHOT_JOBS:
                break
        used = sum(
            r.job.vcpus for r in self.running.values() if r.job.job_queue == jq.job_queue_name
        )
        utilization: dict[str, Any] = {
            "totalCapacityUsage": [{"capacityUnit": "VCPU", "quantity": float(used)}],
            "lastUpdatedAt": now,
        }
        fairshare = self.share_utilization(jq.job_queue_name)
        if fairshare is not None:
            utilization["fairshareUtilization"] = fairshare
        return {
            "frontOfQueue": {"jobs": front, "lastUpdatedAt": now},
            "queueUtilization": utilization,
        }


def _apply_filter(q: JobQuery, name: str, values: list[str]) -> None:
    if name not in FILTER_NAMES:
        raise ClientError(f"filter name {name!r} is not one of {', '.join(FILTER_NAMES)}")
    if len(values) != 1:
        raise ClientError(f"filter {name} takes exactly one value")
    value = values[0]
    if name == "JOB_NAME":
        if value.endswith("*"):
            q.name_prefix = value[:-1]
        else:
            q.name = value
    elif name == "JOB_DEFINITION":
        if value.startswith("arn:"):
            if "*" in value:
                raise ClientError("JOB_DEFINITION: a '*' can't be used with an ARN")
            try:
                jd_name, revision = parse_jd_ref(value)
            except ValueError as exc:
                raise ClientError(str(exc)) from None
            if revision is None:
                q.definition_name = jd_name
            else:
                q.definition = f"{jd_name}:{revision}"
        elif value.endswith("*"):
            q.definition_prefix = value[:-1]
        elif ":" in value:
            q.definition = value
        else:
            q.definition_name = value
    elif name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
        if not value.isdigit():
            raise ClientError(f"{name}: the value is epoch milliseconds, got {value!r}")
        if name == "BEFORE_CREATED_AT":
            q.created_before = int(value)
        else:
            q.created_after = int(value)
    else:
        q.share_identifier = value
