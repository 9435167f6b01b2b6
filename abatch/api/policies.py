"""Scheduling policy operations and the three tag operations.

Tag operations are the only ones not at `POST /v1/<op>`: `GET`, `POST` and `DELETE` on
`/v1/tags/{resourceArn}`, the ARN percent-encoded in the path (`:` as `%3A`, `/` as `%2F`).
The server matches them on the raw path and hands over the ARN decoded once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from abatch.model.errors import ClientError
from abatch.model.policy import FairsharePolicy, SchedulingPolicy

from .errors import validation_message
from .params import Operation, Params
from .resources import page_of, validated

if TYPE_CHECKING:
    from abatch.runtime import Runtime

MAX_DESCRIBE = 100


def _no_quota_share(p: Params) -> None:
    if "quotaSharePolicy" in p:
        raise ClientError("quotaSharePolicy: quota shares are not supported by abatch")


async def create_scheduling_policy(rt: Runtime, p: Params) -> dict[str, Any]:
    _no_quota_share(p)
    p.req_text("name")
    policy = validated(SchedulingPolicy, p.body)
    await rt.create_scheduling_policy(policy)
    return {"name": policy.name, "arn": policy.arn}


async def describe_scheduling_policies(rt: Runtime, p: Params) -> dict[str, Any]:
    arns = p.texts("arns", required=True, max_items=MAX_DESCRIBE) or []
    out = []
    for arn in dict.fromkeys(arns):
        try:
            out.append((await rt.scheduling_policy(arn)).to_aws())
        except ClientError:
            continue  # unknown ARNs are left out, as DescribeJobs leaves out unknown ids
    return {"schedulingPolicies": out}


async def list_scheduling_policies(rt: Runtime, p: Params) -> dict[str, Any]:
    policies = await rt.store.scheduling_policies()
    return page_of(
        p, "schedulingPolicies", policies, lambda sp: [sp.name], lambda sp: {"arn": sp.arn}
    )


async def update_scheduling_policy(rt: Runtime, p: Params) -> dict[str, Any]:
    _no_quota_share(p)
    arn = p.req_text("arn")
    raw = p.obj("fairsharePolicy")
    fairshare = None
    if raw is not None:
        try:
            fairshare = FairsharePolicy.model_validate(raw)
        except ValidationError as exc:
            raise ClientError("fairsharePolicy." + validation_message(exc)) from None
    await rt.update_scheduling_policy(arn, fairshare)
    return {}


async def delete_scheduling_policy(rt: Runtime, p: Params) -> dict[str, Any]:
    await rt.delete_scheduling_policy(p.req_text("arn"))
    return {}


# ---------------------------------------------------------------------- tags


async def list_tags_for_resource(rt: Runtime, arn: str) -> dict[str, Any]:
    return {"tags": await rt.list_tags(arn)}


async def tag_resource(rt: Runtime, arn: str, p: Params) -> dict[str, Any]:
    tags = p.text_map("tags", required=True) or {}
    if not tags:
        raise ClientError("tags: at least one tag is required")
    await rt.tag_resource(arn, tags)
    return {}


async def untag_resource(rt: Runtime, arn: str, keys: list[str]) -> dict[str, Any]:
    if not keys:
        raise ClientError("tagKeys is required")
    if len(keys) > 50:
        raise ClientError("tagKeys: at most 50 keys")
    await rt.untag_resource(arn, keys)
    return {}


OPERATIONS: dict[str, Operation] = {
    "CreateSchedulingPolicy": (create_scheduling_policy, None),
    "DescribeSchedulingPolicies": (describe_scheduling_policies, ("arns",)),
    "ListSchedulingPolicies": (list_scheduling_policies, ("maxResults", "nextToken")),
    "UpdateSchedulingPolicy": (
        update_scheduling_policy,
        ("arn", "fairsharePolicy", "quotaSharePolicy"),
    ),
    "DeleteSchedulingPolicy": (delete_scheduling_policy, ("arn",)),
}
