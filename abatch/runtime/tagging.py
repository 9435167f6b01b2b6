"""Scheduling policies (stored, validated, and handed to the fair-share queues that use them:
shares.py) and tags on every taggable resource (reference §1.3, §10).

Tags live where the resource lives: in the document of a compute environment, job queue,
job definition revision or policy. A job's spec is written once at submit, so tags changed
on a job afterwards go to their own table and win over the submitted ones. Array children
and multi-node nodes are not taggable, as on AWS.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from abatch.model.base import name_from_ref, parse_jd_ref
from abatch.model.errors import ClientError, ConflictError, NotFoundError
from abatch.model.job import JobRecord
from abatch.model.policy import FairsharePolicy, SchedulingPolicy
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

from .lifecycle import ce_tags, check_tags, now_ms, with_local_tags

if TYPE_CHECKING:
    from abatch.store.sqlite import SqliteStore

    from .registry import Registry

MAX_POLICIES = 50
_TAG_ARN = re.compile(
    r"^arn:aws:batch:[a-z0-9-]*:\d*:"
    r"(?P<kind>compute-environment|job-queue|job-definition|job|scheduling-policy)/(?P<rest>.+)$"
)


class TaggingMixin:
    registry: Registry
    store: SqliteStore

    # ResourceManager / Runtime
    put_compute_environment: Callable[[ComputeEnvironment], Awaitable[str]]
    put_job_queue: Callable[[JobQueue], Awaitable[str]]
    get_jobs: Callable[[list[str]], Awaitable[list[JobRecord]]]
    _policy_stored: Callable[[SchedulingPolicy | None, str], None]  # SharesMixin

    # ------------------------------------------------------------------ policies

    async def policy_exists(self, name: str) -> bool:
        return any(p.name == name for p in await self.store.scheduling_policies())

    async def scheduling_policy(self, ref: str) -> SchedulingPolicy:
        """By ARN (as AWS requires) or, for abatch's own tools, by name."""
        try:
            name = name_from_ref(ref, "scheduling-policy")
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        for policy in await self.store.scheduling_policies():
            if policy.name == name:
                return policy
        raise NotFoundError(f"scheduling policy {ref!r} does not exist")

    async def create_scheduling_policy(self, policy: SchedulingPolicy) -> SchedulingPolicy:
        existing = await self.store.scheduling_policies()
        if any(p.name == policy.name for p in existing):
            raise ConflictError(f"scheduling policy {policy.name!r} already exists")
        if len(existing) >= MAX_POLICIES:
            raise ClientError(f"at most {MAX_POLICIES} scheduling policies")
        check_tags(policy.tags)
        await self.store.put_scheduling_policy(policy, now_ms())
        self._policy_stored(policy, policy.name)
        return policy

    async def update_scheduling_policy(
        self, ref: str, fairshare: FairsharePolicy | None
    ) -> SchedulingPolicy:
        policy = await self.scheduling_policy(ref)
        if fairshare is not None:
            policy = policy.model_copy(update={"fairshare_policy": fairshare})
            await self.store.put_scheduling_policy(policy, now_ms())
            self._policy_stored(policy, policy.name)
        return policy

    async def delete_scheduling_policy(self, ref: str) -> None:
        policy = await self.scheduling_policy(ref)
        users = sorted(
            jq.job_queue_name
            for jq in self.registry.job_queues.values()
            if jq.scheduling_policy_arn is not None
            and name_from_ref(jq.scheduling_policy_arn, "scheduling-policy") == policy.name
        )
        if users:
            raise ConflictError(
                f"scheduling policy {policy.name!r} is in use by job queue(s) {', '.join(users)}"
            )
        await self.store.delete_scheduling_policy(policy.name)
        self._policy_stored(None, policy.name)

    # ------------------------------------------------------------------ tags

    async def list_tags(self, resource_arn: str) -> dict[str, str]:
        kind, rest = _parse_arn(resource_arn)
        if kind == "compute-environment":
            return ce_tags(self.registry.compute_environment(rest))
        if kind == "job-queue":
            return dict(self.registry.queue(rest).tags or {})
        if kind == "job-definition":
            return dict(self._definition_revision(rest).tags or {})
        if kind == "scheduling-policy":
            return dict((await self.scheduling_policy(rest)).tags or {})
        return await self._job_tags(rest)

    async def tag_resource(self, resource_arn: str, tags: dict[str, str]) -> None:
        current = await self.list_tags(resource_arn)
        await self._set_tags(resource_arn, {**current, **tags})

    async def untag_resource(self, resource_arn: str, keys: list[str]) -> None:
        current = await self.list_tags(resource_arn)
        await self._set_tags(resource_arn, {k: v for k, v in current.items() if k not in keys})

    async def _set_tags(self, resource_arn: str, tags: dict[str, str]) -> None:
        check_tags(tags)
        kind, rest = _parse_arn(resource_arn)
        value = tags or None
        if kind == "compute-environment":
            # `abatch:` tags are the local settings: tagging changes them.
            ce = self.registry.compute_environment(rest)
            await self.put_compute_environment(with_local_tags(ce, tags))
        elif kind == "job-queue":
            jq = self.registry.queue(rest)
            await self.put_job_queue(jq.model_copy(update={"tags": value}))
        elif kind == "job-definition":
            jd = self._definition_revision(rest).model_copy(update={"tags": value})
            await self.store.put_job_definition(jd, now_ms())
            self.registry.add_definition(jd)
            # Submissions read the definition's AWS shape from a per-revision cache.
            self.registry._aws_cache.pop((jd.job_definition_name, jd.revision, jd.status), None)
        elif kind == "scheduling-policy":
            policy = await self.scheduling_policy(rest)
            await self.store.put_scheduling_policy(
                policy.model_copy(update={"tags": value}), now_ms()
            )
        else:
            await self.store.set_job_tags(rest, tags)

    def _definition_revision(self, rest: str) -> JobDefinition:
        try:
            name, revision = parse_jd_ref(rest)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        if revision is None:
            raise ClientError("a job definition ARN for tags must end in :REVISION")
        for jd in self.registry.job_definitions.get(name) or []:
            if jd.revision == revision:
                return jd
        raise NotFoundError(f"job definition {name}:{revision} does not exist")

    async def _job_tags(self, job_id: str) -> dict[str, str]:
        if ":" in job_id or "#" in job_id:
            raise ClientError(
                f"{job_id!r} is an array child or a multi-node node; tags belong to the parent job"
            )
        jobs = await self.get_jobs([job_id])
        if not jobs:
            raise NotFoundError(f"job {job_id} does not exist")
        changed = await self.store.job_tags([job_id])
        if job_id in changed:
            return changed[job_id]
        return dict(jobs[0].spec.get("tags") or {})


def _parse_arn(resource_arn: str) -> tuple[str, str]:
    m = _TAG_ARN.match(resource_arn)
    if m is None:
        raise ClientError(
            f"{resource_arn!r} is not the ARN of a taggable AWS Batch resource (compute "
            "environment, job queue, job definition, job or scheduling policy)"
        )
    return m.group("kind"), m.group("rest")
