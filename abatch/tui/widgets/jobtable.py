"""`JobTable`: a virtual table of jobs. It renders only the lines on screen (Textual's line
API), reading pages of ~200 rows around the viewport from the backend; it never holds the
whole list, so it opens as fast at 100,000 jobs as at 100.

Changes arrive as a "something changed" call (`mark_dirty`); a 10-per-second timer redraws
only when the flag is set, re-reading just the visible pages (and the row count, no more often
than keeps counting under a tenth of the time), so a burst of thousands of state changes
costs one refresh.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..backend import JobRow, PageFilter, TuiBackend
from ..rows import JOB_COLUMNS, header_text, job_line

PAGE = 200
KEEP_PAGES = 3  # pages kept either side of the visible ones
REDRAW_EVERY = 0.1
RECOUNT_SHARE = 10  # recount at most once per this many times what a count costs
WIDTH = sum(c.width + 1 for c in JOB_COLUMNS)


class JobTable(ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump(0)", "First", show=False),
        Binding("end,G", "jump(-1)", "Last", show=False),
    ]
    COMPONENT_CLASSES = {"jobtable--header", "jobtable--cursor", "jobtable--loading"}

    class Opened(Message):
        """Enter on a row."""

        def __init__(self, row: JobRow) -> None:
            super().__init__()
            self.row = row

    class Moved(Message):
        """The rows, the count or the cursor changed."""

    def __init__(
        self, backend: TuiBackend, *, clock: Callable[[], int], id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.backend = backend
        self.clock = clock
        self.filter = PageFilter()
        self.total = 0
        self.cursor = 0
        self._pages: dict[int, list[JobRow]] = {}
        self._loading: set[int] = set()
        self._generation = 0
        self._dirty = False
        self._counted_at = 0.0
        self._count_cost = 0.0
        self._busy = False
        self.settled = asyncio.Event()  # set when the visible rows are loaded

    # ------------------------------------------------------------------ data

    def on_mount(self) -> None:
        self.set_interval(REDRAW_EVERY, self._tick)

    def mark_dirty(self) -> None:
        self._dirty = True

    async def set_filter(self, f: PageFilter) -> None:
        """Show the list `f`, from its first row."""
        self.filter = f
        self.cursor = 0
        self.scroll_to(y=0, animate=False, immediate=True)
        await self.reload(recount=True)

    async def reload(self, *, recount: bool) -> None:
        """Re-read the row count (if `recount`) and the visible pages."""
        self._generation += 1
        gen = self._generation
        self.settled.clear()
        if recount:
            started = time.monotonic()
            total = await self.backend.job_count(self.filter)
            if gen != self._generation:
                return
            self.total = total
            self._counted_at = time.monotonic()
            self._count_cost = self._counted_at - started
            self.virtual_size = Size(WIDTH, total + 1)
            self.cursor = max(0, min(self.cursor, total - 1))
        wanted = self._wanted_pages()
        fresh: dict[int, list[JobRow]] = {}
        for page in wanted[:2]:
            fresh[page] = await self.backend.job_page(self.filter, page * PAGE, PAGE)
            if gen != self._generation:
                return
        self._pages = fresh
        self._loading.clear()
        self.settled.set()
        self.refresh()
        self.post_message(self.Moved())

    def _visible_range(self) -> tuple[int, int]:
        top = int(self.scroll_offset.y)
        rows = max(1, self.scrollable_content_region.height - 1)
        return top, min(self.total, top + rows)

    def _wanted_pages(self) -> list[int]:
        first, last = self._visible_range()
        pages = [first // PAGE]
        if last > first and (last - 1) // PAGE != pages[0]:
            pages.append((last - 1) // PAGE)
        return pages

    async def _tick(self) -> None:
        if not self._dirty or self._busy:
            return
        self._dirty = False
        self._busy = True
        try:
            since = time.monotonic() - self._counted_at
            recount = since >= self._count_cost * RECOUNT_SHARE
            if not recount:
                self._dirty = True  # count later; pages now
            await self.reload(recount=recount)
        finally:
            self._busy = False

    def _load(self, page: int) -> None:
        if page in self._loading:
            return
        self._loading.add(page)
        gen = self._generation

        async def load() -> None:
            rows = await self.backend.job_page(self.filter, page * PAGE, PAGE)
            if gen != self._generation:
                return
            self._loading.discard(page)
            self._pages[page] = rows
            keep = set(self._wanted_pages())
            for p in list(self._pages):
                if all(abs(p - k) > KEEP_PAGES for k in keep):
                    del self._pages[p]
            if all(p in self._pages for p in keep):
                self.settled.set()
            self.refresh()

        self.settled.clear()
        self.run_worker(load(), group="pages", exit_on_error=False)

    def row_at(self, index: int) -> JobRow | None:
        rows = self._pages.get(index // PAGE)
        if rows is None or index % PAGE >= len(rows):
            return None
        return rows[index % PAGE]

    @property
    def selected(self) -> JobRow | None:
        return self.row_at(self.cursor) if self.total else None

    def visible_rows(self) -> list[JobRow]:
        first, last = self._visible_range()
        return [r for i in range(first, last) if (r := self.row_at(i)) is not None]

    # ------------------------------------------------------------------ drawing

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            style = self.get_component_rich_style("jobtable--header")
            text = header_text(self.filter.sort, self.filter.descending)
            text.stylize(style)
            return self._strip(text.render(self.app.console), scroll_x, width, base + style)
        index = scroll_y + y - 1
        if index >= self.total:
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            self._load(index // PAGE)
            style = self.get_component_rich_style("jobtable--loading")
            return self._strip([Segment("  …", style)], scroll_x, width, base)
        line = job_line(row, self.clock())
        if index == self.cursor and self.has_focus:
            line.stylize(self.get_component_rich_style("jobtable--cursor"))
            extend = base + self.get_component_rich_style("jobtable--cursor")
        elif index == self.cursor:
            line.stylize(Style(underline=True))
            extend = base
        else:
            extend = base
        return self._strip(line.render(self.app.console), scroll_x, width, extend)

    @staticmethod
    def _strip(segments: object, scroll_x: int, width: int, style: Style) -> Strip:
        strip = Strip(list(segments))  # type: ignore[call-overload]
        return strip.crop_extend(scroll_x, scroll_x + width, style).simplify()

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.refresh()

    # ------------------------------------------------------------------ keys

    def _move_to(self, index: int) -> None:
        if not self.total:
            return
        self.cursor = max(0, min(self.total - 1, index))
        rows = max(1, self.scrollable_content_region.height - 1)
        top = int(self.scroll_offset.y)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + rows:
            self.scroll_to(y=self.cursor - rows + 1, animate=False, immediate=True)
        self.refresh()
        self.post_message(self.Moved())

    def action_cursor(self, delta: int) -> None:
        self._move_to(self.cursor + delta)

    def action_page(self, direction: int) -> None:
        rows = max(1, self.scrollable_content_region.height - 1)
        self._move_to(self.cursor + direction * rows)

    def action_jump(self, where: int) -> None:
        self._move_to(0 if where == 0 else self.total - 1)

    def key_enter(self) -> None:
        row = self.selected
        if row is not None:
            self.post_message(self.Opened(row))

    def on_click(self, event: object) -> None:
        y = getattr(event, "y", 0)
        if y >= 1:
            self._move_to(int(self.scroll_offset.y) + y - 1)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
