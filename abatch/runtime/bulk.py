"""The cyclic garbage collector held off while a bulk operation builds many objects.

Submitting 100,000 jobs creates some 2 million long-lived objects (records, specs, rows).
CPython runs a full collection each time its long-lived objects grow by a quarter, so a
heap growing from nothing to that size is walked about ten times over: 1.0-1.2 s of a
4-5 s submission, measured (bench/core.py). Nothing a submission builds is cyclic garbage,
so the collector waits until the outermost bulk operation ends; then it runs as usual.
Submissions interleave at their awaits, hence the depth count.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_depth = 0
_resume = False  # whether the outermost operation found the collector on


@contextmanager
def collector_paused() -> Iterator[None]:
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
