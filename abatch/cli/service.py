"""What `abatch serve` and `abatch run --keep-running` share: the API options, starting the
API inside a runtime, and the line printed per job state change.

The API options come from the command line, else the config's `[runtime]` (`api_host`,
`api_port`, `api_auth`), else the defaults (127.0.0.1, 8765, off). A host that is not a
loopback address without authentication is refused here, before a runtime starts (the
server refuses it too). The API is started in a task group of its own inside the
`open_runtime` block, so that it stops before the runtime does.

The printer's bus subscriber only appends to a queue (O(1), no I/O on the runtime's hot
path); its task writes what accumulated every `PRINT_INTERVAL_S`, flushing each time so that
the lines show up promptly when stdout is a pipe.
"""

from __future__ import annotations

import argparse
import time
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TextIO

import anyio
import anyio.abc

from .common import CliError

if TYPE_CHECKING:
    from abatch.config import RuntimeSettings
    from abatch.model.enums import JobStatus
    from abatch.model.job import JobRecord
    from abatch.runtime import Runtime

PRINT_INTERVAL_S = 0.1
READY = "ready"


@dataclass(frozen=True)
class ApiOptions:
    host: str
    port: int
    auth: bool


def api_options(args: argparse.Namespace, settings: RuntimeSettings) -> ApiOptions:
    """--host / --port / --auth over the config's [runtime] api_* keys; refuses a host that
    is not a loopback address unless authentication is on."""
    from abatch.config.settings import is_host, is_loopback

    host: str = args.host if args.host is not None else settings.api_host
    port: int = args.port if args.port is not None else settings.api_port
    auth: bool = args.auth if args.auth is not None else settings.api_auth
    if not is_host(host):
        raise CliError(f"--host {host!r} is not an IP address or a host name")
    if not auth and not is_loopback(host):
        raise CliError(
            f"refusing to serve the API on {host}, which is not a loopback address, without "
            "authentication; turn authentication on (--auth, or [runtime] api_auth = true) "
            "or bind 127.0.0.1"
        )
    return ApiOptions(host, port, auth)


async def start_api(tg: anyio.abc.TaskGroup, rt: Runtime, api: ApiOptions) -> str:
    """Serve the API of `rt` in `tg` (cancel `tg` to stop it); returns its URL once it listens
    and `<state_dir>/api.json` is written."""
    from abatch.api.server import serve_api
    from abatch.model.errors import ClientError

    try:
        url: str = await tg.start(partial(serve_api, auth=api.auth), rt, api.host, api.port)
    except ClientError as exc:  # the address or port cannot be bound
        raise CliError(
            f"{exc}; choose another address or port (--host, --port; --port 0 picks a free "
            "port) or stop what uses it"
        ) from None
    return url


def api_text(url: str, api: ApiOptions, rt: Runtime) -> str:
    """`API at URL`, with the address it listens on when that is not the URL's, and where the
    key is when requests must be signed."""
    from abatch.config.settings import is_loopback

    notes = [] if is_loopback(api.host) else [f"listening on {api.host}"]
    if api.auth:
        notes.append(f"signed requests only: key in {rt.state_dir / 'credentials.json'}")
    return f"API at {url}" + (f" ({'; '.join(notes)})" if notes else "")


class StatePrinter:
    """Prints `HH:MM:SS.mmm  NAME  JOB_ID  STATUS  reason` for every status change."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending: deque[tuple[float, JobRecord, JobStatus]] = deque()
        self._last: dict[str, JobStatus] = {}  # unfinished jobs only: memory stays bounded

    def on_change(self, job: JobRecord) -> None:
        if self._last.get(job.job_id) is job.status:
            return  # only the status reason changed
        if job.status.is_terminal:
            self._last.pop(job.job_id, None)
        else:
            self._last[job.job_id] = job.status
        self._pending.append((time.time(), job, job.status))

    async def run(self) -> None:
        while True:
            await anyio.sleep(PRINT_INTERVAL_S)
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        lines = []
        while self._pending:
            at, job, status = self._pending.popleft()
            # Read late: a RUNNABLE job's waiting reason is set just after the move.
            reason = job.status_reason if job.status is status else None
            stamp = time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"
            tail = f"  {' '.join(reason.split())}" if reason else ""
            lines.append(f"{stamp}  {job.job_name}  {job.job_id}  {status.value}{tail}\n")
        self.say("".join(lines))

    def say(self, text: str) -> None:
        try:
            self.stream.write(text if text.endswith("\n") else text + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass
