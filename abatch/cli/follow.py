"""`abatch logs -f`: print a job's log as it is written, until the job has finished.

How: the job is read from the state directory's store (read-only, as `abatch logs` does) and
its log file is copied from the last offset, every `POLL_S`. Reading the file directly, not
GetLogEvents, is what makes it work with every runtime on the directory, including
`abatch run` without an API, and it copies bytes as they come (a line still being written,
a progress bar) instead of whole lines.

Completeness: each round reads the job first, then the file. A round that saw the job
finished (or, with --attempt, that attempt stopped) reads the rest of the file and ends, and
the runtime records an attempt as stopped only after its output is in the file, so nothing
is lost. Without --attempt it follows the job across retries: when a new attempt appears,
the previous one (which has stopped) is read to its end first and a `--- attempt N` line
goes to stderr. When no runtime holds the directory while the job is unfinished, nothing
will move it: it ends with exit 2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TextIO

import anyio

from abatch.model.paths import task_id_of

from .common import EXIT_FAILED, EXIT_OK, CliError
from .connect import runtime_pid
from .read import open_store, pick_attempt

if TYPE_CHECKING:
    from abatch.model.job import Attempt, JobRecord

POLL_S = 0.3
MAX_ROUND_BYTES = 1024 * 1024  # copied per round at most, so the job is read again soon
CHUNK = 64 * 1024


def log_path(state_dir: Path, job: JobRecord, attempt: Attempt) -> Path:
    logs = state_dir / "logs"
    path = logs / task_id_of(attempt.log_stream)
    if not path.resolve().is_relative_to(logs.resolve()):
        raise CliError(f"job {job.job_id} has a log stream name outside {logs}")
    return path


def copy_from(path: Path, pos: int, out: BinaryIO, limit: int = MAX_ROUND_BYTES) -> int:
    """Copy what the file has past `pos` (at most `limit` bytes); returns the new offset."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return pos  # the attempt has not written anything yet
    except IsADirectoryError:
        raise CliError(f"{path} is a directory, not a log file") from None
    copied = 0
    with f:
        f.seek(pos)
        while copied < limit:
            data = f.read(min(CHUNK, limit - copied))
            if not data:
                break
            out.write(data)
            copied += len(data)
    if copied:
        out.flush()
    return pos + copied


def _attempt(job: JobRecord, number: int | None) -> Attempt | None:
    if number is None:
        return job.current_attempt
    for attempt in job.attempts:
        if attempt.number == number:
            return attempt
    if job.status.is_terminal:
        pick_attempt(job, number)  # raises: it never will have it
    return None


async def follow(
    state_dir: Path,
    job_id: str,
    number: int | None,
    out: BinaryIO | None = None,
    err: TextIO | None = None,
    poll: float = POLL_S,
) -> int:
    """Copy the log of attempt `number` (None: the latest, across retries) of the job until
    it has finished. Returns the exit code."""
    out = out if out is not None else sys.stdout.buffer
    err = err if err is not None else sys.stderr
    store = await open_store(state_dir)
    try:
        current: Attempt | None = None
        pos = 0
        said_waiting = False
        while True:
            job = await store.get_job(job_id)  # first the job, then the file: see above
            if job is None:
                raise CliError(f"job {job_id} does not exist in {state_dir}")
            if (job.spec.get("arrayProperties") or {}).get("size") is not None:
                raise CliError(
                    f"job {job_id} is an array job: its children have the logs "
                    f"(`abatch logs -f {job_id}:0`)"
                )
            target = _attempt(job, number)
            if target is not None and (current is None or target.number != current.number):
                if current is not None:  # a retry: the previous attempt has stopped
                    path = log_path(state_dir, job, current)
                    while (end := copy_from(path, pos, out)) != pos:
                        pos = end
                    _say(err, f"--- attempt {target.number} of job {job.job_id}")
                current, pos = target, 0
            full = False
            if current is not None:
                end = copy_from(log_path(state_dir, job, current), pos, out)
                full = end - pos >= MAX_ROUND_BYTES
                pos = end
            if full:
                continue  # more to copy before the job is looked at again
            stopped = number is not None and current is not None and current.stopped_at is not None
            if job.status.is_terminal or stopped:
                if current is None:
                    _say(err, f"job {job.job_id} finished ({job.status.value}) without a log")
                    return EXIT_FAILED
                return EXIT_OK
            if runtime_pid(state_dir) is None:
                raise CliError(
                    f"no abatch runtime is running on {state_dir}; job {job.job_id} is "
                    f"{job.status.value} and goes on when one starts (`abatch serve`)"
                )
            if current is None and not said_waiting:
                _say(err, f"job {job.job_id} is {job.status.value}; waiting for it to start")
                said_waiting = True
            await anyio.sleep(poll)
    finally:
        await store.close()


def _say(err: TextIO, text: str) -> None:
    try:
        err.write(text + "\n")
        err.flush()
    except (OSError, ValueError):
        pass
