"""SQL for the API's reads and the resources only the API creates: scheduling policies, job
tags, ListJobs pages, log streams. A mixin of `SqliteStore`, kept apart so both stay short.

ListJobs pages are keyset pages: newest first by `(created_at, job_id)`, the key of the last
row handed back being the caller's token, so a page costs the same at job 1 and job 100,000
and jobs created meanwhile never shift a page. Top-level jobs (not array children `p:i`, not
multi-node nodes `p#i`) have a partial index whose WHERE clause the queries repeat verbatim,
as SQLite requires to use it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from abatch.model.job import JobRecord
from abatch.model.policy import SchedulingPolicy

from . import codec

if TYPE_CHECKING:
    import sqlite3

T = TypeVar("T")

# Must match the partial indexes of migration 3 word for word.
TOP_LEVEL = "instr(job_id, ':') = 0 AND instr(job_id, '#') = 0"
STREAM_COLUMNS = "job_id, number, log_stream, created_at, started_at, stopped_at"
_MAX_CHAR = chr(0x10FFFF)  # sorts after every character: the end of a prefix range


@dataclass(slots=True)
class JobQuery:
    """One ListJobs page. Exactly one of `queue` (top-level jobs of a queue) or `parent`
    (children of an array job, `sep` ':', or nodes of a multi-node job, `sep` '#')."""

    queue: str | None = None
    parent: str | None = None
    sep: str = ":"
    status: str | None = None
    name: str | None = None  # case-insensitive, exact
    name_prefix: str | None = None  # case-insensitive
    definition_name: str | None = None  # every revision
    definition_prefix: str | None = None  # case-sensitive prefix of "name:revision"
    definition: str | None = None  # "name:revision"
    created_before: int | None = None
    created_after: int | None = None
    share_identifier: str | None = None
    after: tuple[int, int] | None = None  # queue listing: (created_at, rowid) of the last row
    after_index: int | None = None  # children: index of the last row
    limit: int = 1000


@dataclass(slots=True, frozen=True)
class StreamRow:
    """An attempt seen as a CloudWatch log stream."""

    job_id: str
    attempt: int
    name: str
    created_at: int
    started_at: int | None
    stopped_at: int | None


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]" else c for c in text)


class ApiStoreMixin:
    """Queries behind the HTTP API. Mixed into `SqliteStore`, whose `_run` it uses."""

    if TYPE_CHECKING:

        async def _run(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _write(self, fn: Callable[..., T], *args: Any) -> T: ...

        async def _attach_attempts(
            self, jobs: list[JobRecord], unfinished_only: bool = False
        ) -> None: ...

    # ------------------------------------------------------------------ policies

    async def put_scheduling_policy(self, policy: SchedulingPolicy, now: int) -> None:
        await self._write(
            _exec,
            "INSERT INTO scheduling_policies (name, doc, created_at, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET doc=excluded.doc, "
            "updated_at=excluded.updated_at",
            (policy.name, policy.model_dump_json(), now, now),
        )

    async def delete_scheduling_policy(self, name: str) -> None:
        await self._write(_exec, "DELETE FROM scheduling_policies WHERE name=?", (name,))

    async def scheduling_policies(self) -> list[SchedulingPolicy]:
        rows = await self._run(_fetch, "SELECT doc FROM scheduling_policies ORDER BY name", ())
        return [SchedulingPolicy.model_validate_json(r[0]) for r in rows]

    async def attempts_ended_since(
        self, queues: list[str], since: int
    ) -> list[tuple[str, str, float, int, int]]:
        """(queue, shareIdentifier, vcpus, startedAt, stoppedAt) of every attempt of a job
        of `queues` that ran and ended at or after `since` (multi-node jobs once, not per
        node): what fair share's usage is rebuilt from."""
        if not queues:
            return []
        marks = ",".join("?" * len(queues))
        rows = await self._run(
            _fetch,
            "SELECT j.job_queue, json_extract(j.spec, '$.shareIdentifier'), j.vcpus, "
            "a.started_at, a.stopped_at FROM attempts a JOIN jobs j ON j.job_id = a.job_id "
            "WHERE a.stopped_at >= ? AND a.started_at IS NOT NULL "
            f"AND instr(a.job_id, '#') = 0 AND j.job_queue IN ({marks})",
            (since, *queues),
        )
        return [(q, str(s or ""), float(v), int(a), int(b)) for q, s, v, a, b in rows]

    # ------------------------------------------------------------------ job tags

    async def job_tags(self, job_ids: list[str]) -> dict[str, dict[str, str]]:
        """Tags changed through TagResource/UntagResource, by job id (absent: never changed)."""
        out: dict[str, dict[str, str]] = {}
        for i in range(0, len(job_ids), 500):
            chunk = job_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            rows = await self._run(
                _fetch, f"SELECT job_id, tags FROM job_tags WHERE job_id IN ({marks})", chunk
            )
            out.update({job_id: json.loads(tags) for job_id, tags in rows})
        return out

    async def set_job_tags(self, job_id: str, tags: dict[str, str]) -> None:
        await self._write(
            _exec,
            "INSERT INTO job_tags (job_id, tags) VALUES (?, ?) "
            "ON CONFLICT(job_id) DO UPDATE SET tags=excluded.tags",
            (job_id, codec.dumps(tags)),
        )

    # ------------------------------------------------------------------ ListJobs

    async def list_jobs_page(self, q: JobQuery) -> list[tuple[int, JobRecord]]:
        """Up to `q.limit` jobs with their attempts, each with its rowid: a queue's newest
        first (ties of createdAt in reverse creation order), or an array's children (a
        multi-node job's nodes) by index."""
        where: list[str] = []
        args: list[Any] = []
        if q.parent is not None:
            # Children are a primary-key range: ':' sorts just before ';', '#' before '$'.
            where.append("job_id > ? AND job_id < ?")
            args += [q.parent + q.sep, q.parent + chr(ord(q.sep) + 1)]
            index = "CAST(substr(job_id, ?) AS INTEGER)"
            start = len(q.parent) + 2
            if q.after_index is not None:
                where.append(f"{index} > ?")
                args += [start, q.after_index]
            order, order_args = f" ORDER BY {index}", [start]
        else:
            where.append(f"job_queue=? AND {TOP_LEVEL}")
            args.append(q.queue)
            if q.after is not None:
                where.append("(created_at, rowid) < (?, ?)")  # a range on the index
                args += [q.after[0], q.after[1]]
            order, order_args = " ORDER BY created_at DESC, rowid DESC", []
        self._filters(q, where, args, by_key=q.parent is not None)
        sql = (
            f"SELECT rowid, {codec.JOB_COLUMNS} FROM jobs WHERE {' AND '.join(where)}"
            f"{order} LIMIT ?"
        )
        rows = await self._run(_fetch, sql, (*args, *order_args, q.limit))
        jobs = [codec.job_from_row(r[1:]) for r in rows]
        await self._attach_attempts(jobs)
        return [(int(r[0]), job) for r, job in zip(rows, jobs, strict=True)]

    @staticmethod
    def _filters(q: JobQuery, where: list[str], args: list[Any], by_key: bool) -> None:
        if q.status is not None:
            # Children: `+status` keeps SQLite on the primary-key range, not the status index.
            where.append("+status=?" if by_key else "status=?")
            args.append(q.status)
        if q.name is not None:
            where.append("job_name = ? COLLATE NOCASE")
            args.append(q.name)
        if q.name_prefix is not None:
            where.append("job_name LIKE ? ESCAPE '\\'")
            args.append(_like_escape(q.name_prefix) + "%")
        if q.definition_name is not None:
            where.append("substr(job_definition, 1, instr(job_definition, ':') - 1) = ?")
            args.append(q.definition_name)
        if q.definition_prefix is not None:
            where.append("job_definition GLOB ?")
            args.append(_glob_escape(q.definition_prefix) + "*")
        if q.definition is not None:
            where.append("job_definition = ?")
            args.append(q.definition)
        if q.created_before is not None:
            where.append("created_at < ?")
            args.append(q.created_before)
        if q.created_after is not None:
            where.append("created_at > ?")
            args.append(q.created_after)
        if q.share_identifier is not None:
            where.append("json_extract(spec, '$.shareIdentifier') = ?")
            args.append(q.share_identifier)

    # ------------------------------------------------------------------ log streams

    async def stream(self, name: str) -> StreamRow | None:
        rows = await self._run(
            _fetch, f"SELECT {STREAM_COLUMNS} FROM attempts WHERE log_stream=?", (name,)
        )
        return StreamRow(*rows[0]) if rows else None

    async def streams(
        self,
        *,
        prefix: str | None = None,
        names: list[str] | None = None,
        by_time: bool = False,
        descending: bool = False,
        after: tuple[int, str] | None = None,
        inclusive: bool = False,
        started_from: int | None = None,
        started_to: int | None = None,
        limit: int = 50,
    ) -> list[StreamRow]:
        """Attempts that reached RUNNING (a stream exists from then on), by name, or by start
        time then name; `after` is the (started_at, name) key of the last row handed back
        (`inclusive`: that row again too)."""
        where = ["started_at IS NOT NULL"]
        args: list[Any] = []
        if prefix:
            where.append("log_stream >= ? AND log_stream < ?")
            args += [prefix, prefix + _MAX_CHAR]
        if names is not None:
            if not names:
                return []
            where.append(f"log_stream IN ({','.join('?' * len(names))})")
            args += names
        if started_from is not None:
            where.append("started_at >= ?")
            args.append(started_from)
        if started_to is not None:
            where.append("started_at <= ?")
            args.append(started_to)
        cmp = ("<" if descending else ">") + ("=" if inclusive else "")
        way = " DESC" if descending else ""
        if by_time:
            if after is not None:
                where.append(f"(started_at, log_stream) {cmp} (?, ?)")  # an index range
                args += [after[0], after[1]]
            order = f"started_at{way}, log_stream{way}"
        else:
            if after is not None:
                where.append(f"log_stream {cmp} ?")
                args.append(after[1])
            order = f"log_stream{way}"
        sql = (
            f"SELECT {STREAM_COLUMNS} FROM attempts WHERE {' AND '.join(where)} "
            f"ORDER BY {order} LIMIT ?"
        )
        rows = await self._run(_fetch, sql, (*args, limit))
        return [StreamRow(*r) for r in rows]


def _exec(conn: sqlite3.Connection, sql: str, args: tuple[Any, ...]) -> None:
    conn.execute(sql, args)


def _fetch(conn: sqlite3.Connection, sql: str, args: Any) -> list[tuple[Any, ...]]:
    return conn.execute(sql, args).fetchall()
