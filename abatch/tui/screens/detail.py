"""A job's detail: every field, attempts, dependencies both ways, array summary, history of
states with times, why it waits and its place in the queue."""

from __future__ import annotations

import json

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Footer, Header, Static

from ..backend import JobInfo
from ..rows import counts_text, duration, stamp, status_text
from . import actions
from .live import LiveScreen

SKIP = {"attempts", "container", "jobArn", "arrayProperties"}


def render_info(info: JobInfo, now_ms: int | None = None) -> RenderableType:
    """The whole detail as one Rich renderable (pure: tested on its own)."""
    d, row = info.detail, info.row
    head = Text.assemble((row.name, "bold"), "  ", status_text(row.status), f"  {row.job_id}")
    parts: list[RenderableType] = [head]
    if info.why and not row.status.is_terminal:
        parts.append(Text.assemble(("why it waits: ", "bold yellow"), info.why))
    if info.position is not None:
        parts.append(Text(f"position in queue {row.queue}: {info.position}"))

    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column()
    for key, value in d.items():
        if key in SKIP:
            continue
        if key.endswith("At") and isinstance(value, int):
            value = stamp(value)
        elif not isinstance(value, str):
            value = json.dumps(value)
        fields.add_row(key, str(value))
    container = d.get("container") or {}
    for key in (
        "image",
        "command",
        "vcpus",
        "memory",
        "resourceRequirements",
        "environment",
        "logStreamName",
        "exitCode",
        "reason",
    ):
        if key in container:
            value = container[key]
            fields.add_row(
                f"container.{key}", value if isinstance(value, str) else json.dumps(value)
            )
    parts += [Text("\nFields", style="bold underline"), fields]

    attempts = Table(
        "#",
        "STARTED",
        "STOPPED",
        "DURATION",
        "EXIT",
        "REASON",
        "LOG STREAM",
        box=None,
        header_style="bold",
    )
    for a in info.attempts:
        attempts.add_row(
            str(a.number),
            stamp(a.started_at),
            stamp(a.stopped_at),
            duration(a.started_at, a.stopped_at, now_ms),
            "" if a.exit_code is None else str(a.exit_code),
            a.reason or a.status_reason or "",
            a.log_stream,
        )
    parts += [Text(f"\nAttempts ({len(info.attempts)})", style="bold underline"), attempts]

    deps = Table.grid(padding=(0, 2))
    deps.add_column(style="bold")
    deps.add_column()
    deps.add_row("depends on", ", ".join(info.depends_on) or "-")
    deps.add_row("dependents", ", ".join(f"{name} ({jid})" for jid, name in info.dependents) or "-")
    parts += [Text("\nDependencies", style="bold underline"), deps]

    if info.array_summary is not None:
        from abatch.model.enums import JobStatus

        counts = {JobStatus(k): v for k, v in info.array_summary.items()}
        size = (d.get("arrayProperties") or {}).get("size")
        parts += [
            Text(f"\nArray of {size} (a: its children)", style="bold underline"),
            counts_text(counts),
        ]

    history = Table("STATUS", "AT", box=None, header_style="bold")
    for status, at in info.history:
        history.add_row(status_text(status), stamp(at))
    parts += [Text("\nHistory", style="bold underline"), history]
    return Group(*parts)


class DetailScreen(LiveScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("l", "logs", "Logs"),
        Binding("c", "cancel", "Cancel"),
        Binding("t", "terminate", "Terminate"),
        Binding("r", "resubmit", "Re-submit"),
        Binding("a", "children", "Array children"),
    ]
    redraw_every = 1.0

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.info: JobInfo | None = None
        self._dirty = False  # loaded on mount

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail-scroll"):
            yield Static("loading…", id="detail")
        yield Footer()

    async def on_mount(self) -> None:
        await self.start_live()

    async def reload(self) -> None:
        info = await self.abatch.backend.job_info(self.job_id)
        self.info = info
        body = self.query_one("#detail", Static)
        if info is None:
            body.update(f"job {self.job_id} does not exist")
            return
        body.update(render_info(info, self.abatch.clock()))

    def _job_name(self) -> str:
        return self.info.row.name if self.info else self.job_id

    def action_logs(self) -> None:
        self.abatch.open_logs(self.job_id)

    def action_cancel(self) -> None:
        actions.cancel(self.abatch, self.job_id, self._job_name())

    def action_terminate(self) -> None:
        actions.terminate(self.abatch, self.job_id, self._job_name())

    def action_resubmit(self) -> None:
        actions.resubmit(self.abatch, self.job_id, self._job_name())

    def action_children(self) -> None:
        if self.info is not None and self.info.row.array_size:
            self.abatch.show_children(self.job_id)
