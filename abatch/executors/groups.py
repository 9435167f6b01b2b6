"""Process groups on Linux: finding their members, signalling them, naming a process for good,
and the AWS-style wording of errors. Shared by the process executor and its supervisor."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from abatch.model.runspec import ExitResult

__all__ = [
    "CANNOT_START",
    "describe",
    "environ_names",
    "exit_result",
    "live_pids_in_group",
    "signal_group",
    "spawn_error",
    "start_ticks",
]

CANNOT_START = "CannotStartContainerError: "


def live_pids_in_group(pgid: int) -> list[int]:
    """Pids of the processes in group `pgid` that have not exited (zombies left out)."""
    found: list[int] = []
    try:
        entries = os.scandir("/proc")
    except OSError:
        return found
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue  # gone meanwhile
            # "pid (comm) state ppid pgrp ..."; comm may hold spaces and parentheses.
            fields = stat[stat.rfind(b")") + 2 :].split()
            if len(fields) < 3 or fields[0] in (b"Z", b"X"):
                continue
            if int(fields[2]) == pgid:
                found.append(int(entry.name))
    return found


def start_ticks(pid: int) -> int | None:
    """When process `pid` started, in clock ticks since boot (None: no such process). A pid
    plus this names one process for good, since pids are reused."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        stat = os.read(fd, 4096)  # one read: cheaper than a buffered file, once per attempt
    except OSError:
        return None
    finally:
        os.close(fd)
    fields = stat[stat.rfind(b")") + 2 :].split()
    # After "(comm)": state is field 3 of stat(5), starttime field 22.
    return int(fields[19]) if len(fields) > 19 else None


def environ_names(pid: int, job_id: str, attempt: str) -> bool:
    """Whether process `pid` runs attempt `attempt` of job `job_id`, judged by the
    AWS_BATCH_* variables of its environment (a check that survives pid reuse)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read()
    except OSError:
        return False
    # Each variable is NUL-terminated; the leading NUL (or the start) keeps a longer name out.
    env = b"\0" + env
    return (
        f"\0AWS_BATCH_JOB_ID={job_id}\0".encode() in env
        and f"\0AWS_BATCH_JOB_ATTEMPT={attempt}\0".encode() in env
    )


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def exit_result(status: int, stopped_at: int | None = None) -> ExitResult:
    """A wait status as an ExitResult: 128+N for death by signal N."""
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return ExitResult(exit_code=128 - code, signal=-code, stopped_at=stopped_at)
    return ExitResult(exit_code=code, stopped_at=stopped_at)


def describe(exc: OSError) -> str:
    """An OSError in Go's lower-case style: 'permission denied', 'no such file or directory'."""
    text = exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))
    return text[:1].lower() + text[1:]


def spawn_error(exc: OSError, executable: str, workdir: Path) -> str:
    """The AWS container reason for a failed spawn."""
    if exc.filename == str(workdir):
        return f'{CANNOT_START}chdir to cwd ("{workdir}") failed: {describe(exc)}'
    if isinstance(exc, FileNotFoundError):
        # runc's wording for a path that does not exist.
        return f'{CANNOT_START}exec: "{executable}": stat {executable}: no such file or directory'
    return f'{CANNOT_START}exec: "{executable}": {describe(exc)}'
