"""Modal screens: confirm a destructive action, submit a job from a definition, help."""

from __future__ import annotations

import shlex

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ..backend import SubmitForm
from ..rows import parse_parameters

# Every key, by view: the help screen shows this table, and a test checks each binding of
# each screen appears in it.
KEYS: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "Everywhere",
        [
            ("1", "queues and compute environments"),
            ("2", "jobs"),
            ("3", "instances of the compute environments"),
            ("?", "this help"),
            (": / ctrl+p", "command palette"),
            ("escape", "back"),
            ("q", "quit"),
        ],
    ),
    (
        "Jobs",
        [
            ("up/down j/k", "move"),
            ("pageup/pagedown home/end g/G", "page, first, last"),
            ("enter", "job detail"),
            ("/", "filter: name prefix, queue:NAME, status:NAME"),
            ("s", "cycle the status filter"),
            ("o", "sort: created, name, status, started, duration"),
            ("O", "reverse the order"),
            ("a", "array job: show its children (escape: back)"),
            ("l", "logs of the job"),
            ("c", "cancel (asks first)"),
            ("t", "terminate (asks first)"),
            ("r", "re-submit the same job"),
            ("n", "submit a job from a definition"),
        ],
    ),
    (
        "Job detail",
        [
            ("l", "logs"),
            ("c / t / r", "cancel, terminate, re-submit"),
            ("a", "array job: its children"),
        ],
    ),
    (
        "Queues",
        [
            ("tab", "queues <-> compute environments"),
            ("enter", "jobs of the queue"),
            ("e", "enable or disable the queue or compute environment"),
        ],
    ),
    (
        "Instances",
        [
            ("x", "reclaim a Spot instance (asks first; its jobs retry by their rules)"),
        ],
    ),
    (
        "Logs",
        [
            ("f", "follow on / off"),
            ("[ / ]", "previous / next attempt"),
            ("/", "search (highlights matches, jumps to the first)"),
            ("n / N", "next / previous match"),
        ],
    ),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Static("abatch - keys", classes="title")
            for section, keys in KEYS:
                yield Static(section, classes="section")
                for key, what in keys:
                    yield Static(f"  {key:<22} {what}")

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.question, id="question")
            with Horizontal(id="buttons"):
                yield Button("Yes (y)", variant="error", id="yes")
                yield Button("No (n)", variant="primary", id="no")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class SubmitScreen(ModalScreen[SubmitForm | None]):
    """A form: definition, queue, name, parameters `k=v ...`, command override, array size."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, definitions: list[str], queues: list[str], default_queue: str | None
    ) -> None:
        super().__init__()
        self.definitions = definitions
        self.queues = queues
        self.default_queue = default_queue

    def compose(self) -> ComposeResult:
        with Grid(id="submit"):
            yield Label("Submit a job", classes="title")
            yield Label("")
            yield Label("definition")
            yield Select(
                [(d, d) for d in self.definitions],
                value=self.definitions[0] if self.definitions else Select.BLANK,
                id="definition",
                allow_blank=not self.definitions,
            )
            yield Label("queue")
            default = self.default_queue if self.default_queue in self.queues else None
            yield Select(
                [(q, q) for q in self.queues],
                value=default or (self.queues[0] if self.queues else Select.BLANK),
                id="queue",
                allow_blank=not self.queues,
            )
            yield Label("name")
            yield Input(placeholder="job name", id="name")
            yield Label("parameters")
            yield Input(placeholder="key=value key2=value2", id="parameters")
            yield Label("command")
            yield Input(placeholder="override, e.g. echo hello (optional)", id="command")
            yield Label("array size")
            yield Input(placeholder="2..10000 (optional)", id="array", type="integer")
            yield Label("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Submit", variant="primary", id="ok")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _form(self) -> SubmitForm:
        definition = self.query_one("#definition", Select).value
        queue = self.query_one("#queue", Select).value
        name = self.query_one("#name", Input).value.strip()
        if not isinstance(definition, str) or not isinstance(queue, str):
            raise ValueError("choose a definition and a queue")
        if not name:
            raise ValueError("give the job a name")
        params = parse_parameters(self.query_one("#parameters", Input).value)
        command_text = self.query_one("#command", Input).value.strip()
        command = shlex.split(command_text) if command_text else None
        array_text = self.query_one("#array", Input).value.strip()
        array = int(array_text) if array_text else None
        return SubmitForm(definition, queue, name, params, command, array)

    def on_input_submitted(self) -> None:
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._submit()
        else:
            self.dismiss(None)

    def _submit(self) -> None:
        try:
            form = self._form()
        except ValueError as exc:
            self.query_one("#error", Label).update(Text(str(exc), style="red"))
            return
        self.dismiss(form)

    def action_cancel(self) -> None:
        self.dismiss(None)
