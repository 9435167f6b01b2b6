"""Job operations: SubmitJob, DescribeJobs, ListJobs, CancelJob(s), TerminateJob(s),
GetJobQueueSnapshot. Each takes the runtime and the request's Params and returns the
response body; the runtime decides, this module only translates shapes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from abatch.model.errors import ClientError, NotFoundError
from abatch.model.job import JobRecord, SubmitJobRequest

from .errors import validation_message
from .params import Operation, Params

if TYPE_CHECKING:
    from abatch.runtime import Runtime

MAX_BULK = 50


async def submit_job(rt: Runtime, p: Params) -> dict[str, Any]:
    try:
        req = SubmitJobRequest.model_validate(p.body)
    except ValidationError as exc:
        raise ClientError(validation_message(exc)) from None
    (job,) = await rt.submit_many([req])
    return {"jobArn": job.arn, "jobName": job.job_name, "jobId": job.job_id}


async def describe_jobs(rt: Runtime, p: Params) -> dict[str, Any]:
    ids = p.texts("jobs", required=True)
    assert ids is not None
    return {"jobs": await rt.describe_jobs(ids)}


def summary(job: JobRecord) -> dict[str, Any]:
    """AWS JobSummary: the record's own summary plus array, fair-share and cancel fields."""
    out = job.to_summary()
    array = job.spec.get("arrayProperties") or {}
    if "size" in array:
        out["arrayProperties"] = {"size": array["size"]}
    elif "index" in array:
        out["arrayProperties"] = {"index": array["index"]}
    node = job.spec.get("nodeDetails")
    if node is not None:
        out["nodeProperties"] = {
            "isMainNode": node.get("isMainNode"),
            "nodeIndex": node.get("nodeIndex"),
            "numNodes": (job.spec.get("nodeProperties") or {}).get("numNodes"),
        }
    elif job.spec.get("nodeProperties") is not None:  # the multi-node job itself
        out["nodeProperties"] = {"numNodes": job.spec["nodeProperties"].get("numNodes")}
    if job.spec.get("shareIdentifier") is not None:
        out["shareIdentifier"] = job.spec["shareIdentifier"]
    out["isCancelled"] = job.is_cancelled
    out["isTerminated"] = job.is_terminated
    return out


async def list_jobs(rt: Runtime, p: Params) -> dict[str, Any]:
    filters = None
    raw = p.body.get("filters")
    if raw is not None:
        if not isinstance(raw, list):
            raise ClientError("filters: expected a list of {name, values}")
        filters = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ClientError(f"filters[{i}]: expected an object with name and values")
            f = Params(item, ("name", "values"))
            filters.append((f.req_text("name"), f.texts("values", required=True) or []))
    jobs, token = await rt.list_jobs(
        job_queue=p.text("jobQueue"),
        array_job_id=p.text("arrayJobId"),
        multi_node_job_id=p.text("multiNodeJobId"),
        job_status=p.text("jobStatus"),
        filters=filters,
        max_results=p.number("maxResults"),
        next_token=p.text("nextToken"),
    )
    out: dict[str, Any] = {"jobSummaryList": [summary(j) for j in jobs]}
    if token is not None:
        out["nextToken"] = token
    return out


async def cancel_job(rt: Runtime, p: Params) -> dict[str, Any]:
    await rt.cancel_job(p.req_text("jobId"), _reason(p))
    return {}


async def terminate_job(rt: Runtime, p: Params) -> dict[str, Any]:
    await rt.terminate_job(p.req_text("jobId"), _reason(p))
    return {}


def _reason(p: Params) -> str:
    reason = p.text("reason", max_len=1024)
    if reason is None:
        raise ClientError("reason is required")
    return reason


async def cancel_jobs(rt: Runtime, p: Params) -> dict[str, Any]:
    return await _bulk(rt, p, terminate=False)


async def terminate_jobs(rt: Runtime, p: Params) -> dict[str, Any]:
    return await _bulk(rt, p, terminate=True)


async def _bulk(rt: Runtime, p: Params, *, terminate: bool) -> dict[str, Any]:
    """CancelJobs / TerminateJobs: each job on its own; a job that can't be found counts as
    done, as AWS documents."""
    ids = p.texts("jobs", required=True, max_items=MAX_BULK) or []
    reason = _reason(p)
    ok: list[str] = []
    errors: list[dict[str, str]] = []
    for job_id in ids:
        try:
            if terminate:
                await rt.terminate_job(job_id, reason)
            else:
                await rt.cancel_job(job_id, reason)
        except NotFoundError:
            pass
        except ClientError as exc:
            errors.append({"job": job_id, "code": "ClientException", "message": str(exc)})
            continue
        ok.append(job_id)
    return {"successful": ok, "errors": errors}


async def get_job_queue_snapshot(rt: Runtime, p: Params) -> dict[str, Any]:
    return rt.queue_snapshot(p.req_text("jobQueue"))


OPERATIONS: dict[str, Operation] = {
    "SubmitJob": (submit_job, None),
    "DescribeJobs": (describe_jobs, ("jobs",)),
    "ListJobs": (
        list_jobs,
        (
            "jobQueue",
            "arrayJobId",
            "multiNodeJobId",
            "jobStatus",
            "maxResults",
            "nextToken",
            "filters",
        ),
    ),
    "CancelJob": (cancel_job, ("jobId", "reason")),
    "TerminateJob": (terminate_job, ("jobId", "reason")),
    "CancelJobs": (cancel_jobs, ("jobs", "reason")),
    "TerminateJobs": (terminate_jobs, ("jobs", "reason")),
    "GetJobQueueSnapshot": (get_job_queue_snapshot, ("jobQueue",)),
}
