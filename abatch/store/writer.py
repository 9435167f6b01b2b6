"""Write-behind for the SQLite store: jobs, attempts and instances marked dirty, committed in
batches by one writer task.

The runtime marks changes with no await and no I/O; the writer commits everything that
accumulated in one transaction, in one thread hop, as soon as the previous commit is done
(lingering `LINGER_SECONDS` so that many changes share it). Callers that need durability (a
submission must be on disk before it is acknowledged; an attempt before it starts) await
`flush()`. Measured on these machines a thread hop costs ~0.18 ms whatever it carries, so
batching is what makes 2,000 jobs/s with every state change persisted possible.

A commit that fails (a full disk, an I/O error) loses nothing that was acknowledged: the
callers waiting on it get a `StateDirError` naming the cause (a submission is then refused,
so acknowledged always means committed), changes to jobs already stored are kept and
committed again, with a growing delay, until a commit succeeds; `write_error` says why in
the meantime, and `on_recovered` callbacks run when writing works again.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from abatch.model.errors import StateDirError
from abatch.model.job import Attempt, JobRecord

from . import codec

T = TypeVar("T")
LINGER_SECONDS = 0.02
RETRY_FIRST_S = 0.25
RETRY_MAX_S = 5.0
INSTANCE_COLUMNS = "instance_id, ce, instance_type, launched_at, retired_at, retired_reason"


@dataclass(slots=True, frozen=True)
class InstanceRow:
    """A virtual instance as stored: launched, and retired (or reclaimed) once."""

    instance_id: str
    ce: str
    instance_type: str
    launched_at: int
    retired_at: int | None = None
    retired_reason: str | None = None


class WriteBehind:
    """Mixed into `SqliteStore`, whose `_run` (one call in the connection thread) it uses."""

    path: Path

    if TYPE_CHECKING:

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

    def _init_writer(self) -> None:
        self._inserts: list[JobRecord] = []
        self._dirty_jobs: dict[str, JobRecord] = {}
        self._dirty_attempts: dict[tuple[str, int], Attempt] = {}
        self._dirty_instances: dict[str, InstanceRow] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._flush_now = asyncio.Event()
        self._closed = False
        self._writer_running = False
        self._in_flight = False
        self.commits = 0
        self.write_error: str | None = None  # why the last commit failed; None once one works
        self.on_recovered: list[Callable[[], None]] = []

    def insert_jobs(self, jobs: Iterable[JobRecord]) -> None:
        self._inserts.extend(jobs)
        self._wake.set()

    def mark_job(self, job: JobRecord) -> None:
        self._dirty_jobs[job.job_id] = job
        self._wake.set()

    def mark_attempt(self, job: JobRecord, attempt: Attempt) -> None:
        self._dirty_attempts[(job.job_id, attempt.number)] = attempt
        self._wake.set()

    def mark_instance(self, row: InstanceRow) -> None:
        """An instance launched or retired (write-behind, with the next batch)."""
        self._dirty_instances[row.instance_id] = row
        self._wake.set()

    def pending(self) -> bool:
        return bool(
            self._inserts or self._dirty_jobs or self._dirty_attempts or self._dirty_instances
        )

    async def flush(self) -> None:
        """Return once everything marked before this call is committed; raise
        `StateDirError` when the commit that should carry it fails."""
        if not self.pending() and not self._waiters and not self._in_flight:
            return
        if not self._writer_running:
            await self.commit_pending()
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        self._wake.set()
        self._flush_now.set()
        await fut

    async def flush_for_read(self) -> None:
        """Flush before a read so that it sees every change made so far, but read anyway
        when the store cannot write (a full disk must not stop DescribeJobs or the logs):
        the read then sees the last committed state."""
        with contextlib.suppress(StateDirError):
            await self.flush()

    async def run_writer(self, linger: float = LINGER_SECONDS) -> None:
        """The writer task. State changes wait up to `linger` seconds so that many share one
        commit; a caller awaiting `flush()` is served at once. Each commit is a thread hop and
        the hop's GIL hand-offs slow down the event loop (measured: one commit per job halved
        the spawn rate), so fewer, larger commits are what keep the loop fast."""
        self._writer_running = True
        try:
            await self._write_loop(linger)
        finally:
            self._writer_running = False

    async def _write_loop(self, linger: float) -> None:
        delay = RETRY_FIRST_S
        while not self._closed:
            await self._wake.wait()
            self._wake.clear()
            if not self._waiters:
                self._flush_now.clear()
                with anyio.move_on_after(linger):
                    await self._flush_now.wait()
            self._wake.clear()
            try:
                await self.commit_pending()
            except StateDirError:
                # Kept changes are tried again after `delay`, or at once for a caller that
                # needs an answer (a submission is refused promptly, not after the delay).
                self._flush_now.clear()
                with anyio.move_on_after(delay):
                    await self._flush_now.wait()
                delay = min(delay * 2, RETRY_MAX_S)
                self._wake.set()
                continue
            delay = RETRY_FIRST_S

    async def commit_pending(self) -> None:
        """Commit what accumulated in one transaction. On failure: raise `StateDirError`
        (its waiters get it too), drop the inserts (their submissions are refused) and keep
        the other changes for the next commit."""
        inserts, self._inserts = self._inserts, []
        jobs, self._dirty_jobs = self._dirty_jobs, {}
        attempts, self._dirty_attempts = self._dirty_attempts, {}
        instances, self._dirty_instances = self._dirty_instances, {}
        waiters, self._waiters = self._waiters, []
        if inserts or jobs or attempts or instances:
            self._in_flight = True
            try:
                rows_ins = [codec.job_insert_row(j) for j in inserts]
                rows_upd = [codec.job_update_row(j) for j in jobs.values()]
                rows_att = [codec.attempt_row(k[0], a) for k, a in attempts.items()]
                rows_inst = [astuple(r) for r in instances.values()]
                await self._run(write_batch, rows_ins, rows_upd, rows_att, rows_inst)
            except (sqlite3.Error, OSError) as exc:
                self._keep(jobs, attempts, instances)
                error = StateDirError(write_failure(self.path, exc))
                self.write_error = str(error)
                for w in waiters:
                    if not w.done():
                        w.set_exception(error)
                raise error from None
            except BaseException:
                self._keep(jobs, attempts, instances)
                for w in waiters:
                    if not w.done():
                        w.cancel()
                raise
            finally:
                self._in_flight = False
            self.commits += 1
            if self.write_error is not None:
                self.write_error = None
                for callback in self.on_recovered:
                    callback()
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _keep(
        self,
        jobs: dict[str, JobRecord],
        attempts: dict[tuple[str, int], Attempt],
        instances: dict[str, InstanceRow],
    ) -> None:
        """Put back the changes of a failed commit; changes marked since are newer and win."""
        self._dirty_jobs = {**jobs, **self._dirty_jobs}
        self._dirty_attempts = {**attempts, **self._dirty_attempts}
        self._dirty_instances = {**instances, **self._dirty_instances}


# ---------------------------------------------------------------------- run in the db thread


def write_failure(path: Path, exc: BaseException) -> str:
    """One line for a failed write: what failed and why, with the fix for a full disk."""
    text = str(exc) or type(exc).__name__
    full = isinstance(exc, sqlite3.OperationalError) and "full" in text
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        full = True
    if full:
        return (
            f"cannot write {path}: the disk holding the state directory is full ({text}); "
            "nothing was lost that had been acknowledged; free some space and the runtime "
            "carries on"
        )
    return f"cannot write {path}: {text}"


def write_batch(
    conn: sqlite3.Connection,
    inserts: list[tuple[Any, ...]],
    updates: list[tuple[Any, ...]],
    attempts: list[tuple[Any, ...]],
    instances: list[tuple[Any, ...]],
) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        if inserts:
            marks = ",".join("?" * len(inserts[0]))
            conn.executemany(f"INSERT INTO jobs ({codec.JOB_COLUMNS}) VALUES ({marks})", inserts)
        if updates:
            conn.executemany(codec.JOB_UPDATE_SQL, updates)
        if attempts:
            marks = ",".join("?" * len(attempts[0]))
            conn.executemany(
                f"INSERT OR REPLACE INTO attempts ({codec.ATTEMPT_COLUMNS}) VALUES ({marks})",
                attempts,
            )
        if instances:
            conn.executemany(
                f"INSERT OR REPLACE INTO instances ({INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                instances,
            )
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise


def rollback(conn: sqlite3.Connection) -> None:
    """Undo a failed transaction. SQLite may have rolled it back already (a full disk does
    that), and a ROLLBACK must never hide the error that caused it."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
