"""`SortedPages`: pages of a jobs list in an order other than creation order, for a backend.

Creation order is paged by offset straight from the store. Any other order would sort the
whole list again for every page, so a backend keeps the list's order as row keys, taken when
the table counts (which the table does at most once per ten times what counting costs), and a
page is the rows of a slice of those keys. Between two counts a page shows fresh rows in the
order of the last count: scrolling never skips or repeats a job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from .backend import PageFilter

Row = TypeVar("Row")


class SortedPages(Generic[Row]):
    def __init__(
        self,
        order: Callable[[PageFilter], Awaitable[list[int]]],
        rows: Callable[[list[int]], Awaitable[list[Row]]],
    ) -> None:
        self._order = order
        self._rows = rows
        self._filter: PageFilter | None = None
        self._keys: list[int] = []

    async def count(self, f: PageFilter) -> int:
        """Sort the list `f` again and keep its order; its length."""
        keys = await self._order(f)
        self._filter, self._keys = f, keys
        return len(keys)

    async def page(self, f: PageFilter, offset: int, limit: int) -> list[Row]:
        if f != self._filter:
            await self.count(f)
        start = max(0, offset)
        return await self._rows(self._keys[start : start + limit])
