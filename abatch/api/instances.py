"""Local extension operations (AWS Batch has no such calls): the instances of compute
environments and the jobs on them, and the Spot reclaim simulation.

AWS keeps instances in EC2 and ECS (`ListContainerInstances`, `DescribeContainerInstances`,
EC2 Spot interruptions), none of which abatch serves; these two operations take their place,
on the Batch endpoint's path scheme so that the same client and signing work:

- `POST /v1/listinstances` `{"computeEnvironment"?: name or ARN}` -> `{"instances": [...]}`;
- `POST /v1/reclaiminstance` `{"instanceId": "i-…"}` -> `{"instance": {...}}`: a Spot
  instance is taken back at once; each job on it ends its attempt with
  `Host EC2 (instance i-…) terminated.` and its retry strategy decides.

boto3 and the AWS CLI have no method for them; the abatch CLI (`abatch instances`,
`abatch reclaim`) and `ApiClient` call them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from abatch.model.base import name_from_ref
from abatch.model.errors import ClientError

from .params import Operation, Params

if TYPE_CHECKING:
    from abatch.runtime import Runtime

INSTANCE_ID = re.compile(r"^i-[0-9a-f]{17}$")


async def list_instances(rt: Runtime, p: Params) -> dict[str, Any]:
    ref = p.text("computeEnvironment")
    name = None
    if ref is not None:
        try:
            name = name_from_ref(ref, "compute-environment")
        except ValueError as exc:
            raise ClientError(f"computeEnvironment: {exc}") from None
    return {"instances": [i.to_json() for i in rt.instances(name)]}


async def reclaim_instance(rt: Runtime, p: Params) -> dict[str, Any]:
    instance_id = p.req_text("instanceId")
    if not INSTANCE_ID.match(instance_id):
        raise ClientError(
            f"instanceId {instance_id!r} is not an instance id (i- and 17 hex digits)"
        )
    return {"instance": rt.reclaim_instance(instance_id).to_json()}


OPERATIONS: dict[str, Operation] = {
    "ListInstances": (list_instances, ("computeEnvironment",)),
    "ReclaimInstance": (reclaim_instance, ("instanceId",)),
}
