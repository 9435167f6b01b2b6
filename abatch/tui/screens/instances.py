"""The instances view: every instance of every compute environment (and every declared host
of an unmanaged one), its type, On-Demand or Spot, vCPU, memory and GPU in use against what
it has, and the jobs on it; `x` reclaims a Spot instance (after asking), as EC2 would."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from ..backend import InstanceRow
from ..rows import instance_cells
from .live import LiveScreen
from .modals import ConfirmScreen


class InstancesScreen(LiveScreen):
    BINDINGS = [Binding("x", "reclaim", "Reclaim Spot")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, InstanceRow] = {}

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Instances", classes="section")
        yield DataTable(id="instances", cursor_type="row")
        yield Static("", id="instances-status")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(
            "COMPUTE ENVIRONMENT", "INSTANCE", "TYPE", "LIFECYCLE", "VCPU", "MEMORY", "GPU", "JOBS"
        )
        self.query_one(DataTable).focus()
        await self.start_live()

    async def reload(self) -> None:
        rows = await self.abatch.backend.instances()
        self.rows = {r.instance_id: r for r in rows}
        table = self.query_one(DataTable)
        at = table.cursor_row
        table.clear()
        for r in rows:
            table.add_row(*instance_cells(r), key=r.instance_id)
        if rows:
            table.move_cursor(row=min(at, len(rows) - 1))
        spot = sum(r.spot for r in rows)
        busy = sum(bool(r.jobs) for r in rows)
        text = (
            f"{len(rows)} instance(s) · {spot} Spot · {busy} running jobs"
            if rows
            else "no instances: compute environments with instance types launch them as "
            "jobs wait, and retire them when idle"
        )
        self.query_one("#instances-status", Static).update(Text(text))

    @property
    def selected(self) -> InstanceRow | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.rows.get(str(key)) if key is not None else None

    def action_reclaim(self) -> None:
        row = self.selected
        if row is None:
            return
        if not row.spot:
            self.notify(f"{row.instance_id} is not a Spot instance: only Spot is reclaimed")
            return
        backend = self.abatch.backend

        async def go() -> None:
            try:
                await backend.reclaim(row.instance_id)
            except Exception as exc:  # the runtime's refusal, shown
                self.notify(str(exc), title="failed", severity="error", markup=False)
                return
            self.notify(f"reclaimed {row.instance_id}", markup=False)
            self.abatch.backend_changed()

        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(go())

        jobs = f"; its {len(row.jobs)} job(s) lose their attempt" if row.jobs else ""
        self.app.push_screen(
            ConfirmScreen(f"Reclaim Spot instance {row.instance_id} ({row.instance_type}){jobs}?"),
            answered,
        )
