"""The queues view: job queues (priority, state, counts per status) above compute
environments (vCPU, memory and GPU in use against capacity)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ..rows import ce_cells, queue_cells
from .live import LiveScreen
from .modals import ConfirmScreen


class QueuesScreen(LiveScreen):
    BINDINGS = [
        Binding("e", "toggle_state", "Enable/disable"),
        Binding("enter", "open_queue", "Jobs of queue", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.queue_states: dict[str, str] = {}
        self.ce_states: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Job queues", classes="section")
        yield DataTable(id="queues", cursor_type="row")
        yield Static("Compute environments", classes="section")
        yield DataTable(id="ces", cursor_type="row")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#queues", DataTable).add_columns(
            "QUEUE", "STATE", "PRIORITY", "COMPUTE ENVIRONMENTS", "JOBS"
        )
        self.query_one("#ces", DataTable).add_columns(
            "COMPUTE ENVIRONMENT", "STATE", "TYPE", "VCPU", "MEMORY", "GPU", "NOTE"
        )
        self.query_one("#queues").focus()
        await self.start_live()

    async def reload(self) -> None:
        backend = self.abatch.backend
        queues = await backend.queues()
        ces = await backend.compute_environments()
        self.queue_states = {q.name: q.state for q in queues}
        self.ce_states = {c.name: c.state for c in ces}
        for table_id, rows in (
            ("#queues", [(q.name, queue_cells(q)) for q in queues]),
            ("#ces", [(c.name, ce_cells(c)) for c in ces]),
        ):
            table = self.query_one(table_id, DataTable)
            at = table.cursor_row
            table.clear()
            for key, cells in rows:
                table.add_row(*cells, key=key)
            if rows:
                table.move_cursor(row=min(at, len(rows) - 1))

    def _selected(self, table_id: str) -> str | None:
        table = self.query_one(table_id, DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def action_open_queue(self) -> None:
        name = self._selected("#queues")
        if name is not None and self.query_one("#queues").has_focus:
            self.abatch.show_jobs(queue=name)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id == "queues" and event.row_key.value is not None:
            self.abatch.show_jobs(queue=str(event.row_key.value))

    def action_toggle_state(self) -> None:
        ces = self.query_one("#ces", DataTable).has_focus
        name = self._selected("#ces" if ces else "#queues")
        if name is None:
            return
        states = self.ce_states if ces else self.queue_states
        enable = states.get(name) != "ENABLED"
        noun = "compute environment" if ces else "job queue"
        backend = self.abatch.backend

        async def go() -> None:
            try:
                if ces:
                    await backend.set_ce_state(name, enable)
                else:
                    await backend.set_queue_state(name, enable)
            except Exception as exc:
                self.notify(str(exc), title="failed", severity="error", markup=False)
                return
            self.notify(f"{noun} {name}: {'ENABLED' if enable else 'DISABLED'}")
            await self.reload()

        if enable:
            self.run_worker(go())
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(go())

        what = "places no new jobs" if ces else "accepts no new jobs"
        self.app.push_screen(
            ConfirmScreen(f"Disable {noun} {name}? It {what}; running jobs go on."), answered
        )
