"""The jobs view: a filter bar, the virtual jobs table, a line saying what is shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from abatch.model.enums import ALL_STATUSES, JobStatus

from ..backend import SORTS, PageFilter
from ..rows import parse_filter, sort_text
from ..widgets.jobtable import JobTable
from . import actions

if TYPE_CHECKING:
    from ..app import AbatchApp

DESCENDING = {"created", "started", "duration"}  # sorts that start with the largest


class JobsScreen(Screen[None]):
    BINDINGS = [
        Binding("slash", "filter", "Filter"),
        Binding("s", "cycle_status", "Status"),
        Binding("o", "sort", "Sort"),
        Binding("O", "reverse", "Reverse", show=False),
        Binding("a", "children", "Array children"),
        Binding("escape", "back", "Back", show=False),
        Binding("l", "logs", "Logs"),
        Binding("c", "cancel", "Cancel"),
        Binding("t", "terminate", "Terminate"),
        Binding("r", "resubmit", "Re-submit"),
        Binding("n", "submit", "New job"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.parents: list[PageFilter] = []  # filters to go back to from array children
        self._listener: Callable[[], None] = lambda: None

    @property
    def abatch(self) -> AbatchApp:
        return cast("AbatchApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="name prefix  queue:NAME  status:RUNNING", id="filter")
        yield JobTable(self.abatch.backend, clock=self.abatch.clock, id="jobs")
        yield Static("", id="jobs-status")
        yield Footer()

    @property
    def table(self) -> JobTable:
        return self.query_one(JobTable)

    async def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self._listener = self.table.mark_dirty
        self.abatch.on_change(self._listener)
        self.table.focus()
        await self.show(self.table.filter)

    def on_unmount(self) -> None:
        self.abatch.off_change(self._listener)

    async def show(self, f: PageFilter) -> None:
        await self.table.set_filter(f)
        self._status_line()

    def _status_line(self) -> None:
        f, t = self.table.filter, self.table
        parts = [
            f"array {f.parent} children" if f.parent else f"queue {f.queue or 'all'}",
            f"status {f.status or 'all'}",
            f"name {f.name_prefix + '*' if f.name_prefix else 'any'}",
            sort_text(f.sort, f.descending),
            f"{t.total:,} job(s)",
        ]
        if t.total:
            parts.append(f"row {t.cursor + 1:,}")
        self.query_one("#jobs-status", Static).update(Text(" · ".join(parts)))

    # ------------------------------------------------------------------ filter and sort

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "filter":
            return
        try:
            queue, status, prefix = parse_filter(event.value)
        except ValueError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        f = replace(self.table.filter, queue=queue, status=status, name_prefix=prefix)
        if not event.value.strip():
            event.input.display = False
        self.table.focus()
        await self.show(f)

    async def action_cycle_status(self) -> None:
        order: list[JobStatus | None] = [None, *ALL_STATUSES]
        current = self.table.filter.status
        now = JobStatus(current) if current else None
        nxt = order[(order.index(now) + 1) % len(order)]
        await self.show(replace(self.table.filter, status=nxt.value if nxt else None))

    async def action_sort(self) -> None:
        """The next order (created, name, status, started, duration), in its natural way:
        newest, longest and latest first; names and statuses from the start."""
        f = self.table.filter
        sort = SORTS[(SORTS.index(f.sort) + 1) % len(SORTS)] if f.sort in SORTS else SORTS[0]
        await self.show(replace(f, sort=sort, descending=sort in DESCENDING))

    async def action_reverse(self) -> None:
        f = self.table.filter
        await self.show(replace(f, descending=not f.descending))

    async def action_children(self) -> None:
        row = self.table.selected
        if row is None or not row.array_size:
            self.notify("not an array job")
            return
        self.parents.append(self.table.filter)
        await self.show(PageFilter(parent=row.job_id, descending=False))

    async def action_back(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_focus:
            box.display = bool(box.value.strip())
            self.table.focus()
        elif self.parents:
            await self.show(self.parents.pop())

    async def set_queue(self, queue: str | None) -> None:
        self.parents.clear()
        await self.show(PageFilter(queue=queue))

    # ------------------------------------------------------------------ actions

    def on_job_table_moved(self) -> None:
        self._status_line()

    def on_job_table_opened(self, event: JobTable.Opened) -> None:
        self.abatch.open_detail(event.row.job_id)

    def action_logs(self) -> None:
        row = self.table.selected
        if row is not None:
            self.abatch.open_logs(row.job_id)

    def action_cancel(self) -> None:
        row = self.table.selected
        if row is not None:
            actions.cancel(self.abatch, row.job_id, row.name)

    def action_terminate(self) -> None:
        row = self.table.selected
        if row is not None:
            actions.terminate(self.abatch, row.job_id, row.name)

    def action_resubmit(self) -> None:
        row = self.table.selected
        if row is not None:
            actions.resubmit(self.abatch, row.job_id, row.name)

    def action_submit(self) -> None:
        actions.submit(self.abatch, self.table.filter.queue)
