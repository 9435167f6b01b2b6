"""The cyclic garbage collector held off while a bulk operation builds many objects.

Submitting 100,000 jobs creates some 2 million long-lived objects (records, specs, rows).
CPython runs a full collection each time its long-lived objects grow by a quarter, so a
heap growing from nothing to that size is walked about ten times over: 1.0-1.2 s of a
4-5 s submission, measured (bench/core.py). Nothing a submission builds is cyclic garbage,
so the collector waits until the outermost bulk operation ends; then it runs as usual.
Submissions interleave at their awaits, hence the depth count.

Only a batch of at least BULK_JOBS jobs pauses it: a stream of small API submissions that
overlap one another would otherwise keep the collector off for as long as the stream lasts,
and the cyclic garbage of the requests around them (aiohttp's, exceptions') would pile up;
a small batch gains nothing from the pause anyway.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BULK_JOBS = 1000

_depth = 0
_resume = False  # whether the outermost operation found the collector on


@contextmanager
def collector_paused(jobs: int) -> Iterator[None]:
    """Pause the collector while building `jobs` jobs, if that is a bulk (>= BULK_JOBS)."""
    if jobs < BULK_JOBS:
        yield
        return
    global _depth, _resume
    if _depth == 0:
        _resume = gc.isenabled()
        gc.disable()
    _depth += 1
    try:
        yield
    finally:
        _depth -= 1
        if _depth == 0 and _resume:
            gc.enable()
