"""Reading attempt logs without ever holding a whole file: the last lines, or a stream.

`tail_lines` reads backwards from the end in blocks until it has the lines it needs, and
stops after `max_bytes` whatever happens (a log that is one huge line costs no more than that).
`copy_to` streams a file in fixed-size chunks.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

BLOCK = 64 * 1024
TAIL_MAX_BYTES = 1024 * 1024


def tail_lines(path: Path, count: int, max_bytes: int = TAIL_MAX_BYTES) -> list[str]:
    """The last `count` lines of the file (without line ends); [] if it does not exist."""
    if count <= 0:
        return []
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, opened once
    except OSError:
        return []
    with f:
        end = f.seek(0, os.SEEK_END)
        pos, data = end, b""
        # count + 1 newlines guarantee `count` whole lines (the last may lack its newline).
        while pos > 0 and data.count(b"\n") <= count and end - pos < max_bytes:
            step = min(BLOCK, pos, max_bytes - (end - pos))
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line.decode("utf-8", "replace").rstrip("\r") for line in lines[-count:]]


def copy_to(path: Path, out: BinaryIO, chunk: int = BLOCK) -> int:
    """Copy the file to `out` in chunks; returns the bytes copied. OSError propagates."""
    total = 0
    with open(path, "rb") as f:
        while True:
            data = f.read(chunk)
            if not data:
                break
            out.write(data)
            total += len(data)
    out.flush()
    return total
