"""Strict mode: AWS limits that abatch relaxes by default, enforced exactly.

By default abatch is kinder than AWS where AWS's limit only gets in the way of fast local
work (a 5-second timeout in a test, a job without an image on the process executor).
`strict = true` in `[runtime]` (or `load_config(..., strict=True)`) makes a config that
passes here one that AWS would accept too. `RELAXED_LIMITS` lists each limit and what the
default mode allows instead; the README prints it.

The rules themselves live in `abatch.model.strict`, shared with the runtime (the API,
schedules): this module only points them at the file's keys and lines, and adds what only a
file has (its count of compute environments and job queues, a schedule's rate in seconds).
"""

from __future__ import annotations

from collections.abc import Sequence

from abatch.model import strict
from abatch.model.base import parse_jd_ref
from abatch.model.job import SubmitJobRequest
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

from .entries import Entry
from .jobs import JobEntry
from .lines import KeyPath
from .problems import Problems
from .schedules import ScheduleEntry

RELAXED_LIMITS: dict[str, str] = {
    f"timeout.attempt_duration_seconds is at least {strict.AWS_MIN_TIMEOUT_SECONDS}": "at least 1",
    "container_properties.image is required": (
        "may be left out (the process executor does not use it)"
    ),
    "a VCPU requirement is a whole number of at least 1, written as one (EC2)": (
        "any number above 0, e.g. 0.5 or 1.0"
    ),
    (
        f"at most {strict.AWS_MAX_PER_REGION} compute environments "
        f"and {strict.AWS_MAX_PER_REGION} job queues"
    ): "no limit",
    "a rate schedule counts minutes, hours or days": "seconds too, e.g. rate(10 seconds)",
}


def check_strict(
    ces: Sequence[Entry[ComputeEnvironment]],
    queues: Sequence[Entry[JobQueue]],
    defs: Sequence[Entry[JobDefinition]],
    jobs: Sequence[JobEntry],
    problems: Problems,
    schedules: Sequence[ScheduleEntry] = (),
) -> None:
    for entries, noun in ((ces, "compute environments"), (queues, "job queues")):
        why = strict.per_region_problem(len(entries), noun)
        if why is not None:
            problems.add(entries[strict.AWS_MAX_PER_REGION].prefix[:2], why)
    fargate: dict[str, bool] = {}
    for entry in defs:
        if entry.model is not None:
            fargate.setdefault(entry.model.job_definition_name, entry.model.is_fargate)
            for loc, message in strict.definition_problems(entry.model):
                problems.add(entry.path(loc), message)
    for job in jobs:
        if job.job is not None:
            _check_request(job.job.request, job.path, fargate, problems)
    for sched in schedules:
        if sched.parsed is not None and not sched.parsed.aws_compatible:
            problems.add(
                (*sched.path, "schedule_expression"),
                f"rate in seconds is an abatch extension, refused {strict.STRICT}: "
                "the smallest unit is the minute",
            )
        if sched.schedule is not None:
            _check_request(sched.schedule.request, (*sched.path, "job"), fargate, problems)


def _check_request(
    request: SubmitJobRequest, prefix: KeyPath, fargate: dict[str, bool], problems: Problems
) -> None:
    """A job's (or a schedule's job's) own values; its definition is checked on its own."""
    try:
        definition = parse_jd_ref(request.job_definition)[0]
    except ValueError:
        return  # reported by check_job_refs
    on_fargate = fargate.get(definition, False)
    for loc, message in strict.request_problems(request, fargate=on_fargate):
        problems.add((*prefix, *loc), message)
