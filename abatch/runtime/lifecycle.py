"""Create, update and delete compute environments and job queues with AWS's lifecycle rules
(reference §1.1, §1.2, §11):

- at most 50 compute environments and 50 job queues; names are unique;
- a queue lists 1-3 compute environments, each existing and VALID, none twice, and never
  EC2/SPOT mixed with FARGATE/FARGATE_SPOT (an UNMANAGED one counts as EC2);
- a scheduling policy can be given when a queue is created, replaced later, never added to a
  FIFO queue or removed;
- a compute environment is deleted only once DISABLED and attached to no queue (and, here,
  with no attempt still running on it); a queue only once DISABLED, and its unfinished jobs
  are then terminated with `JobQueue deleted`.

The config path (`apply`) uses the plainer `put_*` calls of ResourceManager; these are what
the API's Create/Update/Delete operations call.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError

from abatch.model import fargate
from abatch.model.base import name_from_ref
from abatch.model.enums import FARGATE_TYPES, AllocationStrategy, CEType, ResourceState
from abatch.model.enums import ResourceStatus as Status
from abatch.model.errors import ClientError, ConflictError, NotFoundError
from abatch.model.job import JobRecord
from abatch.model.policy import tag_problem
from abatch.model.resources import (
    LOCAL_CE_SETTINGS,
    TAG_CE_SETTINGS,
    ComputeEnvironment,
    ComputeResources,
    JobQueue,
)
from abatch.model.strict import AWS_MAX_PER_REGION

if TYPE_CHECKING:
    from abatch.scheduler.fairshare import ShareQueue
    from abatch.scheduler.fleet import Fleet
    from abatch.scheduler.placement import CapacityPool
    from abatch.store.sqlite import SqliteStore

    from .attempts import Running
    from .registry import Registry

M = TypeVar("M", bound=BaseModel)
# AWS's per-region limits, held in every mode here (a config file may go past them unless
# it is strict: abatch.config.strict).
MAX_COMPUTE_ENVIRONMENTS = AWS_MAX_PER_REGION
MAX_JOB_QUEUES = AWS_MAX_PER_REGION
REASON_QUEUE_DELETED = "JobQueue deleted"
LOCAL_PREFIX = "abatch:"
CE_KIND = "compute-environment"


def platform_of(ce: ComputeEnvironment) -> str:
    """'FARGATE' or 'EC2' (SPOT and UNMANAGED count as EC2)."""
    cr = ce.compute_resources
    return "FARGATE" if cr is not None and cr.type in FARGATE_TYPES else "EC2"


def local_settings(ce: ComputeEnvironment) -> dict[str, Any]:
    """The fields AWS has no name for (executor, memory, ...): not in `to_aws()`, so an
    update that round-trips the AWS shape carries them over by hand."""
    return {name: getattr(ce, name) for name in LOCAL_CE_SETTINGS}


def split_local_tags(tags: dict[str, str] | None) -> tuple[dict[str, str], dict[str, str]]:
    """(AWS tags, local settings) from a tag map: `abatch:executor=docker` is the setting
    `executor`; `-` and `_` are alike (`abatch:docker-host`). An unknown `abatch:` key is an
    error, so a misspelling is not silently kept as a plain tag."""
    plain: dict[str, str] = {}
    settings: dict[str, str] = {}
    for key, value in (tags or {}).items():
        if not key.startswith(LOCAL_PREFIX):
            plain[key] = value
            continue
        name = key[len(LOCAL_PREFIX) :].replace("-", "_")
        if name not in TAG_CE_SETTINGS:
            known = ", ".join(_tag_name(n) for n in sorted(TAG_CE_SETTINGS))
            raise ClientError(f"tag {key!r} is not an abatch setting; known: {known}")
        settings[name] = value
    return plain, settings


def _tag_name(setting: str) -> str:
    return LOCAL_PREFIX + setting.replace("_", "-")


def ce_tags(ce: ComputeEnvironment) -> dict[str, str]:
    """A compute environment's tags as the API shows them: its AWS tags plus one `abatch:`
    tag per local setting that differs from the default."""
    out = dict(ce.tags or {})
    for name in sorted(TAG_CE_SETTINGS):
        value = getattr(ce, name)
        if value is None or value == type(ce).model_fields[name].default:
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = ",".join(value)
        else:
            text = str(value.value if isinstance(value, Enum) else value)
        out[_tag_name(name)] = text
    return out


def with_local_tags(ce: ComputeEnvironment, tags: dict[str, str]) -> ComputeEnvironment:
    """`ce` with `tags` as its whole tag map: `abatch:` tags set the local settings (a setting
    whose tag is absent goes back to its default), the others become its AWS tags."""
    plain, settings = split_local_tags(tags)
    doc = ce.model_dump()
    for name in TAG_CE_SETTINGS:
        doc[name] = settings.get(name, type(ce).model_fields[name].default)
    doc["tags"] = plain or None
    try:
        return ComputeEnvironment.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = str(first["loc"][0]) if first["loc"] else ""
        if where in TAG_CE_SETTINGS:
            raise ClientError(f"tag {_tag_name(where)}: {first['msg']}") from None
        raise ClientError(first["msg"]) from None


class LifecycleMixin:
    registry: Registry
    store: SqliteStore
    pools: dict[str, CapacityPool]
    runnable: dict[str, deque[JobRecord]]
    shares: dict[str, ShareQueue]
    running: dict[str, Running]
    jobs: dict[str, JobRecord]
    _wake: asyncio.Event

    # ResourceManager / MovesMixin
    put_compute_environment: Callable[[ComputeEnvironment], Awaitable[str]]
    put_job_queue: Callable[[JobQueue], Awaitable[str]]
    terminate_job: Callable[[str, str], Awaitable[None]]
    # TaggingMixin
    policy_exists: Callable[[str], Awaitable[bool]]
    # InstancesMixin
    _forget_fleet: Callable[[str, Fleet], None]

    # ------------------------------------------------------------------ compute environments

    async def create_compute_environment(self, ce: ComputeEnvironment) -> ComputeEnvironment:
        name = ce.compute_environment_name
        if name in self.registry.compute_environments:
            raise ConflictError(f"compute environment {name!r} already exists")
        if len(self.registry.compute_environments) >= MAX_COMPUTE_ENVIRONMENTS:
            raise ClientError(f"at most {MAX_COMPUTE_ENVIRONMENTS} compute environments")
        check_tags(ce_tags(ce))
        cr = ce.compute_resources
        if cr is not None and cr.type in FARGATE_TYPES:
            _refuse_fargate(cr, cr.model_fields_set)
        await self.put_compute_environment(ce)
        return ce

    async def update_compute_environment(
        self, ref: str, changes: dict[str, Any]
    ) -> ComputeEnvironment:
        """`changes` in AWS spelling: state, unmanagedvCpus, computeResources (merged into
        the current ones), serviceRole, updatePolicy (stored and echoed back)."""
        old = self.registry.compute_environment(ref)
        doc = old.to_aws()
        for key in ("computeEnvironmentArn", "ecsClusterArn"):
            doc.pop(key, None)
        cr_changes = changes.get("computeResources")
        if cr_changes is not None:
            if old.type is CEType.UNMANAGED:
                raise ClientError("an UNMANAGED compute environment takes no computeResources")
            if cr_changes.get("allocationStrategy") == AllocationStrategy.BEST_FIT.value:
                raise ClientError("an update can't set allocationStrategy to BEST_FIT")
            doc["computeResources"] = {**doc["computeResources"], **cr_changes}
        if changes.get("unmanagedvCpus") is not None and old.type is not CEType.UNMANAGED:
            raise ClientError("unmanagedvCpus applies to UNMANAGED compute environments only")
        for key in ("state", "unmanagedvCpus", "serviceRole", "updatePolicy"):
            if changes.get(key) is not None:
                doc[key] = changes[key]
        new = _validated(ComputeEnvironment, {**doc, **local_settings(old)})
        if platform_of(new) != platform_of(old):
            raise ClientError(
                "computeResources.type can't change between EC2/SPOT and FARGATE/FARGATE_SPOT"
            )
        if new.compute_resources is not None and platform_of(new) == "FARGATE":
            aliases = {f.alias or n: n for n, f in ComputeResources.model_fields.items()}
            given = {aliases.get(k, k) for k in cr_changes or {}}
            _refuse_fargate(new.compute_resources, given)
        await self.put_compute_environment(new)
        return new

    async def delete_compute_environment(self, ref: str) -> None:
        ce = self.registry.compute_environment(ref)
        name = ce.compute_environment_name
        if ce.state is not ResourceState.DISABLED:
            raise ConflictError(
                f"compute environment {name!r} must be DISABLED before it can be deleted"
            )
        users = sorted(
            jq.job_queue_name for jq in self.registry.job_queues.values() if name in jq.ce_names()
        )
        if users:
            raise ConflictError(
                f"compute environment {name!r} is still attached to job queue(s) "
                f"{', '.join(users)}; remove it from them first"
            )
        busy = sum(1 for run in self.running.values() if run.attempt.ce == name)
        if busy:
            raise ConflictError(
                f"compute environment {name!r} still has {busy} attempt(s) running; "
                "terminate them or wait for them to finish"
            )
        await self.store.delete_compute_environment(name)
        self.registry.compute_environments.pop(name, None)
        pool = self.pools.pop(name, None)
        if pool is not None and pool.fleet is not None:
            self._forget_fleet(name, pool.fleet)

    # ------------------------------------------------------------------ job queues

    async def create_job_queue(self, jq: JobQueue) -> JobQueue:
        name = jq.job_queue_name
        if name in self.registry.job_queues:
            raise ConflictError(f"job queue {name!r} already exists")
        if len(self.registry.job_queues) >= MAX_JOB_QUEUES:
            raise ClientError(f"at most {MAX_JOB_QUEUES} job queues")
        check_tags(jq.tags)
        jq = _names_only(jq)
        await self._check_queue(jq)
        await self.put_job_queue(jq)
        return jq

    async def update_job_queue(self, ref: str, changes: dict[str, Any]) -> JobQueue:
        """`changes` in AWS spelling: state, priority, computeEnvironmentOrder,
        schedulingPolicyArn, jobStateTimeLimitActions (lists replace the current ones)."""
        old = self.registry.queue(ref)
        policy = changes.get("schedulingPolicyArn")
        if policy is not None and old.scheduling_policy_arn is None:
            raise ClientError(
                f"job queue {old.job_queue_name!r} is a FIFO queue; a scheduling policy can "
                "only be given when a queue is created"
            )
        doc = old.to_aws()
        doc.pop("jobQueueArn", None)
        for key in (
            "state",
            "priority",
            "computeEnvironmentOrder",
            "schedulingPolicyArn",
            "jobStateTimeLimitActions",
        ):
            if changes.get(key) is not None:
                doc[key] = changes[key]
        new = _names_only(_validated(JobQueue, doc))
        await self._check_queue(new)
        await self.put_job_queue(new)
        return new

    async def delete_job_queue(self, ref: str) -> None:
        jq = self.registry.queue(ref)
        name = jq.job_queue_name
        if jq.state is not ResourceState.DISABLED:
            raise ConflictError(f"job queue {name!r} must be DISABLED before it can be deleted")
        # Parents first: terminating an array parent takes its children along.
        tops = [
            j.job_id
            for j in self.jobs.values()
            if j.job_queue == name and "_parent" not in j.spec and "_mnp" not in j.spec
        ]
        for job_id in tops:
            if job_id in self.jobs:
                await self.terminate_job(job_id, REASON_QUEUE_DELETED)
        await self.store.delete_job_queue(name)
        self.registry.job_queues.pop(name, None)
        self.runnable.pop(name, None)
        self.shares.pop(name, None)
        self._wake.set()

    async def _check_queue(self, jq: JobQueue) -> None:
        names = jq.ce_names()
        seen: set[str] = set()
        platforms: set[str] = set()
        for name in names:
            if name in seen:
                raise ClientError(f"compute environment {name!r} is listed twice")
            seen.add(name)
            ce = self.registry.compute_environment(name)
            if ce.status is not Status.VALID:
                raise ClientError(f"compute environment {name!r} is {ce.status.value}, not VALID")
            platforms.add(platform_of(ce))
        if len(platforms) > 1:
            raise ClientError(
                "a job queue can't mix EC2/SPOT compute environments with FARGATE/FARGATE_SPOT"
            )
        policy = jq.scheduling_policy_arn
        if policy is not None:
            try:
                name = name_from_ref(policy, "scheduling-policy")
            except ValueError as exc:
                raise ClientError(str(exc)) from None
            if not policy.startswith("arn:") or not await self.policy_exists(name):
                raise NotFoundError(f"scheduling policy {policy!r} does not exist")


def _refuse_fargate(cr: ComputeResources, given: set[str]) -> None:
    problems = fargate.compute_resources_problems(cr, given)
    if problems:
        raise ClientError(fargate.problems_text(problems, ("computeResources",)))


def _names_only(jq: JobQueue) -> JobQueue:
    """Compute environments kept by name (Describe gives ARNs back), so a queue from the API
    and the same queue from a config compare equal."""
    try:
        order = [
            o.model_copy(
                update={"compute_environment": name_from_ref(o.compute_environment, CE_KIND)}
            )
            for o in jq.compute_environment_order
        ]
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    return jq.model_copy(update={"compute_environment_order": order})


def check_tags(tags: dict[str, str] | None) -> None:
    problem = tag_problem(tags or {})
    if problem is not None:
        raise ClientError(problem)


def _validated(cls: type[M], doc: dict[str, Any]) -> M:
    """`cls.model_validate(doc)`, a pydantic error becoming a ClientError."""
    try:
        return cls.model_validate(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ClientError(f"{where}: {first['msg']}" if where else first["msg"]) from None


def now_ms() -> int:
    return int(time.time() * 1000)
