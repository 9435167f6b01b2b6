"""Compute environment, job queue and job definition operations: Create/Describe/Update/
Delete, Register/Describe/Deregister.

Local settings AWS has no parameter for come from tags with the `abatch:` prefix
(`abatch:executor=docker`, `abatch:memory=8192`, `abatch:gpus=2`, `abatch:gpu-devices=0,1`,
`abatch:docker-host`,
`abatch:keep-containers`), else from the runtime's defaults. Describe and ListTagsForResource
show every setting that differs from its default as such a tag, whether it came from a tag or
from a config file; TagResource / UntagResource on those keys change the settings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from abatch.model.base import aws_alias, name_from_ref, parse_jd_ref
from abatch.model.enums import JobDefinitionStatus
from abatch.model.errors import ClientError
from abatch.model.resources import (
    LOCAL_CE_SETTINGS,
    ComputeEnvironment,
    JobDefinition,
    JobQueue,
)
from abatch.runtime.lifecycle import LOCAL_PREFIX, ce_tags, platform_of, split_local_tags
from abatch.runtime.operations import decode_token, encode_token

from .errors import validation_message
from .params import Operation, Params

if TYPE_CHECKING:
    from abatch.runtime import Runtime

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
MAX_NAMES = 100


def validated(cls: type[M], body: dict[str, Any], *, refuse: tuple[str, ...] = ()) -> M:
    """A model from a request body; members the model has but the operation does not take
    (local settings, fields the runtime sets) are refused as unknown."""
    for key in refuse:
        if key in body:
            raise ClientError(f"{key}: unknown field (or a field abatch does not support)")
    try:
        return cls.model_validate(body)
    except ValidationError as exc:
        raise ClientError(validation_message(exc)) from None


# ---------------------------------------------------------------------- compute environments


async def create_compute_environment(rt: Runtime, p: Params) -> dict[str, Any]:
    p.req_text("computeEnvironmentName")
    p.req_text("type")
    plain, local = split_local_tags(p.text_map("tags"))
    body = {**p.body, "tags": plain or None}
    refuse = (
        *LOCAL_CE_SETTINGS,
        *(aws_alias(n) for n in LOCAL_CE_SETTINGS),
        "status",
        "statusReason",
        "computeEnvironmentArn",
        "ecsClusterArn",
    )
    for key in refuse:
        if key in p.body:
            raise ClientError(f"{key}: unknown field (or a field abatch does not support)")
    try:
        ce = ComputeEnvironment.model_validate({**body, **local})
    except ValidationError as exc:
        where = exc.errors()[0]["loc"][:1]
        if where and where[0] in local:
            name = str(where[0]).replace("_", "-")
            raise ClientError(f"tag {LOCAL_PREFIX}{name}: {exc.errors()[0]['msg']}") from None
        raise ClientError(validation_message(exc)) from None
    await rt.create_compute_environment(ce)
    return {"computeEnvironmentName": ce.compute_environment_name, "computeEnvironmentArn": ce.arn}


def compute_environment_detail(ce: ComputeEnvironment, rt: Runtime) -> dict[str, Any]:
    out = ce.to_aws()
    out.pop("tags", None)
    tags = ce_tags(ce)
    if tags:
        out["tags"] = tags
    desired = rt.desired_vcpus(ce.compute_environment_name)
    if desired is not None and "computeResources" in out:
        # desiredvCpus follows demand: the vCPUs of the instances running now.
        out["computeResources"]["desiredvCpus"] = desired
    return out


async def describe_compute_environments(rt: Runtime, p: Params) -> dict[str, Any]:
    names = _names(p, "computeEnvironments", "compute-environment")
    ces = [
        ce
        for n, ce in sorted(rt.registry.compute_environments.items())
        if names is None or n in names
    ]
    return page_of(
        p,
        "computeEnvironments",
        ces,
        lambda ce: [ce.compute_environment_name],
        lambda ce: compute_environment_detail(ce, rt),
    )


async def update_compute_environment(rt: Runtime, p: Params) -> dict[str, Any]:
    ref = p.req_text("computeEnvironment")
    changes: dict[str, Any] = {}
    for key in ("state", "serviceRole"):
        changes[key] = p.text(key)
    changes["unmanagedvCpus"] = p.number("unmanagedvCpus", lo=0)
    changes["computeResources"] = p.obj("computeResources")
    changes["updatePolicy"] = p.obj("updatePolicy")
    for key in ("context", "ecsSettings", "eksConfiguration"):
        if key in p:
            raise ClientError(f"{key}: not supported by abatch")
    ce = await rt.update_compute_environment(ref, changes)
    return {"computeEnvironmentName": ce.compute_environment_name, "computeEnvironmentArn": ce.arn}


async def delete_compute_environment(rt: Runtime, p: Params) -> dict[str, Any]:
    await rt.delete_compute_environment(p.req_text("computeEnvironment"))
    return {}


# ---------------------------------------------------------------------- job queues


def queue_detail(rt: Runtime, jq: JobQueue) -> dict[str, Any]:
    out = jq.to_aws()
    ces = [rt.registry.compute_environments.get(n) for n in jq.ce_names()]
    fargate = any(ce is not None and platform_of(ce) == "FARGATE" for ce in ces)
    out["jobQueueType"] = "ECS_FARGATE" if fargate else "ECS"
    return out


def _queue_type(rt: Runtime, p: Params) -> None:
    """jobQueueType is not kept: it follows from the compute environments (ECS or
    ECS_FARGATE); EKS and SageMaker queues are not supported."""
    kind = p.text("jobQueueType")
    if kind is None:
        return
    if kind not in ("ECS", "ECS_FARGATE"):
        raise ClientError(f"jobQueueType {kind!r}: abatch runs ECS and ECS_FARGATE queues only")
    orders = p.body.get("computeEnvironmentOrder") or []
    if not isinstance(orders, list):
        raise ClientError("computeEnvironmentOrder: expected a list")
    for order in orders:
        ref = order.get("computeEnvironment") if isinstance(order, dict) else None
        if isinstance(ref, str):
            ce = rt.registry.compute_environment(ref)
            want = "ECS_FARGATE" if platform_of(ce) == "FARGATE" else "ECS"
            if want != kind:
                raise ClientError(
                    f"jobQueueType {kind} does not match compute environment "
                    f"{ce.compute_environment_name!r} ({want})"
                )


async def create_job_queue(rt: Runtime, p: Params) -> dict[str, Any]:
    if "serviceEnvironmentOrder" in p:
        raise ClientError("serviceEnvironmentOrder: SageMaker queues are not supported by abatch")
    _queue_type(rt, p)
    body = {k: v for k, v in p.body.items() if k != "jobQueueType"}
    if "computeEnvironmentOrder" not in body:
        raise ClientError("computeEnvironmentOrder is required")
    jq = validated(JobQueue, body, refuse=("status", "statusReason", "jobQueueArn"))
    jq = await rt.create_job_queue(jq)
    return {"jobQueueName": jq.job_queue_name, "jobQueueArn": jq.arn}


async def describe_job_queues(rt: Runtime, p: Params) -> dict[str, Any]:
    names = _names(p, "jobQueues", "job-queue")
    jqs = [jq for n, jq in sorted(rt.registry.job_queues.items()) if names is None or n in names]
    return page_of(
        p, "jobQueues", jqs, lambda jq: [jq.job_queue_name], lambda jq: queue_detail(rt, jq)
    )


async def update_job_queue(rt: Runtime, p: Params) -> dict[str, Any]:
    ref = p.req_text("jobQueue")
    if "serviceEnvironmentOrder" in p:
        raise ClientError("serviceEnvironmentOrder: SageMaker queues are not supported by abatch")
    changes = {
        "state": p.text("state"),
        "priority": p.number("priority"),
        "schedulingPolicyArn": p.text("schedulingPolicyArn"),
        "computeEnvironmentOrder": p.body.get("computeEnvironmentOrder"),
        "jobStateTimeLimitActions": p.body.get("jobStateTimeLimitActions"),
    }
    jq = await rt.update_job_queue(ref, changes)
    return {"jobQueueName": jq.job_queue_name, "jobQueueArn": jq.arn}


async def delete_job_queue(rt: Runtime, p: Params) -> dict[str, Any]:
    await rt.delete_job_queue(p.req_text("jobQueue"))
    return {}


# ---------------------------------------------------------------------- job definitions


async def register_job_definition(rt: Runtime, p: Params) -> dict[str, Any]:
    p.req_text("jobDefinitionName")
    p.req_text("type")
    jd = validated(JobDefinition, p.body, refuse=("revision", "status", "jobDefinitionArn"))
    from abatch.model.policy import tag_problem

    problem = tag_problem(jd.tags or {})
    if problem is not None:
        raise ClientError(problem)
    stored = await rt.register_job_definition(jd)
    return {
        "jobDefinitionName": stored.job_definition_name,
        "jobDefinitionArn": stored.arn,
        "revision": stored.revision,
    }


async def describe_job_definitions(rt: Runtime, p: Params) -> dict[str, Any]:
    refs = p.texts("jobDefinitions", max_items=MAX_NAMES)
    name = p.text("jobDefinitionName")
    status = p.text("status")
    if refs is not None and (name is not None or status is not None):
        raise ClientError("jobDefinitions can't be combined with jobDefinitionName or status")
    if status is not None and status not in JobDefinitionStatus.__members__:
        raise ClientError("status must be ACTIVE or INACTIVE")
    wanted: set[tuple[str, int | None]] | None = None
    if refs is not None:
        try:
            wanted = {parse_jd_ref(r) for r in refs}
        except ValueError as exc:
            raise ClientError(str(exc)) from None
    found = []
    for jd_name, revisions in sorted(rt.registry.job_definitions.items()):
        if name is not None and jd_name != name:
            continue
        for jd in revisions:
            if status is not None and (jd.status is None or jd.status.value != status):
                continue
            if wanted is not None and not (
                (jd_name, jd.revision) in wanted or (jd_name, None) in wanted
            ):
                continue
            found.append(jd)
    return page_of(
        p,
        "jobDefinitions",
        found,
        lambda jd: [jd.job_definition_name, jd.revision or 0],
        rt.registry.aws_of,
    )


async def deregister_job_definition(rt: Runtime, p: Params) -> dict[str, Any]:
    ref = p.req_text("jobDefinition")
    try:
        name, revision = parse_jd_ref(ref)
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    if revision is None:
        raise ClientError("jobDefinition must be name:revision or an ARN with its revision")
    await rt.deregister_job_definition(name, revision)
    return {}


# ---------------------------------------------------------------------- shared


def _names(p: Params, key: str, kind: str) -> set[str] | None:
    refs = p.texts(key, max_items=MAX_NAMES)
    if refs is None:
        return None
    try:
        return {name_from_ref(r, kind) for r in refs}
    except ValueError as exc:
        raise ClientError(str(exc)) from None


def page_of(
    p: Params,
    result: str,
    items: list[T],
    key: Callable[[T], list[Any]],
    render: Callable[[T], dict[str, Any]],
) -> dict[str, Any]:
    """A page of `items` (sorted by `key`); the token holds the key of the last one given,
    so a page is stable when resources are added or removed meanwhile."""
    size = p.page_size()
    token = p.text("nextToken")
    start = 0
    if token is not None:
        after = decode_token(token, result)
        if not isinstance(after, list):
            raise ClientError("nextToken is not valid for this request")
        try:
            start = next((i for i, it in enumerate(items) if key(it) > after), len(items))
        except TypeError:
            raise ClientError("nextToken is not valid for this request") from None
    chunk = items[start : start + size]
    out: dict[str, Any] = {result: [render(it) for it in chunk]}
    if start + size < len(items):
        out["nextToken"] = encode_token(result, key(chunk[-1]))
    return out


OPERATIONS: dict[str, Operation] = {
    "CreateComputeEnvironment": (create_compute_environment, None),
    "DescribeComputeEnvironments": (
        describe_compute_environments,
        ("computeEnvironments", "maxResults", "nextToken"),
    ),
    "UpdateComputeEnvironment": (
        update_compute_environment,
        (
            "computeEnvironment",
            "state",
            "unmanagedvCpus",
            "computeResources",
            "serviceRole",
            "updatePolicy",
            "context",
            "ecsSettings",
            "eksConfiguration",
        ),
    ),
    "DeleteComputeEnvironment": (delete_compute_environment, ("computeEnvironment",)),
    "CreateJobQueue": (create_job_queue, None),
    "DescribeJobQueues": (describe_job_queues, ("jobQueues", "maxResults", "nextToken")),
    "UpdateJobQueue": (
        update_job_queue,
        (
            "jobQueue",
            "state",
            "schedulingPolicyArn",
            "priority",
            "computeEnvironmentOrder",
            "serviceEnvironmentOrder",
            "jobStateTimeLimitActions",
        ),
    ),
    "DeleteJobQueue": (delete_job_queue, ("jobQueue",)),
    "RegisterJobDefinition": (register_job_definition, None),
    "DescribeJobDefinitions": (
        describe_job_definitions,
        ("jobDefinitions", "maxResults", "jobDefinitionName", "status", "nextToken"),
    ),
    "DeregisterJobDefinition": (deregister_job_definition, ("jobDefinition",)),
}
