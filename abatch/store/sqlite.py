"""The SQLite store: the only module that speaks SQL.

One connection, one writer. Changes are write-behind (`writer.WriteBehind`): the runtime
marks jobs and attempts dirty and a writer task commits them in batches; callers that need
durability await `flush()`.

WAL journal, synchronous=NORMAL: a commit survives a crash of the process (the case we
guard against, kill -9); an OS crash may lose the last commits but never corrupts the file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from abatch.model.enums import JobDefinitionStatus, JobStatus
from abatch.model.errors import StateDirError
from abatch.model.job import JobRecord
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

from . import codec
from .extra import ApiStoreMixin
from .schema import MIGRATIONS, SCHEMA_VERSION
from .writer import INSTANCE_COLUMNS, InstanceRow, WriteBehind, rollback, write_failure

__all__ = ["DB_NAME", "InstanceRow", "SqliteStore"]

T = TypeVar("T")
DB_NAME = "abatch.db"
# aiosqlite logs every call it runs at DEBUG, arguments included: the job records this store
# writes hold environment values, which may be secrets. Its records stop at INFO, so turning
# on debug logging (of the root logger, say) never writes them out.
logging.getLogger("aiosqlite").setLevel(logging.INFO)
UNFINISHED = tuple(s.value for s in JobStatus if not s.is_terminal)


def _private_files(path: Path) -> None:
    """The database and its WAL and shared-memory files readable by their owner only,
    whatever the umask: the file is made 0600 before SQLite opens it (SQLite gives the -wal
    and -shm files the database file's mode), and one an older abatch left looser is
    tightened. Job records hold environment values, which may be secrets."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise StateDirError(f"cannot create {path}: {exc.strerror}") from None
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):  # absent, or not ours: SQLite will say
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)


