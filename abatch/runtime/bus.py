"""The event bus: the runtime publishes, the CLI, TUI and API subscribe.

Publishing is a synchronous call per subscriber with the changed job (no copies, no queues):
it sits on the hot path of every state change. A subscriber that needs to do slow work
coalesces in its own callback (e.g. sets a flag and redraws at its own pace).
"""

from __future__ import annotations

from collections.abc import Callable

from abatch.model.job import JobRecord

Subscriber = Callable[[JobRecord], None]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, fn: Subscriber) -> Callable[[], None]:
        """Register `fn`; returns a function that unsubscribes it."""
        self._subscribers.append(fn)

        def unsubscribe() -> None:
            if fn in self._subscribers:
                self._subscribers.remove(fn)

        return unsubscribe

    def publish(self, job: JobRecord) -> None:
        for fn in self._subscribers:
            fn(job)
