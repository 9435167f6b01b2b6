"""Checks across tables: unique names, references by name, dependency cycles.

They read names as written (even from tables whose model is invalid), so one mistake is
reported once: a queue with a bad priority is still a queue that jobs may name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from abatch.model import fargate
from abatch.model.base import name_from_ref, parse_jd_ref
from abatch.model.enums import FARGATE_TYPES as _FARGATE
from abatch.model.policy import policy_arn
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

from .entries import KINDS, Entry
from .jobs import JobEntry, check_dependencies, find_cycles
from .lines import KeyPath
from .problems import Problems, did_you_mean, format_key, name_hint


def unique_names(
    kind: str, entries: Sequence[tuple[KeyPath, str | None]], problems: Problems
) -> dict[str, int]:
    """Name -> index of its first table; later tables with the same name are problems."""
    noun = KINDS[kind].noun if kind in KINDS else kind
    first: dict[str, int] = {}
    for index, (path, name) in enumerate(entries):
        if name is None:
            continue
        if name in first:
            other = entries[first[name]][0]
            line = problems.lines.line_of(other)
            where = format_key(other[:2]) + (f", line {line}" if line else "")
            problems.add(path, f"another {noun} is named {name!r} ({where})")
        else:
            first[name] = index
    return first


def name_path(entry: Entry[Any]) -> KeyPath:
    kind = KINDS[str(entry.prefix[0])]
    return entry.path((kind.name_field,))


def check_queue_refs(items: Sequence[object], ce_names: dict[str, int], problems: Problems) -> None:
    """Each queue's compute_environment_order names compute environments of this file."""
    for index, item in enumerate(items):
        order = item.get("compute_environment_order") if isinstance(item, dict) else None
        if not isinstance(order, list):
            continue
        seen: set[str] = set()
        for n, slot in enumerate(order):
            ref = slot.get("compute_environment") if isinstance(slot, dict) else None
            if not isinstance(ref, str):
                continue
            path: KeyPath = (
                "job_queue",
                index,
                "compute_environment_order",
                n,
                "compute_environment",
            )
            name = _name(ref, "compute-environment", path, problems)
            if name is None:
                continue
            if name not in ce_names:
                problems.add(
                    path,
                    f"unknown compute environment {name!r}",
                    name_hint(name, ce_names, "compute_environment"),
                )
            elif name in seen:
                problems.add(path, f"compute environment {name!r} is listed twice")
            seen.add(name)


def check_queue_mix(
    queues: Sequence[Entry[JobQueue]], ces: dict[str, ComputeEnvironment], problems: Problems
) -> None:
    """AWS refuses a queue mixing EC2/SPOT compute environments with FARGATE ones."""
    for entry in queues:
        if entry.model is None:
            continue
        kinds = {
            ce.compute_resources.type in _FARGATE
            for name in entry.model.ce_names()
            if (ce := ces.get(name)) is not None and ce.compute_resources is not None
        }
        if len(kinds) > 1:
            problems.add(
                entry.path(("compute_environment_order",)),
                "cannot mix EC2 or SPOT compute environments with FARGATE ones",
            )


def check_fargate(
    ces: Sequence[Entry[ComputeEnvironment]],
    defs: Sequence[Entry[JobDefinition]],
    problems: Problems,
) -> None:
    """Fargate's rules (model.fargate) on FARGATE / FARGATE_SPOT compute environments and on
    job definitions with platform_capabilities FARGATE."""
    for ce_entry in ces:
        cr = ce_entry.model.compute_resources if ce_entry.model is not None else None
        if cr is not None and cr.type in _FARGATE:
            for loc, message in fargate.compute_resources_problems(cr, cr.model_fields_set):
                problems.add(ce_entry.path(("compute_resources", *loc)), message)
    for jd_entry in defs:
        if jd_entry.model is not None and jd_entry.model.is_fargate:
            for loc, message in fargate.definition_problems(jd_entry.model):
                problems.add(jd_entry.path(loc), message)


