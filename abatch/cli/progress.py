"""Live progress of `abatch run`: counts per status kept from bus events, drawn at a set pace.

`Tracker.on_change` is a runtime bus subscriber: it runs synchronously on every state change
of every job, so it does O(1) work (one dict lookup, two counter updates) and never draws.
`ProgressDisplay` draws from its own task: on a terminal one line redrawn in place with "\\r"
and clear-to-end-of-line at most 10 times a second; elsewhere a plain line when the counts
changed, at most once a second. `render_bar` and `render_plain` are pure.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, TextIO

import anyio

from abatch.model.enums import JobStatus

if TYPE_CHECKING:
    from abatch.model.job import JobRecord

# The order in which counts are shown: finished first, then the closer to running.
SHOWN = (
    JobStatus.SUCCEEDED,
    JobStatus.FAILED,
    JobStatus.RUNNING,
    JobStatus.STARTING,
    JobStatus.RUNNABLE,
    JobStatus.PENDING,
    JobStatus.SUBMITTED,
)
BAR_WIDTH = 20
TTY_INTERVAL_S = 0.1
PLAIN_INTERVAL_S = 1.0
CLEAR_EOL = "\x1b[K"


class Tracker:
    """Statuses of the jobs one command submitted, counted; `done` is set once all finished."""

    def __init__(self, jobs: Iterable[JobRecord]) -> None:
        self.status: dict[str, JobStatus] = {j.job_id: j.status for j in jobs}
        self.counts: Counter[JobStatus] = Counter(self.status.values())
        self.total = len(self.status)
        self.remaining = sum(1 for s in self.status.values() if not s.is_terminal)
        self.version = 0
        self.done = anyio.Event()
        if self.remaining == 0:
            self.done.set()

    def on_change(self, job: JobRecord) -> None:
        old = self.status.get(job.job_id)
        new = job.status
        if old is None or old is new:
            return  # not ours, or only the status reason changed
        self.status[job.job_id] = new
        self.counts[old] -= 1
        self.counts[new] += 1
        self.version += 1
        if new.is_terminal and not old.is_terminal:
            self.remaining -= 1
            if self.remaining == 0:
                self.done.set()


def format_elapsed(seconds: float) -> str:
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _count_parts(counts: Mapping[JobStatus, int]) -> str:
    return "  ".join(f"{s.value} {counts[s]}" for s in SHOWN if counts.get(s, 0) > 0)


def _finished(counts: Mapping[JobStatus, int]) -> int:
    return counts.get(JobStatus.SUCCEEDED, 0) + counts.get(JobStatus.FAILED, 0)


def render_bar(
    counts: Mapping[JobStatus, int], total: int, elapsed: float, width: int | None = None
) -> str:
    """`[#####-----] 7/12  SUCCEEDED 6  FAILED 1  RUNNING 2  RUNNABLE 3  00:05`, cut to
    `width` characters when given."""
    finished = _finished(counts)
    filled = BAR_WIDTH if total == 0 else round(BAR_WIDTH * finished / total)
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    parts = [f"[{bar}] {finished}/{total}", _count_parts(counts), format_elapsed(elapsed)]
    line = "  ".join(p for p in parts if p)
    return line[:width] if width is not None else line


def render_plain(counts: Mapping[JobStatus, int], total: int, elapsed: float) -> str:
    """`7/12 finished: SUCCEEDED 6  FAILED 1  RUNNING 2  RUNNABLE 3  (5.0 s)`."""
    parts = _count_parts(counts)
    return f"{_finished(counts)}/{total} finished: {parts}  ({elapsed:.1f} s)"


class ProgressDisplay:
    """Draws a `Tracker` on `stream` until `stop()`; see the module docstring for the pace."""

    def __init__(
        self,
        tracker: Tracker,
        stream: TextIO,
        *,
        tty: bool,
        started: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracker = tracker
        self.stream = stream
        self.tty = tty
        self.started = started
        self.clock = clock
        self._scope: anyio.CancelScope | None = None
        self._drawn: tuple[int, int] | None = None  # (tracker version, elapsed second)
        self._stopped = False

    async def run(self) -> None:
        interval = TTY_INTERVAL_S if self.tty else PLAIN_INTERVAL_S
        with anyio.CancelScope() as self._scope:
            while not self._stopped:
                self.draw()
                await anyio.sleep(interval)

    def draw(self, final: bool = False) -> None:
        t = self.tracker
        elapsed = self.clock() - self.started
        key = (t.version, int(elapsed) if self.tty else 0)
        if key == self._drawn and not final:
            return
        self._drawn = key
        if self.tty:
            width = shutil.get_terminal_size((80, 24)).columns - 1
            text = "\r" + render_bar(t.counts, t.total, elapsed, width) + CLEAR_EOL
            self._write(text + ("\n" if final else ""))
        else:
            self._write(render_plain(t.counts, t.total, elapsed) + "\n")

    def stop(self) -> None:
        """Stop drawing and draw the final line (once)."""
        if self._stopped:
            return
        self._stopped = True
        if self._scope is not None:
            self._scope.cancel()
        self.draw(final=True)

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed or broken terminal must not stop the run
