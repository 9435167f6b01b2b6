"""Log files as CloudWatch log events: one event per line, read in bounded pieces.

Positions are byte offsets, always at the start of a line, so they make honest tokens
(`f/<offset>` reads on from there, `b/<offset>` reads back from there). A line still being
written (no newline yet) is held back until it is complete, unless the attempt has ended.
Reading never holds more than a block plus one event in memory: a line longer than
`MAX_EVENT` bytes is cut to that size (CloudWatch's own event limit).

Blocking file I/O: the API calls these in a worker thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

BLOCK = 64 * 1024
MAX_EVENT = 256 * 1024
MAX_BACK_SCAN = 4 * 1024 * 1024
EVENT_OVERHEAD = 26  # CloudWatch counts 26 bytes per event towards the 1 MB of a response


@dataclass(frozen=True, slots=True)
class Line:
    start: int  # byte offset of the line
    end: int  # byte offset just past its newline
    text: str

    @property
    def size(self) -> int:
        return len(self.text.encode()) + EVENT_OVERHEAD


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").removesuffix("\r")


def scan(f: BinaryIO, pos: int, final: bool) -> Iterator[Line]:
    """Lines from byte `pos` on; the last, unterminated one only if `final`."""
    f.seek(pos)
    buf = b""
    start = pos  # offset of buf[0]
    overflow = False  # the current line passed MAX_EVENT: its tail is being skipped
    while True:
        block = f.read(BLOCK)
        if not block:
            if final and buf and not overflow:
                yield Line(start, start + len(buf), _decode(buf[:MAX_EVENT]))
            return
        buf += block
        i = 0
        while True:
            nl = buf.find(b"\n", i)
            if nl < 0:
                break
            if overflow:
                overflow = False
                start = start + nl + 1
                buf, i = buf[nl + 1 :], 0
                continue
            yield Line(start + i, start + nl + 1, _decode(buf[i:nl][:MAX_EVENT]))
            i = nl + 1
        buf, start = buf[i:], start + i
        if len(buf) > MAX_EVENT and not overflow:
            yield Line(start, start + len(buf), _decode(buf[:MAX_EVENT]))
            overflow = True
        if overflow:
            start += len(buf)
            buf = b""


def read_forward(
    path: Path, pos: int, limit: int, max_bytes: int, final: bool
) -> tuple[list[Line], int]:
    """Up to `limit` lines (and about `max_bytes`) from `pos`; returns them and where the next
    read starts."""
    lines: list[Line] = []
    total = 0
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return [], pos
    with f:
        for line in scan(f, pos, final):
            if len(lines) >= limit or (lines and total + line.size > max_bytes):
                break
            lines.append(line)
            total += line.size
    return lines, lines[-1].end if lines else pos


def boundary(path: Path, final: bool) -> int:
    """Where the readable part of the file ends: its size when the attempt has ended, else
    just past its last newline."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    with f:
        end = f.seek(0, os.SEEK_END)
        if final:
            return end
        pos = end
        while pos > 0 and end - pos < MAX_BACK_SCAN:
            step = min(BLOCK, pos)
            pos -= step
            f.seek(pos)
            nl = f.read(step).rfind(b"\n")
            if nl >= 0:
                return pos + nl + 1
        return 0


def read_backward(path: Path, end: int, limit: int, max_bytes: int) -> tuple[list[Line], int]:
    """Up to `limit` lines ending at `end` (a line boundary), in file order; returns them and
    the offset of the first one."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return [], 0
    with f:
        end = min(end, f.seek(0, os.SEEK_END))  # a token may point past a shorter file
        pos, data = end, b""
        while pos > 0 and data.count(b"\n") <= limit and end - pos < MAX_BACK_SCAN:
            step = min(BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    pieces = data.split(b"\n")
    if pieces and pieces[-1] == b"":
        pieces.pop()  # `end` follows a newline
    offsets = []
    at = pos
    for piece in pieces:
        offsets.append(at)
        at += len(piece) + 1
    first = 1 if pos > 0 and len(pieces) > 1 else 0  # the first piece may start mid-line
    lines: list[Line] = []
    total = 0
    for i in range(len(pieces) - 1, first - 1, -1):
        stop = min(offsets[i] + len(pieces[i]) + 1, end)
        line = Line(offsets[i], stop, _decode(pieces[i][:MAX_EVENT]))
        if len(lines) >= limit or (lines and total + line.size > max_bytes):
            break
        lines.append(line)
        total += line.size
    lines.reverse()
    return lines, lines[0].start if lines else end


def mtime_ms(path: Path) -> int | None:
    try:
        return int(path.stat().st_mtime * 1000)
    except OSError:
        return None
