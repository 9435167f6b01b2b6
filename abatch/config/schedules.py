"""`[[schedule]]` entries: EventBridge-style schedules that submit a job when they fire.

```toml
[[schedule]]
name = "nightly"                           # unique among schedules; [A-Za-z0-9_-]{1,128}
schedule_expression = "cron(0 2 * * ? *)"  # or "rate(10 minutes)"; times are UTC
state = "ENABLED"                          # or "DISABLED"; default ENABLED
[schedule.job]                             # the keys of a [[job]], except depends_on
name = "nightly-report"
job_queue = "low"
job_definition = "report"
parameters = { day = "today" }
```

The expression is parsed by `abatch.scheduler.cron` and its `ValueError` message is the
problem reported. A scheduled job is submitted on its own, so it takes no `depends_on`.
Queue and definition names, duplicate schedule names and strict mode are checked by the
loader with the rest of the config.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from abatch.model.job import SubmitJobRequest
from abatch.scheduler.cron import Schedule, parse_schedule

from .jobs import JOB_TABLE, validate_request
from .lines import KeyPath
from .problems import Problems, did_you_mean, show
from .schema import LEAF, check_keys, table_for

SCHEDULE_KEYS = ("name", "schedule_expression", "state", "job")
STATES = ("ENABLED", "DISABLED")
SCHEDULE_NAME = re.compile(r"[A-Za-z0-9_-]{1,128}")

SCHEDULE_JOB_TABLE = table_for(
    SubmitJobRequest,
    "snake",
    rename={"job_name": "name"},
    exclude=frozenset({"array_properties", "depends_on"}),
    extra={"array_size": LEAF},
    moved=JOB_TABLE.moved,
)
_EXPRESSION_HINT = "did you mean 'schedule_expression'?"
_MOVED = {
    **{key: _EXPRESSION_HINT for key in ("expression", "schedule", "cron", "rate")},
    **{
        key: "it belongs in the [schedule.job] table"
        for key in SCHEDULE_JOB_TABLE.fields
        if key not in SCHEDULE_KEYS
    },
}


@dataclass
class ConfigSchedule:
    """A valid schedule: what to submit (names as written in the config) and when."""

    name: str
    expression: str
    enabled: bool
    request: SubmitJobRequest
    line: int | None


@dataclass
class ScheduleEntry:
    """One `[[schedule]]` table as far as it could be read."""

    path: KeyPath
    name: str | None
    parsed: Schedule | None
    job_table: dict[str, Any] | None  # the [schedule.job] table, for reference checks
    schedule: ConfigSchedule | None


def schedule_entry(index: int, item: dict[str, Any], problems: Problems) -> ScheduleEntry:
    """Read one `[[schedule]]` table, reporting every problem in it."""
    path: KeyPath = ("schedule", index)
    for key in item:
        if key not in SCHEDULE_KEYS:
            hint = _MOVED.get(key) or did_you_mean(key, SCHEDULE_KEYS)
            problems.add((*path, key), "unknown key", hint)
    name = _name(item, path, problems)
    parsed = _expression(item, path, problems)
    state = item.get("state", "ENABLED")
    if state not in STATES:
        hint = did_you_mean(state, STATES) if isinstance(state, str) else None
        problems.add((*path, "state"), f"must be 'ENABLED' or 'DISABLED', not {show(state)}", hint)
    job_table, request = _job(item, path, problems)
    schedule = None
    if name is not None and parsed is not None and request is not None and state in STATES:
        schedule = ConfigSchedule(
            name, parsed.expression, state == "ENABLED", request, problems.lines.exact(path)
        )
    return ScheduleEntry(path, name, parsed, job_table, schedule)


def _name(item: dict[str, Any], path: KeyPath, problems: Problems) -> str | None:
    name = item.get("name")
    if name is None:
        problems.add((*path, "name"), "is required")
        return None
    if not isinstance(name, str):
        problems.add((*path, "name"), f"must be a string, not {show(name)}")
        return None
    if not SCHEDULE_NAME.fullmatch(name):
        problems.add(
            (*path, "name"),
            f"must be 1-128 letters, digits, hyphens or underscores, not {show(name)}",
        )
        return None
    return name


def _expression(item: dict[str, Any], path: KeyPath, problems: Problems) -> Schedule | None:
    where = (*path, "schedule_expression")
    expr = item.get("schedule_expression")
    if expr is None:
        problems.add(where, "is required", 'e.g. "cron(0 2 * * ? *)" or "rate(10 minutes)"')
        return None
    if not isinstance(expr, str):
        problems.add(
            where,
            f"must be a string, not {show(expr)}",
            'e.g. "cron(0 2 * * ? *)" or "rate(10 minutes)"',
        )
        return None
    try:
        return parse_schedule(expr)
    except ValueError as err:
        problems.add(where, str(err))
    return None


def _job(
    item: dict[str, Any], path: KeyPath, problems: Problems
) -> tuple[dict[str, Any] | None, SubmitJobRequest | None]:
    where = (*path, "job")
    job = item.get("job")
    if job is None:
        problems.add(
            where,
            "is required",
            "add a [schedule.job] table with name, job_queue and job_definition",
        )
        return None, None
    if not isinstance(job, dict):
        problems.add(where, f"must be a table, not {show(job)}", "write a [schedule.job] table")
        return None, None
    if "depends_on" in job:
        problems.add(
            (*where, "depends_on"),
            "is not allowed in a schedule's job",
            "a scheduled job is submitted on its own, with no config job to wait for",
        )
        job = {k: v for k, v in job.items() if k != "depends_on"}
    kept = check_keys(job, SCHEDULE_JOB_TABLE, where, problems)
    return job, validate_request(kept, SCHEDULE_JOB_TABLE, where, problems)