class SqliteStore(ApiStoreMixin, WriteBehind):
    def __init__(self, conn: aiosqlite.Connection, path: Path, read_only: bool) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self._init_writer()

    # ------------------------------------------------------------------ opening

    @classmethod
    async def open(cls, state_dir: Path, *, read_only: bool = False) -> SqliteStore:
        path = state_dir / DB_NAME
        if read_only:
            if not path.exists():
                raise StateDirError(f"no abatch state in {state_dir} (no {DB_NAME})")
            uri = f"file:{path}?mode=ro"
        else:
            try:
                state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            except OSError as exc:
                raise StateDirError(
                    f"cannot create state directory {state_dir}: {exc.strerror}"
                ) from None
            if not os.access(state_dir, os.W_OK | os.X_OK):
                raise StateDirError(f"state directory {state_dir} is not writable")
            _private_files(path)
            uri = f"file:{path}"
        try:
            conn = await aiosqlite.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise StateDirError(f"cannot open {path}: {exc}") from None
        store = cls(conn, path, read_only)
        try:
            await store._prepare()
        except BaseException:
            await conn.close()
            raise
        return store

    async def _prepare(self) -> None:
        try:
            await self._run(_prepare_db, self.read_only)
        except sqlite3.DatabaseError as exc:
            raise StateDirError(f"{self.path} is not a usable abatch database: {exc}") from None

    async def close(self) -> None:
        """Commit what is pending and close. The connection is closed even when that last
        commit fails (a full disk): its `StateDirError` is raised after, and what it could
        not write is what the next runtime recovers, as after a crash."""
        if self._closed:
            return
        try:
            if not self.read_only:
                await self.flush()
        finally:
            self._closed = True
            self._wake.set()
            self._flush_now.set()
            await self._conn.close()

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        # aiosqlite runs each call in its connection thread; passing a whole function makes a
        # transaction one hop instead of one per statement.
        result: T = await self._conn._execute(fn, self._conn._conn, *args)  # type: ignore[no-untyped-call]
        return result

    async def _write(self, fn: Callable[..., T], *args: Any) -> T:
        """A direct write (resources, schedules): a failure is a `StateDirError` that says
        why, never a bare sqlite3 error."""
        try:
            return await self._run(fn, *args)
        except (sqlite3.Error, OSError) as exc:
            raise StateDirError(write_failure(self.path, exc)) from None

    # ------------------------------------------------------------------ resources

    async def put_compute_environment(self, ce: ComputeEnvironment, now: int) -> None:
        doc = ce.model_dump_json()
        await self._write(_upsert, "compute_environments", ce.compute_environment_name, doc, now)

    async def delete_compute_environment(self, name: str) -> None:
        await self._write(_exec, "DELETE FROM compute_environments WHERE name=?", (name,))

    async def compute_environments(self) -> list[ComputeEnvironment]:
        rows = await self._run(_fetch, "SELECT doc FROM compute_environments ORDER BY name", ())
        return [ComputeEnvironment.model_validate_json(r[0]) for r in rows]

    async def put_job_queue(self, jq: JobQueue, now: int) -> None:
        await self._write(_upsert, "job_queues", jq.job_queue_name, jq.model_dump_json(), now)

    async def delete_job_queue(self, name: str) -> None:
        await self._write(_exec, "DELETE FROM job_queues WHERE name=?", (name,))

    async def job_queues(self) -> list[JobQueue]:
        rows = await self._run(_fetch, "SELECT doc FROM job_queues ORDER BY name", ())
        return [JobQueue.model_validate_json(r[0]) for r in rows]

    async def put_job_definition(self, jd: JobDefinition, now: int) -> None:
        assert jd.revision is not None and jd.status is not None
        await self._write(
            _exec,
            "INSERT OR REPLACE INTO job_definitions (name, revision, status, doc, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (jd.job_definition_name, jd.revision, jd.status.value, jd.model_dump_json(), now),
        )

    async def job_definitions(self, name: str | None = None) -> list[JobDefinition]:
        sql = "SELECT doc FROM job_definitions"
        args: tuple[Any, ...] = ()
        if name is not None:
            sql += " WHERE name=?"
            args = (name,)
        rows = await self._run(_fetch, sql + " ORDER BY name, revision", args)
        return [JobDefinition.model_validate_json(r[0]) for r in rows]

    async def latest_revision(self, name: str) -> int:
        rows = await self._run(
            _fetch, "SELECT max(revision) FROM job_definitions WHERE name=?", (name,)
        )
        return int(rows[0][0] or 0)

    async def set_job_definition_status(
        self, name: str, revision: int, status: JobDefinitionStatus
    ) -> None:
        jds = [j for j in await self.job_definitions(name) if j.revision == revision]
        if jds:
            jd = jds[0].model_copy(update={"status": status})
            await self.put_job_definition(jd, 0)

    async def live_instances(self) -> list[InstanceRow]:
        """Instances not retired, oldest first."""
        rows = await self._run(
            _fetch,
            f"SELECT {INSTANCE_COLUMNS} FROM instances WHERE retired_at IS NULL "
            "ORDER BY launched_at, instance_id",
            (),
        )
        return [InstanceRow(*r) for r in rows]

    # ------------------------------------------------------------------ schedules

    async def schedule_last_fired(self) -> dict[str, int | None]:
        rows = await self._run(_fetch, "SELECT name, last_fired_at FROM schedules", ())
        return {name: at for name, at in rows}

    async def record_schedule_fired(self, name: str, at: int) -> None:
        await self._write(
            _exec,
            "INSERT INTO schedules (name, last_fired_at, fired_count) VALUES (?, ?, 1) "
            "ON CONFLICT(name) DO UPDATE SET last_fired_at=excluded.last_fired_at, "
            "fired_count=fired_count+1",
            (name, at),
        )

    # ------------------------------------------------------------------ jobs

    async def unfinished_jobs(self) -> list[JobRecord]:
        """Every job not yet SUCCEEDED or FAILED, with its attempts, in queue order."""
        marks = ",".join("?" * len(UNFINISHED))
        rows = await self._run(
            _fetch,
            f"SELECT {codec.JOB_COLUMNS} FROM jobs WHERE status IN ({marks}) ORDER BY seq",
            UNFINISHED,
        )
        jobs = [codec.job_from_row(r) for r in rows]
        await self._attach_attempts(jobs, unfinished_only=True)
        return jobs

    async def get_jobs(self, job_ids: list[str]) -> list[JobRecord]:
        found: list[JobRecord] = []
        for i in range(0, len(job_ids), 500):
            chunk = job_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._run(
                _fetch, f"SELECT {codec.JOB_COLUMNS} FROM jobs WHERE job_id IN ({marks})", chunk
            )
            found.extend(codec.job_from_row(r) for r in rows)
        await self._attach_attempts(found)
        order = {j: i for i, j in enumerate(job_ids)}
        found.sort(key=lambda j: order.get(j.job_id, 0))
        return found

    async def get_job(self, job_id: str) -> JobRecord | None:
        jobs = await self.get_jobs([job_id])
        return jobs[0] if jobs else None

    async def list_jobs(
        self,
        *,
        queue: str | None = None,
        status: JobStatus | None = None,
        name_prefix: str | None = None,
        limit: int = 1000,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[JobRecord]:
        where, args = [], []
        if queue is not None:
            where.append("job_queue=?")
            args.append(queue)
        if status is not None:
            where.append("status=?")
            args.append(status.value)
        if name_prefix is not None:
            where.append("job_name LIKE ? ESCAPE '\\'")
            esc = name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(esc + "%")
        sql = f"SELECT {codec.JOB_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += (
            " ORDER BY created_at DESC, seq DESC" if newest_first else " ORDER BY created_at, seq"
        )
        sql += " LIMIT ? OFFSET ?"
        rows = await self._run(_fetch, sql, (*args, limit, offset))
        return [codec.job_from_row(r) for r in rows]

    async def count_by_status(self, queue: str | None = None) -> dict[JobStatus, int]:
        """Counts per status. A full scan: for reports and CLI, never per tick."""
        sql = "SELECT status, count(*) FROM jobs"
        args: tuple[Any, ...] = ()
        if queue is not None:
            sql += " WHERE job_queue=?"
            args = (queue,)
        rows = await self._run(_fetch, sql + " GROUP BY status", args)
        return {JobStatus(s): n for s, n in rows}

    async def queue_position(self, job: JobRecord) -> tuple[int, str, str] | None:
        """For a RUNNABLE job: (1-based position among its queue's RUNNABLE jobs, head job id,
        head job name), from the queue-order index. None when the job is not RUNNABLE."""
        if job.status is not JobStatus.RUNNABLE:
            return None
        rows = await self._run(
            _fetch,
            "SELECT count(*) FROM jobs WHERE job_queue=? AND status='RUNNABLE' AND seq<?",
            (job.job_queue, job.seq),
        )
        head = await self._run(
            _fetch,
            "SELECT job_id, job_name FROM jobs WHERE job_queue=? AND status='RUNNABLE' "
            "ORDER BY seq LIMIT 1",
            (job.job_queue,),
        )
        if not head:
            return None
        return int(rows[0][0]) + 1, head[0][0], head[0][1]

    async def child_status_counts(self, parent_id: str) -> dict[JobStatus, int]:
        """Counts per status of an array job's children (`parent:0` … `parent:N-1`): a range
        scan on the primary key (':' sorts just before ';')."""
        rows = await self._run(
            _fetch,
            "SELECT status, count(*) FROM jobs WHERE job_id > ? AND job_id < ? GROUP BY status",
            (parent_id + ":", parent_id + ";"),
        )
        return {JobStatus(s): n for s, n in rows}

    async def _attach_attempts(self, jobs: list[JobRecord], unfinished_only: bool = False) -> None:
        if not jobs:
            return
        by_id = {j.job_id: j for j in jobs}
        if unfinished_only:
            sql = (
                f"SELECT {codec.ATTEMPT_COLUMNS} FROM attempts WHERE job_id IN "
                f"(SELECT job_id FROM jobs WHERE status IN ({','.join('?' * len(UNFINISHED))}))"
                " ORDER BY job_id, number"
            )
            rows = await self._run(_fetch, sql, UNFINISHED)
        else:
            rows = []
            ids = list(by_id)
            for i in range(0, len(ids), 500):
                chunk = ids[i : i + 500]
                rows += await self._run(
                    _fetch,
                    f"SELECT {codec.ATTEMPT_COLUMNS} FROM attempts WHERE job_id IN "
                    f"({','.join('?' * len(chunk))}) ORDER BY job_id, number",
                    chunk,
                )
        for row in rows:
            job_id, attempt = codec.attempt_from_row(row)
            job = by_id.get(job_id)
            if job is not None:
                job.attempts.append(attempt)


# ---------------------------------------------------------------------- run in the db thread


def _prepare_db(conn: sqlite3.Connection, read_only: bool) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateDirError(
            f"the database has schema version {version}, newer than this abatch supports "
            f"({SCHEMA_VERSION}); upgrade abatch to use this state directory"
        )
    if read_only:
        if version < SCHEMA_VERSION:
            raise StateDirError(
                f"the database has schema version {version}; start the runtime once to upgrade it"
            )
        return
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=5000")
    for number in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version={number}")
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise


def _upsert(conn: sqlite3.Connection, table: str, name: str, doc: str, now: int) -> None:
    conn.execute(
        f"INSERT INTO {table} (name, doc, created_at, updated_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(name) DO UPDATE SET doc=excluded.doc, updated_at=excluded.updated_at",
        (name, doc, now, now),
    )


def _exec(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> None:
    conn.execute(sql, args)


def _fetch(conn: sqlite3.Connection, sql: str, args: Any) -> list[tuple[Any, ...]]:
    return conn.execute(sql, args).fetchall()
