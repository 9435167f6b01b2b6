"""Pure renderers: job records in, text lines out (tables, the describe view, durations).

Nothing here prints or reads files; every function is tested on its own. Cells never hold
a line break, and long reasons are cut with "..." so that a row stays on one line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import local_time, seconds_between

if TYPE_CHECKING:
    from abatch.model.job import Attempt, JobRecord

REASON_WIDTH = 60
NAME_WIDTH = 40


def clean(text: object) -> str:
    """A cell: str(), line breaks and tabs made spaces; None is "-"."""
    if text is None:
        return "-"
    out = str(text)
    if "\n" in out or "\r" in out or "\t" in out:
        out = " ".join(out.split())
    return out


def truncate(text: str, width: int) -> str:
    if width <= 3 or len(text) <= width:
        return text[:width] if width > 0 else ""
    return text[: width - 3] + "..."


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    max_widths: dict[int, int] | None = None,
) -> list[str]:
    """Aligned columns separated by two spaces; the last column is not padded."""
    limits = max_widths or {}
    cells = [
        [truncate(clean(cell), limits.get(i, 10_000)) for i, cell in enumerate(row)] for row in rows
    ]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *cells]:
        padded = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*padded, row[-1]]).rstrip())
    return lines


def duration_seconds(job: JobRecord) -> float | None:
    """From the first RUNNING to the stop; None if the job never ran or has not stopped."""
    return seconds_between(job.started_at, job.stopped_at)


def attempt_seconds(attempt: Attempt) -> float | None:
    return seconds_between(attempt.started_at, attempt.stopped_at)


def seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f}"


def exit_text(code: int | None) -> str:
    return "-" if code is None else str(code)


def job_exit_code(job: JobRecord) -> int | None:
    """The exit code of a finished job's last attempt; None while the job is not finished
    (a requeued job's last attempt is not its result)."""
    return job.exit_code() if job.status.is_terminal else None


def summary_lines(jobs: Sequence[JobRecord]) -> list[str]:
    """The table `abatch run` prints at the end."""
    rows = [
        (
            j.job_name,
            j.job_id,
            j.status.value,
            exit_text(job_exit_code(j)),
            seconds_text(duration_seconds(j)),
            clean(j.status_reason),
        )
        for j in jobs
    ]
    return render_table(
        ("JOB", "JOB ID", "STATUS", "EXIT", "DURATION", "REASON"),
        rows,
        {0: NAME_WIDTH, 5: REASON_WIDTH},
    )


def jobs_lines(jobs: Sequence[JobRecord]) -> list[str]:
    """The table of `abatch jobs`."""
    rows = [
        (
            j.job_id,
            j.job_name,
            j.job_queue,
            j.status.value,
            local_time(j.created_at),
            exit_text(job_exit_code(j)),
            clean(j.status_reason),
        )
        for j in jobs
    ]
    return render_table(
        ("JOB ID", "NAME", "QUEUE", "STATUS", "CREATED", "EXIT", "REASON"),
        rows,
        {1: NAME_WIDTH, 6: REASON_WIDTH},
    )


def describe_lines(job: JobRecord, log_path: Callable[[str], Path]) -> list[str]:
    """The readable view of `abatch describe`: fields, attempts, history."""
    container: dict[str, Any] = job.spec.get("container") or {}
    command = container.get("command")
    fields: list[tuple[str, object]] = [
        ("job name", job.job_name),
        ("job id", job.job_id),
        ("job queue", job.job_queue),
        ("job definition", job.job_definition),
        ("status", job.status.value),
        ("status reason", job.status_reason),
        ("created", local_time(job.created_at)),
        ("started", local_time(job.started_at)),
        ("stopped", local_time(job.stopped_at)),
        ("duration", _seconds_unit(duration_seconds(job))),
        ("exit code", exit_text(job_exit_code(job))),
        ("compute env", job.ce),
        (
            "resources",
            f"{job.vcpus:g} vCPU, {job.memory} MiB" + (f", {job.gpus} GPU" if job.gpus else ""),
        ),
        ("image", container.get("image")),
        ("command", " ".join(str(c) for c in command) if command else None),
    ]
    latest = job.current_attempt
    if latest is not None and latest.gpu_ids:
        fields.append(("gpu devices", ",".join(latest.gpu_ids)))
    if job.is_cancelled or job.is_terminated:
        fields.append(("stopped by", "cancel" if job.is_cancelled else "terminate"))
    parameters = job.spec.get("parameters")
    if parameters:
        fields.append(("parameters", ", ".join(f"{k}={v}" for k, v in parameters.items())))
    if latest is not None:
        fields.append(("log", str(log_path(latest.log_stream))))
    lines = [f"{name + ':':<16}{clean(value)}" for name, value in fields]
    lines += ["", f"attempts ({len(job.attempts)}):"]
    if job.attempts:
        rows = [
            (
                a.number,
                a.ce,
                local_time(a.started_at),
                local_time(a.stopped_at),
                seconds_text(attempt_seconds(a)),
                exit_text(a.exit_code),
                clean(a.status_reason) + (f" ({clean(a.reason)})" if a.reason else ""),
            )
            for a in job.attempts
        ]
        table = render_table(
            ("#", "COMPUTE ENV", "STARTED", "STOPPED", "DURATION", "EXIT", "REASON"),
            rows,
            {6: REASON_WIDTH * 2},
        )
        lines += ["  " + line for line in table]
    else:
        lines.append("  (none yet)")
    lines += ["", "history:"]
    lines += [f"  {local_time(ms)}.{ms % 1000:03d}  {status.value}" for status, ms in job.history]
    return lines


def _seconds_unit(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.1f} s"
