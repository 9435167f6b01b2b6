"""An attempt's log: the last lines, then followed as it grows; switch attempt; search.

Memory stays bounded: the screen keeps at most MAX_LINES lines (older ones drop off), the
first read is a tail of the file, and each follow step reads only what was appended since
the last offset."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, RichLog, Static

from ..backend import AttemptRow, LogCursor

if TYPE_CHECKING:
    from ..app import AbatchApp

MAX_LINES = 5000
TAIL_LINES = 1000
FOLLOW_EVERY = 0.5


class LogsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f", "follow", "Follow"),
        Binding("left_square_bracket", "attempt(-1)", "Prev attempt"),
        Binding("right_square_bracket", "attempt(1)", "Next attempt"),
        Binding("slash", "search", "Search"),
        Binding("n", "match(1)", "Next match"),
        Binding("N", "match(-1)", "Prev match", show=False),
    ]

    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id
        self.job_name = job_id
        self.attempts: list[AttemptRow] = []
        self.index = -1
        self.lines: deque[str] = deque(maxlen=MAX_LINES)
        self.log_offset: LogCursor = 0
        self.following = True
        self.pattern = ""
        self.matches: list[int] = []
        self.match_at = -1

    @property
    def abatch(self) -> AbatchApp:
        return cast("AbatchApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="logs-title")
        yield Input(placeholder="search", id="search")
        yield RichLog(id="log", max_lines=MAX_LINES, wrap=False, markup=False, highlight=False)
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#search").display = False
        info = await self.abatch.backend.job_info(self.job_id)
        self.attempts = info.attempts if info is not None else []
        self.job_name = info.row.name if info is not None else self.job_id
        self.set_interval(FOLLOW_EVERY, self._follow)
        self.query_one(RichLog).focus()
        await self.load(len(self.attempts) - 1)

    @property
    def stream(self) -> str | None:
        return (
            self.attempts[self.index].log_stream if 0 <= self.index < len(self.attempts) else None
        )

    async def load(self, index: int) -> None:
        self.index = index
        self.lines.clear()
        self.log_offset = 0
        stream = self.stream
        if stream is not None:
            lines, self.log_offset = await self.abatch.backend.log_tail(stream, TAIL_LINES)
            self.lines.extend(lines)
        self._redraw()

    def _title(self) -> str:
        if self.stream is None:
            return f"{self.job_name} ({self.job_id}): no attempt has started yet"
        a = self.attempts[self.index]
        follow = "following" if self.following else "paused"
        found = f" · /{self.pattern}: {len(self.matches)} match(es)" if self.pattern else ""
        return (
            f"{self.job_name} · attempt {a.number} of {len(self.attempts)} · {a.log_stream} · "
            f"{follow}{found}"
        )

    def _styled(self, line: str) -> Text:
        text = Text(line)
        if self.pattern:
            text.highlight_words([self.pattern], style="reverse yellow", case_sensitive=False)
        return text

    def _redraw(self) -> None:
        log = self.query_one(RichLog)
        log.clear()
        low = self.pattern.lower()
        self.matches = [i for i, ln in enumerate(self.lines) if low and low in ln.lower()]
        for line in self.lines:
            log.write(self._styled(line), scroll_end=False)
        if self.following:
            log.scroll_end(animate=False)
        self.query_one("#logs-title", Static).update(Text(self._title()))

    async def _follow(self) -> None:
        stream = self.stream
        if stream is None:
            info = await self.abatch.backend.job_info(self.job_id)
            if info is not None and info.attempts:
                self.attempts = info.attempts
                await self.load(len(self.attempts) - 1)
            return
        if not self.following:
            return
        lines, self.log_offset = await self.abatch.backend.log_read(stream, self.log_offset)
        if not lines:
            return
        log = self.query_one(RichLog)
        low = self.pattern.lower()
        for line in lines:
            if len(self.lines) == MAX_LINES:  # the oldest line drops off
                self.matches = [m - 1 for m in self.matches if m > 0]
            self.lines.append(line)
            if low and low in line.lower():
                self.matches.append(len(self.lines) - 1)
            log.write(self._styled(line), scroll_end=True)
        self.query_one("#logs-title", Static).update(Text(self._title()))

    async def action_attempt(self, delta: int) -> None:
        if not self.attempts:
            return
        info = await self.abatch.backend.job_info(self.job_id)
        if info is not None:
            self.attempts = info.attempts
        await self.load(max(0, min(len(self.attempts) - 1, self.index + delta)))

    def action_follow(self) -> None:
        self.following = not self.following
        if self.following:
            self.query_one(RichLog).scroll_end(animate=False)
        self.query_one("#logs-title", Static).update(Text(self._title()))

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.pattern = event.value.strip()
        if not self.pattern:
            event.input.display = False
        self.following = False if self.pattern else self.following
        self._redraw()
        self.query_one(RichLog).focus()
        self.match_at = -1
        if self.matches:
            self.action_match(1)

    def action_match(self, delta: int) -> None:
        if not self.matches:
            return
        self.match_at = (self.match_at + delta) % len(self.matches)
        line = self.matches[self.match_at]
        log = self.query_one(RichLog)
        log.scroll_to(y=max(0, line - log.size.height // 2), animate=False)

    def action_back(self) -> None:
        box = self.query_one("#search", Input)
        if box.has_focus:
            box.display = bool(box.value.strip())
            self.query_one(RichLog).focus()
        else:
            self.app.pop_screen()