def check_queue_policies(
    queues: Sequence[Entry[JobQueue]], policies: dict[str, int], problems: Problems
) -> None:
    """A queue's `scheduling_policy_arn` (an ARN, or just the name) names a
    `[[scheduling_policy]]` of this file; the queue's model then carries the full ARN."""
    for entry in queues:
        ref = entry.model.scheduling_policy_arn if entry.model is not None else None
        if entry.model is None or ref is None:
            continue
        try:
            name = name_from_ref(ref, "scheduling-policy")
        except ValueError as exc:
            problems.add(entry.path(("scheduling_policy_arn",)), str(exc))
            continue
        if name not in policies:
            problems.add(
                entry.path(("scheduling_policy_arn",)),
                f"names scheduling policy {name!r}, which this config does not define",
                did_you_mean(name, list(policies)) or "add a [[scheduling_policy]] table",
            )
            continue
        entry.model = entry.model.model_copy(update={"scheduling_policy_arn": policy_arn(name)})


def check_job_refs(
    items: Sequence[tuple[KeyPath, object]],
    queues: dict[str, int],
    defs: dict[str, int],
    problems: Problems,
) -> None:
    """Each job table (a `[[job]]` or a `[schedule.job]`, with its key path) names a queue
    and a job definition of this file."""
    for prefix, item in items:
        if not isinstance(item, dict):
            continue
        ref = item.get("job_queue")
        path: KeyPath = (*prefix, "job_queue")
        name = _name(ref, "job-queue", path, problems) if isinstance(ref, str) else None
        if name is not None and name not in queues:
            problems.add(path, f"unknown job queue {name!r}", name_hint(name, queues, "job_queue"))
        ref = item.get("job_definition")
        path = (*prefix, "job_definition")
        if isinstance(ref, str):
            try:
                name = parse_jd_ref(ref)[0]
            except ValueError as err:
                problems.add(path, str(err))
                continue
            if name not in defs:
                problems.add(
                    path,
                    f"unknown job definition {name!r}",
                    name_hint(name, defs, "job_definition"),
                )


def check_job_shares(
    items: Sequence[tuple[KeyPath, object]], fair_queues: set[str], problems: Problems
) -> None:
    """As SubmitJob: `share_identifier` is required on a queue with a scheduling policy and
    refused on a FIFO one, so `validate` finds what `run` would refuse after applying."""
    for prefix, item in items:
        if not isinstance(item, dict) or not isinstance(item.get("job_queue"), str):
            continue
        try:
            queue = name_from_ref(item["job_queue"], "job-queue")
        except ValueError:
            continue  # reported by check_job_refs
        has_share = item.get("share_identifier") is not None
        if queue in fair_queues and not has_share:
            problems.add(
                (*prefix, "share_identifier"),
                f"job queue {queue!r} has a fair-share scheduling policy: a share_identifier "
                "is required",
            )
        elif queue not in fair_queues and has_share:
            problems.add(
                (*prefix, "share_identifier"),
                f"job queue {queue!r} has no scheduling policy (FIFO): share_identifier is "
                "not allowed",
            )


def check_jobs_graph(
    entries: Sequence[JobEntry], names: dict[str, int], problems: Problems
) -> list[list[int]]:
    """Dependencies name jobs of this file and form no cycle; returns each job's deps."""
    check_dependencies(entries, names, problems)
    edges = [
        [names[job] for job, _ in entry.depends_on if job is not None and job in names]
        for entry in entries
    ]
    for cycle in find_cycles(edges):
        chain = " -> ".join(str(entries[i].name) for i in cycle)
        problems.add((*entries[cycle[0]].path, "depends_on"), f"dependency cycle: {chain}")
    return edges


def _name(ref: str, kind: str, path: KeyPath, problems: Problems) -> str | None:
    try:
        return name_from_ref(ref, kind)
    except ValueError as err:
        problems.add(path, str(err))
        return None
