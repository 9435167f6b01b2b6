"""`AbatchApp`: the terminal UI. Keyboard-first in the spirit of k9s: `1` queues, `2` jobs,
`3` instances, `enter` a job, `l` its logs, `?` every key, `:` or ctrl+p the command palette,
`q` quit.

The app only talks to a `TuiBackend`. It subscribes once to the backend's change events and
fans them out to the screens, each of which only sets a dirty flag and redraws on its own
timer, so a burst of events costs one redraw."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from .backend import PageFilter, TuiBackend
from .screens.detail import DetailScreen
from .screens.instances import InstancesScreen
from .screens.jobs import JobsScreen
from .screens.logs import LogsScreen
from .screens.modals import HelpScreen
from .screens.queues import QueuesScreen


class AbatchApp(App[int]):
    CSS_PATH = "abatch.tcss"
    TITLE = "abatch"
    MODES = {"queues": QueuesScreen, "jobs": JobsScreen, "instances": InstancesScreen}
    DEFAULT_MODE = "jobs"
    BINDINGS = [
        Binding("1", "mode('queues')", "Queues"),
        Binding("2", "mode('jobs')", "Jobs"),
        Binding("3", "mode('instances')", "Instances"),
        Binding("question_mark", "help", "Help"),
        Binding("colon", "command_palette", "Palette", show=False),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        backend: TuiBackend,
        *,
        poll_every: float | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        """`clock()` is now in epoch milliseconds, for the durations of running jobs (a
        fixed one makes renders repeatable: the snapshot tests)."""
        super().__init__()
        self.backend = backend
        self.clock = clock or _wall_clock
        self.sub_title = backend.title
        self._listeners: list[Callable[[], None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self.poll_every = poll_every

    def on_mount(self) -> None:
        self._unsubscribe = self.backend.subscribe(self.backend_changed)
        self.backend_changed()  # the title, if the backend already had a problem
        if self.poll_every is not None:
            self.set_interval(self.poll_every, self.backend_changed)

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()

    # ------------------------------------------------------------------ change fan-out

    def on_change(self, fn: Callable[[], None]) -> None:
        self._listeners.append(fn)

    def off_change(self, fn: Callable[[], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def backend_changed(self) -> None:
        """Something may have changed: every screen marks itself dirty (cheap, synchronous:
        this runs inside the runtime's event publication). An attached UI says in its title
        when the runtime cannot be reached."""
        problem = self.backend.problem
        title = self.backend.title + (f" · NOT CONNECTED: {problem}" if problem else "")
        if title != self.sub_title:
            self.sub_title = title
        for fn in self._listeners:
            fn()

    # ------------------------------------------------------------------ navigation

    async def action_mode(self, mode: str) -> None:
        await self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_detail(self, job_id: str) -> None:
        self.push_screen(DetailScreen(job_id))

    def open_logs(self, job_id: str) -> None:
        self.push_screen(LogsScreen(job_id))

    def show_jobs(self, queue: str | None = None) -> None:
        async def go() -> None:
            await self.switch_mode("jobs")
            while len(self.screen_stack) > 1:
                self.pop_screen()
            screen = self.screen
            assert isinstance(screen, JobsScreen)
            await screen.set_queue(queue)

        self.run_worker(go())

    def show_children(self, parent: str) -> None:
        async def go() -> None:
            await self.switch_mode("jobs")
            while len(self.screen_stack) > 1:
                self.pop_screen()
            screen = self.screen
            assert isinstance(screen, JobsScreen)
            screen.parents.append(screen.table.filter)
            await screen.show(PageFilter(parent=parent, descending=False))

        self.run_worker(go())

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        from .screens import actions

        yield SystemCommand(
            "Queues",
            "Job queues and compute environments (1)",
            lambda: self.run_worker(self.action_mode("queues")),
        )
        yield SystemCommand("Jobs", "Every job (2)", lambda: self.show_jobs(None))
        yield SystemCommand(
            "Instances",
            "Instances of the compute environments, the jobs on them; reclaim Spot (3)",
            lambda: self.run_worker(self.action_mode("instances")),
        )
        for name in self.backend.queue_names():
            yield SystemCommand(
                f"Jobs of {name}", f"The jobs of queue {name}", lambda n=name: self.show_jobs(n)
            )
        yield SystemCommand(
            "Submit a job", "From a job definition (n)", lambda: actions.submit(self)
        )
        yield SystemCommand("Help", "Every key (?)", self.action_help)
        yield from super().get_system_commands(screen)


def _wall_clock() -> int:
    return int(time.time() * 1000)
