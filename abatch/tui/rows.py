"""Pure row renderers, one per resource (as k9s does): a row in, a `Text` out. No widget, no
I/O, so each is tested on its own. Status colours are the 16 ANSI colours, so they read on
any terminal; the widgets' own look lives in `abatch.tcss`."""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass

from rich.text import Text

from abatch.model.enums import ALL_STATUSES, JobStatus

from .backend import CeRow, InstanceRow, JobRow, QueueRow

STATUS_STYLE: dict[JobStatus, str] = {
    JobStatus.SUBMITTED: "bright_black",
    JobStatus.PENDING: "magenta",
    JobStatus.RUNNABLE: "yellow",
    JobStatus.STARTING: "cyan",
    JobStatus.RUNNING: "bold blue",
    JobStatus.SUCCEEDED: "green",
    JobStatus.FAILED: "bold red",
}
SHORT = {
    JobStatus.SUBMITTED: "SUB",
    JobStatus.PENDING: "PEND",
    JobStatus.RUNNABLE: "RUNNABLE",
    JobStatus.STARTING: "START",
    JobStatus.RUNNING: "RUN",
    JobStatus.SUCCEEDED: "OK",
    JobStatus.FAILED: "FAIL",
}


@dataclass(frozen=True, slots=True)
class Column:
    title: str
    width: int
    right: bool = False


JOB_COLUMNS = (
    Column("JOB ID", 36),
    Column("NAME", 24),
    Column("QUEUE", 12),
    Column("STATUS", 9),
    Column("CREATED", 8),
    Column("STARTED", 8),
    Column("DURATION", 9, right=True),
    Column("TRY", 3, right=True),
    Column("EXIT", 4, right=True),
    Column("REASON", 40),
)


def clock(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000))


