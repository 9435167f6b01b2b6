"""`abatch serve [CONFIG]`: the runtime in the foreground until Ctrl-C or SIGTERM.

CONFIG's resources are applied; its jobs are not submitted (that is `abatch run`). Jobs left
unfinished on the state directory are resumed. One plain line per job state change is
printed: the bus subscriber only appends to a queue (O(1), no I/O on the runtime's hot path)
and a printer task writes what accumulated every `PRINT_INTERVAL_S`, flushing each time so
that the lines show up promptly when stdout is a pipe. A signal stops the runtime cleanly
and the command exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import deque
from typing import TYPE_CHECKING, TextIO

import anyio

from .common import EXIT_OK, resolve_state_dir
from .run import describe_changes
from .signals import Stopper

if TYPE_CHECKING:
    from abatch.config import LoadedConfig, RuntimeSettings
    from abatch.model.enums import JobStatus
    from abatch.model.job import JobRecord

PRINT_INTERVAL_S = 0.1
READY = "ready"


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


def cmd_serve(args: argparse.Namespace) -> int:
    from abatch.config import RuntimeSettings

    from .common import load_config_file

    config = load_config_file(args.config) if args.config else None
    state_dir = resolve_state_dir(args.state_dir, config.runtime.state_dir if config else None)
    base = config.runtime if config is not None else RuntimeSettings()
    settings = base.model_copy(update={"state_dir": state_dir})
    return anyio.run(serve, config, settings, StatePrinter(sys.stdout))


async def serve(
    config: LoadedConfig | None, settings: RuntimeSettings, printer: StatePrinter
) -> int:
    from abatch.runtime import open_runtime

    async with anyio.create_task_group() as tg:
        stopper = Stopper(tg)
        await tg.start(stopper.watch)
        try:
            async with open_runtime(settings) as rt:
                stopper.runtime = rt
                rt.bus.subscribe(printer.on_change)
                if config is not None:
                    report = await rt.apply(config)
                    printer.say(
                        f"{describe_changes(report.changes)} (from {config.path}; its "
                        "jobs are not submitted: use `abatch run` for that)"
                    )
                    if config.schedules:
                        states = rt.start_schedules(config.schedules)
                        enabled = sum(1 for s in states if s.enabled)
                        printer.say(f"schedules: {enabled} of {len(states)} enabled")
                tg.start_soon(printer.run)
                printer.say(
                    f"{READY}: runtime pid {os.getpid()} on state directory {settings.state_dir}; "
                    f"{len(rt.jobs)} unfinished job(s); Ctrl-C or SIGTERM stops it"
                )
                await stopper.requested.wait()
                printer.flush()
                printer.say(
                    f"{stopper.signal_name}: stopping; {len(rt.running)} running attempt(s) get "
                    f"SIGTERM (SIGKILL after {settings.kill_grace_seconds:g} s) and are requeued"
                )
            printer.flush()
            printer.say(f"stopped; state directory {settings.state_dir} released")
        finally:
            tg.cancel_scope.cancel()
    return EXIT_OK
