"""Bounded reads of a log file: its last lines, and the complete lines written since an
offset. Neither ever holds more than a few blocks of the file, however long it is."""

from __future__ import annotations

import os
from pathlib import Path

BLOCK = 64 * 1024
MAX_READ = 1024 * 1024  # at most this much per follow step
MAX_LINE = 16 * 1024  # longer lines are cut for display


def _decode(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").removesuffix("\r")
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + " …"


def tail(path: Path, lines: int) -> tuple[list[str], int]:
    """The last `lines` complete lines (and an unterminated last one) and the offset of the
    end of the file; ([], 0) when there is no file yet."""
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError:
        return [], 0
    with f:
        end = f.seek(0, os.SEEK_END)
        pos, buf = end, b""
        while pos > 0 and buf.count(b"\n") <= lines and end - pos < lines * MAX_LINE:
            step = min(BLOCK, pos)
            pos -= step
            f.seek(pos)
            buf = f.read(step) + buf
        parts = buf.split(b"\n")
        if parts and parts[-1] == b"":
            parts.pop()
        if pos > 0 and parts:
            parts = parts[1:]  # the first piece may be the end of a longer line
        return [_decode(p) for p in parts[-lines:]], end


def read_from(path: Path, offset: int) -> tuple[list[str], int]:
    """Complete lines from `offset` (at most MAX_READ bytes) and where the next read starts."""
    try:
        f = open(path, "rb")  # noqa: SIM115
    except OSError:
        return [], offset
    with f:
        size = f.seek(0, os.SEEK_END)
        if size < offset:  # truncated or replaced: start again
            offset = 0
        f.seek(offset)
        raw = f.read(min(MAX_READ, size - offset))
    cut = raw.rfind(b"\n")
    if cut < 0:
        if len(raw) >= MAX_READ:
            return [_decode(raw)], offset + len(raw)
        return [], offset
    return [_decode(p) for p in raw[:cut].split(b"\n")], offset + cut + 1
