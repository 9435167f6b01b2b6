"""`abatch jobs`, `abatch describe`, `abatch logs`: read a state directory, never write it.

`abatch logs -f` follows a log as it is written; see `follow`.

They open the SQLite store read-only, so they work the same whether a runtime is running on
the directory or not, and never take its lock. What a running runtime has not committed yet
(at most a few tens of milliseconds of changes) is not seen.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from abatch.model.paths import task_id_of

from .common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError, resolve_state_dir
from .logfiles import copy_to
from .tables import describe_lines, jobs_lines

if TYPE_CHECKING:
    from abatch.model.enums import JobStatus
    from abatch.model.job import Attempt, JobRecord
    from abatch.store.sqlite import SqliteStore


def parse_status(text: str) -> JobStatus:
    from abatch.model.enums import JobStatus

    try:
        return JobStatus(text.strip().upper())
    except ValueError:
        valid = ", ".join(s.value for s in JobStatus)
        raise CliError(f"{text!r} is not a job status; use one of: {valid}") from None


async def open_store(state_dir: Path) -> SqliteStore:
    from abatch.store.sqlite import SqliteStore

    if state_dir.exists() and not state_dir.is_dir():
        raise CliError(f"state directory {state_dir} is not a directory")
    return await SqliteStore.open(state_dir, read_only=True)


# ---------------------------------------------------------------------- jobs


def cmd_jobs(args: argparse.Namespace) -> int:
    status = parse_status(args.status) if args.status is not None else None
    state_dir = resolve_state_dir(args.state_dir)
    jobs, total = anyio.run(_list_jobs, state_dir, args.queue, status, args.limit)
    if args.json:
        print(json.dumps({"jobSummaryList": [j.to_summary() for j in jobs]}, indent=2))
        return EXIT_OK
    if not jobs:
        print("no jobs" + (" match" if args.queue or status else f" in {state_dir}"))
        return EXIT_OK
    for line in jobs_lines(jobs):
        print(line)
    if total > len(jobs):
        print(f"(the latest {len(jobs)} of {total} jobs; --limit N shows more)", file=sys.stderr)
    return EXIT_OK


async def _list_jobs(
    state_dir: Path, queue: str | None, status: JobStatus | None, limit: int
) -> tuple[list[JobRecord], int]:
    store = await open_store(state_dir)
    try:
        latest = await store.list_jobs(queue=queue, status=status, limit=limit, newest_first=True)
        # list_jobs attaches no attempts; get_jobs does (for the exit codes), in this order.
        jobs = await store.get_jobs([j.job_id for j in reversed(latest)])
        total = len(jobs)
        if len(jobs) == limit:
            counts = await store.count_by_status(queue)
            total = counts.get(status, 0) if status is not None else sum(counts.values())
        return jobs, total
    finally:
        await store.close()


# ---------------------------------------------------------------------- describe


def cmd_describe(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    job, waiting, summary = anyio.run(_get_job, state_dir, args.job_id)
    if args.json:
        print(json.dumps(detail_json(job, summary), indent=2))
    else:
        lines = describe_lines(job, lambda stream: state_dir / "logs" / task_id_of(stream))
        if waiting is not None:
            lines.insert(_after_reason(lines), f"{'why it waits:':<16}{waiting}")
        if summary is not None:
            counts = "  ".join(f"{k} {v}" for k, v in summary.items() if v)
            lines.insert(_after_reason(lines), f"{'array children:':<16}{counts or 'none yet'}")
        for line in lines:
            print(line)
    return EXIT_OK


def _after_reason(lines: list[str]) -> int:
    for i, line in enumerate(lines):
        if line.startswith("status reason"):
            return i + 1
    return min(len(lines), 6)


async def _get_job(
    state_dir: Path, job_id: str
) -> tuple[JobRecord, str | None, dict[str, int] | None]:
    """The job, why it waits (RUNNABLE: its place in the queue), and for an array parent the
    count of its children per status."""
    from abatch.model.enums import JobStatus
    from abatch.model.job import empty_status_summary

    store = await open_store(state_dir)
    try:
        job = await store.get_job(job_id)
        if job is None:
            raise CliError(f"job {job_id} does not exist in {state_dir}")
        waiting = None
        share = job.spec.get("shareIdentifier")
        place = await store.queue_position(job) if share is None else None
        if share is not None and job.status is JobStatus.RUNNABLE:
            # A fair-share queue's order depends on usage, which only a runtime knows.
            waiting = (
                f"in fair-share queue {job.job_queue} as share identifier {share!r}; its turn "
                "depends on usage (GetJobQueueSnapshot shows the order)"
            )
        if place is not None:
            position, head_id, head_name = place
            if head_id == job.job_id:
                waiting = f"at the head of queue {job.job_queue}: {job.status_reason or '-'}"
            else:
                waiting = (
                    f"position {position} in queue {job.job_queue}, behind job {head_id} "
                    f"({head_name}) at its head"
                )
        summary = None
        if (job.spec.get("arrayProperties") or {}).get("size") is not None:
            summary = empty_status_summary()
            for status, n in (await store.child_status_counts(job.job_id)).items():
                summary[status.value] = n
    finally:
        await store.close()
    return job, waiting, summary


def detail_json(job: JobRecord, summary: dict[str, int] | None = None) -> dict[str, Any]:
    """AWS JobDetail, with every attempt (also those that never started) and the history."""
    detail = job.to_detail()
    if summary is not None:
        detail["arrayProperties"] = {**detail.get("arrayProperties", {}), "statusSummary": summary}
    detail["attempts"] = [attempt_json(a) for a in job.attempts]
    detail["history"] = [{"status": status.value, "at": ms} for status, ms in job.history]
    return detail


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    out = attempt.to_aws()
    out["attemptNumber"] = attempt.number
    out["computeEnvironment"] = attempt.ce
    out["createdAt"] = attempt.created_at
    return out


# ---------------------------------------------------------------------- logs


def cmd_logs(args: argparse.Namespace) -> int:
    state_dir = resolve_state_dir(args.state_dir)
    if args.follow:
        from .follow import follow

        try:
            code: int = anyio.run(follow, state_dir, args.job_id, args.attempt)
        except KeyboardInterrupt:
            return EXIT_INTERRUPTED  # Ctrl-C is how one stops following: no message
        return code
    job, _, _ = anyio.run(_get_job, state_dir, args.job_id)
    attempt = pick_attempt(job, args.attempt)
    if attempt is None:
        print(f"job {job.job_id} has no log yet (status {job.status.value})", file=sys.stderr)
        return EXIT_FAILED
    from .follow import log_path

    path = log_path(state_dir, job, attempt)
    try:
        copy_to(path, sys.stdout.buffer)
    except FileNotFoundError:
        if attempt.stopped_at is None:
            print(f"job {job.job_id} has no log yet (status {job.status.value})", file=sys.stderr)
        else:
            print(
                f"the log of job {job.job_id} attempt {attempt.number} is missing ({path})",
                file=sys.stderr,
            )
        return EXIT_FAILED
    except IsADirectoryError:
        raise CliError(f"{path} is a directory, not a log file") from None
    return EXIT_OK


def pick_attempt(job: JobRecord, number: int | None) -> Attempt | None:
    """Attempt `number` (1-based), else the latest; None if the job has none yet."""
    if number is None:
        return job.current_attempt
    for attempt in job.attempts:
        if attempt.number == number:
            return attempt
    have = len(job.attempts)
    which = "no attempts yet" if have == 0 else f"attempts 1 to {have}" if have > 1 else "attempt 1"
    raise CliError(f"job {job.job_id} has no attempt {number} (it has {which})")
