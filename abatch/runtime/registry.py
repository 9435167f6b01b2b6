"""In-memory registry of compute environments, job queues and job definitions.

The runtime loads it from the store at start and keeps it in step on every change, so
submission and scheduling never read resources from SQLite. Validation of requests against
current state (queue exists and is ENABLED, definition revision exists and is ACTIVE) lives
here; the AWS shapes themselves are validated by the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from abatch.model.base import name_from_ref, parse_jd_ref
from abatch.model.enums import JobDefinitionStatus, ResourceState
from abatch.model.errors import ClientError, NotFoundError
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue


def _did_you_mean(name: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


T = TypeVar("T")


def _lookup(table: dict[str, T], ref: str, arn_kind: str, noun: str) -> T:
    """A resource by name or ARN, or an error naming it with a "did you mean"."""
    try:
        name = name_from_ref(ref, arn_kind)
    except ValueError as exc:
        raise ClientError(str(exc)) from None
    found = table.get(name)
    if found is None:
        raise NotFoundError(f"{noun} {name!r} does not exist{_did_you_mean(name, list(table))}")
    return found


@dataclass
class Registry:
    compute_environments: dict[str, ComputeEnvironment] = field(default_factory=dict)
    job_queues: dict[str, JobQueue] = field(default_factory=dict)
    job_definitions: dict[str, list[JobDefinition]] = field(default_factory=dict)
    _aws_cache: dict[tuple[str, int | None, Any], dict[str, Any]] = field(default_factory=dict)
    # JobQueue.ce_names per queue, for the scheduling pass; a changed queue is a new model.
    _ce_names: dict[str, tuple[JobQueue, list[str]]] = field(default_factory=dict)

    def ce_names(self, jq: JobQueue) -> list[str]:
        """`jq.ce_names()`, worked out once per version of the queue (callers must not
        change the list)."""
        cached = self._ce_names.get(jq.job_queue_name)
        if cached is None or cached[0] is not jq:
            cached = (jq, jq.ce_names())
            self._ce_names[jq.job_queue_name] = cached
        return cached[1]

    def queue(self, ref: str) -> JobQueue:
        return _lookup(self.job_queues, ref, "job-queue", "job queue")

    def compute_environment(self, ref: str) -> ComputeEnvironment:
        return _lookup(self.compute_environments, ref, "compute-environment", "compute environment")

    def queue_for_submit(self, ref: str) -> JobQueue:
        jq = self.queue(ref)
        if jq.state is ResourceState.DISABLED:
            raise ClientError(f"job queue {jq.job_queue_name!r} is DISABLED and accepts no jobs")
        return jq

    def definition(self, ref: str) -> JobDefinition:
        """By bare name (latest ACTIVE revision), `name:revision`, or ARN."""
        try:
            name, revision = parse_jd_ref(ref)
        except ValueError as exc:
            raise ClientError(str(exc)) from None
        revisions = self.job_definitions.get(name)
        if not revisions:
            known = list(self.job_definitions)
            raise NotFoundError(
                f"job definition {name!r} does not exist{_did_you_mean(name, known)}"
            )
        if revision is None:
            for jd in reversed(revisions):
                if jd.status is JobDefinitionStatus.ACTIVE:
                    return jd
            raise ClientError(f"job definition {name!r} has no ACTIVE revision")
        for jd in revisions:
            if jd.revision == revision:
                if jd.status is not JobDefinitionStatus.ACTIVE:
                    raise ClientError(f"job definition {name}:{revision} is INACTIVE")
                return jd
        latest = revisions[-1].revision
        raise NotFoundError(
            f"job definition {name}:{revision} does not exist (latest revision is {latest})"
        )

    def aws_of(self, jd: JobDefinition) -> dict[str, Any]:
        """`jd.to_aws()`, computed once per revision (submissions of 100,000 jobs reuse it)."""
        key = (jd.job_definition_name, jd.revision, jd.status)
        cached = self._aws_cache.get(key)
        if cached is None:
            cached = self._aws_cache[key] = jd.to_aws()
        return cached

    def latest(self, name: str) -> JobDefinition | None:
        revisions = self.job_definitions.get(name)
        return revisions[-1] if revisions else None

    def add_definition(self, jd: JobDefinition) -> None:
        revisions = self.job_definitions.setdefault(jd.job_definition_name, [])
        revisions[:] = [r for r in revisions if r.revision != jd.revision] + [jd]
        revisions.sort(key=lambda r: r.revision or 0)