def stamp(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


def duration(start: int | None, stop: int | None, now_ms: int | None = None) -> str:
    if start is None:
        return "-"
    end = stop if stop is not None else (now_ms if now_ms is not None else int(time.time() * 1000))
    secs = max(0, end - start) / 1000
    if secs < 60:
        return f"{secs:.1f}s"
    if secs < 3600:
        return f"{int(secs // 60)}m{int(secs % 60):02d}s"
    return f"{int(secs // 3600)}h{int(secs % 3600 // 60):02d}m"


def _cell(text: str, col: Column) -> str:
    if len(text) > col.width:
        text = text[: col.width - 1] + "…"
    return text.rjust(col.width) if col.right else text.ljust(col.width)


# The column each sort order is by (PageFilter.sort).
SORT_COLUMN = {
    "created": "CREATED",
    "name": "NAME",
    "status": "STATUS",
    "started": "STARTED",
    "duration": "DURATION",
}


def header_text(sort: str = "created", descending: bool = True) -> Text:
    """The column titles; the sorted column carries `↓` (descending) or `↑` (ascending)."""
    marked = SORT_COLUMN.get(sort)
    arrow = "↓" if descending else "↑"
    cells = []
    for c in JOB_COLUMNS:
        title = c.title + arrow if c.title == marked else c.title
        cells.append(_cell(title, c))
    return Text(" ".join(cells), style="bold")


def sort_text(sort: str, descending: bool) -> str:
    """`sorted by name ↑` for the status line."""
    return f"sorted by {sort} {'↓' if descending else '↑'}"


def job_line(row: JobRow, now_ms: int | None = None) -> Text:
    """One jobs-table line: fixed-width columns, the status coloured."""
    name = row.name + (f" [{row.array_size}]" if row.array_size else "")
    cells = (
        row.job_id,
        name,
        row.queue,
        row.status.value,
        clock(row.created_at),
        clock(row.started_at),
        duration(row.started_at, row.stopped_at, now_ms),
        str(row.attempts) if row.attempts else "",
        "" if row.exit_code is None else str(row.exit_code),
        row.reason or "",
    )
    out = Text()
    for i, (value, col) in enumerate(zip(cells, JOB_COLUMNS, strict=True)):
        if i:
            out.append(" ")
        style = STATUS_STYLE[row.status] if col.title == "STATUS" else ""
        out.append(_cell(value, col), style=style)
    return out


def status_text(status: JobStatus | str) -> Text:
    s = JobStatus(status)
    return Text(s.value, style=STATUS_STYLE[s])


def counts_text(counts: dict[JobStatus, int]) -> Text:
    """`RUNNABLE 3  RUN 1  OK 10`: the non-zero counts, each in its status colour."""
    out = Text()
    for s in ALL_STATUSES:
        n = counts.get(s, 0)
        if n:
            if out:
                out.append("  ")
            out.append(f"{SHORT[s]} {n}", style=STATUS_STYLE[s])
    return out or Text("-", style="dim")


def queue_cells(row: QueueRow) -> tuple[str | Text, ...]:
    state = Text(row.state, style="green" if row.state == "ENABLED" else "red")
    return (
        row.name,
        state,
        str(row.priority),
        ", ".join(row.compute_environments),
        counts_text(row.counts),
    )


def gauge(used: float, cap: float, unit: str = "", width: int = 10) -> Text:
    """`[####------] 4/10` in green, yellow past 70 %, red when full."""
    frac = used / cap if cap else 0.0
    filled = min(width, round(frac * width))
    style = "red" if frac >= 0.999 and cap else "yellow" if frac >= 0.7 else "green"
    out = Text("[")
    out.append("#" * filled, style=style)
    out.append("-" * (width - filled), style="bright_black")
    out.append(f"] {used:g}/{cap:g}{unit}")
    return out


def ce_cells(row: CeRow) -> tuple[str | Text, ...]:
    state = Text(row.state, style="green" if row.state == "ENABLED" else "red")
    return (
        row.name,
        state,
        row.kind,
        gauge(*row.vcpus),
        gauge(row.memory[0], row.memory[1], " MiB"),
        gauge(*row.gpus) if row.gpus[1] else Text("-", style="dim"),
        row.note or "",
    )


def instance_cells(row: InstanceRow) -> tuple[str | Text, ...]:
    lifecycle = Text("spot", style="yellow") if row.spot else Text("on-demand")
    jobs = ", ".join(name for _, name in row.jobs)
    return (
        row.compute_environment,
        row.instance_id if row.host is None else f"{row.instance_id} ({row.host})",
        row.instance_type,
        lifecycle,
        gauge(*row.vcpus),
        gauge(row.memory[0], row.memory[1], " MiB"),
        gauge(*row.gpus) if row.gpus[1] else Text("-", style="dim"),
        jobs or Text("idle", style="dim"),
    )


def parse_parameters(text: str) -> dict[str, str]:
    """`k=v k2="v 2"` into a dict; ValueError naming a piece with no `=`."""
    out: dict[str, str] = {}
    for part in shlex.split(text):
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise ValueError(f"parameter {part!r} is not key=value")
        out[key] = value
    return out


def parse_filter(text: str) -> tuple[str | None, JobStatus | None, str | None]:
    """The filter bar: `queue:NAME` (or `q:`), `status:NAME` (or `s:`, a status or a prefix
    of one, any case), anything else a job name prefix. Returns (queue, status, prefix)."""
    queue: str | None = None
    status: JobStatus | None = None
    words: list[str] = []
    for word in text.split():
        key, colon, value = word.partition(":")
        if colon and key.lower() in ("q", "queue"):
            queue = value or None
        elif colon and key.lower() in ("s", "status"):
            status = _status(value)
        else:
            words.append(word)
    return queue, status, " ".join(words) or None


def _status(text: str) -> JobStatus:
    up = text.upper()
    for s in ALL_STATUSES:
        if s.value == up or SHORT[s] == up:
            return s
    matches = [s for s in ALL_STATUSES if s.value.startswith(up)]
    if len(matches) == 1 and up:
        return matches[0]
    raise ValueError(f"no status {text!r} (one of {', '.join(s.value for s in ALL_STATUSES)})")
