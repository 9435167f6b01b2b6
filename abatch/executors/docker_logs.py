"""A container's output, copied into the attempt's log file while the container runs.

The log file format (one file per attempt, as for the process executor):

- stdout and stderr share the file, in the order the engine received them;
- every line that came from stderr starts with `[stderr] `; stdout lines are written as is;
- when the stream changes in the middle of a line (a partial line without its newline), a
  newline is put in first, so a prefix always starts a line;
- lines abatch adds itself (the engine would not give the logs, say) start with `[abatch] `.

Rules this module keeps:

- Never hold a log in memory: each frame of the engine's multiplexed stream is written as it
  arrives (a frame is one log message, at most 16 KiB with the json-file driver).
- With a cap (`max_log_bytes`), the file stops growing there: the rest is dropped and
  `[abatch] log cut at N bytes; ...` lines mark the cut (and, at the end, what was dropped).
  A file found past the cap after a restart stays cut.
- Logs are requested with timestamps. After each frame the file's mtime is set to the engine's
  timestamp of that frame, so "since the file's mtime" is exactly "after the last line written"
  in the engine's own clock: a later follower (`DockerExecutor.adopt` after a restart) asks for
  `since=mtime+1ns` and neither repeats nor loses a line. An empty file means "from the start".
- aiodocker's `container.log()` decodes the stream to text and throws away which stream each
  frame came from (and inspects the container first); this module reads the raw frames through
  aiodocker's request helper instead.
"""

from __future__ import annotations

import asyncio
import calendar
import functools
import os
import time
from pathlib import Path

import aiodocker

__all__ = [
    "LogStreamBroken",
    "LogWriter",
    "copy_logs",
    "since_after",
    "since_of_file",
    "split_timestamp",
]

STDOUT, STDERR, SYSTEMERR = 1, 2, 3
STDERR_PREFIX = b"[stderr] "
ABATCH_PREFIX = b"[abatch] "
_HEADER_SIZE = 8
_NS = 1_000_000_000


@functools.lru_cache(maxsize=64)
def _epoch_seconds(stamp: bytes) -> int:
    """b'2024-05-01T12:34:56' (UTC) -> seconds since the epoch; cached, since one second's
    lines all share it."""
    return calendar.timegm(time.strptime(stamp.decode("ascii"), "%Y-%m-%dT%H:%M:%S"))


def split_timestamp(payload: bytes) -> tuple[int | None, bytes]:
    """Split the engine's RFC 3339 timestamp (nanoseconds, 'Z' or an offset) off a frame;
    return (epoch nanoseconds, the rest). A frame without one is returned whole, with None."""
    space = payload.find(b" ", 0, 40)
    if space < 19:
        return None, payload
    stamp = payload[:space]
    try:
        ns = _epoch_seconds(stamp[:19]) * _NS
        rest = stamp[19:]
        if rest[:1] == b".":
            end = 1
            while end < len(rest) and 48 <= rest[end] <= 57:
                end += 1
            digits = rest[1:end]
            ns += int(digits[:9].ljust(9, b"0")) if digits else 0
            rest = rest[end:]
        if rest in (b"Z", b"z"):
            pass
        elif len(rest) == 6 and rest[:1] in (b"+", b"-") and rest[3:4] == b":":
            offset = (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60) * _NS
            ns += -offset if rest[:1] == b"+" else offset
        else:
            return None, payload
    except ValueError:
        return None, payload
    return ns, payload[space + 1 :]


def since_after(ns: int) -> str:
    """The engine's `since` (seconds.nanoseconds) for "strictly after `ns`"."""
    after = ns + 1
    return f"{after // _NS}.{after % _NS:09d}"


