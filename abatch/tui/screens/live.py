"""A screen that redraws from the backend when the runtime says something changed: changes
mark it dirty, and a timer reloads it at most every `redraw_every` seconds, never two loads
at once. The queues, instances and job detail views are such screens."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.screen import Screen

if TYPE_CHECKING:
    from ..app import AbatchApp


class LiveScreen(Screen[None]):
    redraw_every = 0.5  # seconds

    def __init__(self) -> None:
        super().__init__()
        self._dirty = True
        self._busy = False

    @property
    def abatch(self) -> AbatchApp:
        return cast("AbatchApp", self.app)

    if TYPE_CHECKING:

        async def reload(self) -> None:
            """Fetch from the backend and redraw: each screen has its own."""

    async def start_live(self) -> None:
        """From `on_mount`, once the tables have their columns: follow changes, load now."""
        self.abatch.on_change(self.mark_dirty)
        self.set_interval(self.redraw_every, self._tick)
        await self.reload()

    def on_unmount(self) -> None:
        self.abatch.off_change(self.mark_dirty)

    def mark_dirty(self) -> None:
        self._dirty = True

    async def _tick(self) -> None:
        if self._dirty and not self._busy:
            self._dirty = False
            self._busy = True
            try:
                await self.reload()
            finally:
                self._busy = False
