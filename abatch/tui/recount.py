"""`Recount`: when a backend may count every queue's jobs again.

Counting is a scan of the store, so a backend counts at most once per `every` seconds. A
change that lands inside that window must not be dropped: the screens reload only when told
that something changed, so if nothing else happens they would show the old counts for good.
`Recount` remembers such a change and, when the window ends, calls `wake` (the backend's
subscribers), so the screens reload once more and the counts catch up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Recount:
    def __init__(self, every: float, wake: Callable[[], None]) -> None:
        self.every = every
        self._wake = wake
        self._changed = True
        self._counted_at: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    def changed(self) -> None:
        self._changed = True

    def due(self) -> bool:
        """True: count now. False: the last counts stand, and if a change is waiting,
        `wake` runs once the window has passed. A change during the count is kept for the
        next one."""
        now = time.monotonic()
        if self._counted_at is not None:
            if not self._changed:
                return False
            wait = self._counted_at + self.every - now
            if wait > 0:
                if self._timer is None:
                    self._timer = asyncio.get_running_loop().call_later(wait, self._fire)
                return False
        self._counted_at, self._changed = now, False
        return True

    def _fire(self) -> None:
        self._timer = None
        if self._changed:
            self._wake()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