def since_of_file(path: Path) -> str | None:
    """The `since` to ask the engine for so that nothing already in `path` is repeated:
    None (everything) when the file is missing or empty, else its mtime plus 1 ns (see
    LogWriter: the mtime is the engine time of the last frame written)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if st.st_size == 0:
        return None
    return since_after(st.st_mtime_ns)


class LogWriter:
    """Appends marked frames to one log file. Opening it creates missing parent directories."""

    __slots__ = (
        "_at_line_start",
        "_fd",
        "_last_stream",
        "cap",
        "cut",
        "dropped",
        "last_ns",
        "path",
        "written",
    )

    def __init__(self, path: Path, cap: int | None = None) -> None:
        self.path = path
        self.cap = cap
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        try:
            self._fd = os.open(path, flags, 0o600)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, flags, 0o600)
        self._at_line_start = True
        self._last_stream = STDOUT
        st = os.fstat(self._fd)
        # The engine time of the last frame written (every frame leaves it as the mtime);
        # 0 while nothing has come from the engine.
        self.last_ns = st.st_mtime_ns if st.st_size else 0
        self.written = st.st_size
        self.dropped = 0
        self.cut = cap is not None and st.st_size >= cap
        if st.st_size:  # carrying on after a restart: does the file end mid-line?
            with open(path, "rb") as f:
                f.seek(st.st_size - 1)
                self._at_line_start = f.read(1) == b"\n"

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def write(self, stream: int, data: bytes, timestamp_ns: int | None = None) -> None:
        """Append one frame from `stream` (1 stdout, 2 stderr, 3 engine error)."""
        if self._fd < 0 or not data:
            return
        if stream == SYSTEMERR:
            self.note(data.decode("utf-8", "replace").rstrip("\n"))
            return
        stream = STDERR if stream == STDERR else STDOUT
        if self.cut:
            self.dropped += len(data)
            self._touch(timestamp_ns)
            return
        prior = self._at_line_start  # the line state of what the file holds now
        out = bytearray()
        if not self._at_line_start and stream != self._last_stream:
            out += b"\n"
            self._at_line_start = True
        if stream == STDERR:
            start = 0
            while start < len(data):
                end = data.find(b"\n", start)
                end = len(data) if end < 0 else end + 1
                if self._at_line_start:
                    out += STDERR_PREFIX
                out += data[start:end]
                self._at_line_start = data[end - 1] == 10  # b"\n"
                start = end
        else:
            out += data
            self._at_line_start = data[-1] == 10
        self._last_stream = stream
        if self.cap is not None and self.written + len(out) > self.cap:
            keep = self.cap - self.written
            self._write_all(out[:keep])
            self.written += keep
            self.cut = True
            self.dropped += len(out) - keep
            self._at_line_start = out[keep - 1] == 10 if keep else prior
            self.note(f"log cut at {self.cap} bytes; the rest is dropped")
        else:
            self._write_all(out)
            self.written += len(out)
        self._touch(timestamp_ns)

    def _touch(self, timestamp_ns: int | None) -> None:
        if timestamp_ns is not None:
            self.last_ns = timestamp_ns
        if self.last_ns:
            os.utime(self._fd, ns=(self.last_ns, self.last_ns))

    def note(self, text: str) -> None:
        """Append a line of abatch's own (not from the container). The mtime stays the last
        frame's; with no frame yet it is left as is (notes say the logs cannot be read, so
        there is nothing for a later follower to skip)."""
        if self._fd < 0:
            return
        line = (b"" if self._at_line_start else b"\n") + ABATCH_PREFIX + text.encode() + b"\n"
        self._write_all(line)
        self._at_line_start = True
        if self.last_ns:
            os.utime(self._fd, ns=(self.last_ns, self.last_ns))

    def close(self) -> None:
        if self._fd >= 0:
            if self.dropped:
                self.note(f"log cut at {self.cap} bytes; {self.dropped} more bytes dropped")
            os.close(self._fd)
            self._fd = -1

    def _write_all(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]


class LogStreamBroken(Exception):
    """The engine's log stream ended in the middle of a frame (the connection was lost)."""


async def copy_logs(
    docker: aiodocker.Docker,
    container_id: str,
    writer: LogWriter,
    *,
    follow: bool,
    since: str | None = None,
) -> None:
    """Copy the container's logs into `writer` until the stream ends (with `follow`, when the
    container stops). Raises aiodocker.DockerError or LogStreamBroken when the engine fails."""
    params: dict[str, str | bool] = {
        "stdout": True,
        "stderr": True,
        "follow": follow,
        "timestamps": True,
    }
    if since is not None:
        params["since"] = since
    # Private helper on purpose: the public log() loses the stream ids (see the docstring).
    async with docker._query(f"containers/{container_id}/logs", params=params) as response:
        try:
            content = response.content
            while True:
                try:
                    header = await content.readexactly(_HEADER_SIZE)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        raise LogStreamBroken("log stream cut inside a frame header") from None
                    return
                length = int.from_bytes(header[4:8], "big")
                if not length:
                    continue
                try:
                    payload = await content.readexactly(length)
                except asyncio.IncompleteReadError:
                    raise LogStreamBroken("log stream cut inside a frame") from None
                timestamp, data = split_timestamp(payload)
                writer.write(header[0], data, timestamp)
        finally:
            # aiodocker's _query leaves the response to its caller: a stream stopped half
            # way (cancelled, broken) must drop its connection, not leak it.
            response.close()
