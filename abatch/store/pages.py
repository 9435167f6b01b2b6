"""SQL for the terminal UI's jobs table: offset pages and counts of a filtered job list.

The table shows a window of ~200 rows around its viewport, so it asks for one page at a
time, never for the whole list. The default order is insertion order (`rowid`), which is
creation order: free to walk in either direction, with no sort, at any depth. The queue test
is written `+job_queue` so SQLite walks the rowid order and stops after the page rather than
reading a whole queue from an index and sorting it.

Any other order (name, status, started, duration) has no index to walk, so it is not paged by
offset (each page would sort the whole list again): `job_order` sorts the list's rowids once,
narrow (rowid and key only), and `jobs_at` reads the rows of a slice of them. The caller keeps
the order and re-sorts when it recounts, so scrolling a sorted list costs what scrolling the
default one does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from abatch.model.job import JobRecord

from . import codec
from .extra import TOP_LEVEL

if TYPE_CHECKING:
    import sqlite3

    from .sqlite import SqliteStore


@dataclass(frozen=True, slots=True)
class PageFilter:
    """Which jobs a table lists. `parent` lists an array job's children (by index);
    otherwise top-level jobs only (array children are reached through their parent)."""

    queue: str | None = None
    status: str | None = None
    name_prefix: str | None = None
    parent: str | None = None
    sort: str = "created"  # one of SORTS
    descending: bool = True

    @property
    def by_position(self) -> bool:
        """Paged by offset in creation (or array index) order, without `job_order`."""
        return self.sort == "created"


SORTS = ("created", "name", "status", "started", "duration")
_STATUS_RANK = (
    "CASE status WHEN 'SUBMITTED' THEN 0 WHEN 'PENDING' THEN 1 WHEN 'RUNNABLE' THEN 2 "
    "WHEN 'STARTING' THEN 3 WHEN 'RUNNING' THEN 4 WHEN 'SUCCEEDED' THEN 5 ELSE 6 END"
)


def _where(f: PageFilter) -> tuple[str, list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if f.parent is not None:
        where.append("job_id > ? AND job_id < ?")
        args += [f.parent + ":", f.parent + ";"]
    else:
        where.append(TOP_LEVEL)
    if f.queue is not None:
        where.append("+job_queue=?")
        args.append(f.queue)
    if f.status is not None:
        where.append("+status=?")
        args.append(f.status)
    if f.name_prefix:
        esc = f.name_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("job_name LIKE ? ESCAPE '\\'")
        args.append(esc + "%")
    return " AND ".join(where), args


async def job_page(store: SqliteStore, f: PageFilter, offset: int, limit: int) -> list[JobRecord]:
    where, args = _where(f)
    if f.parent is not None:
        index = f"CAST(substr(job_id, {len(f.parent) + 2}) AS INTEGER)"
        order = f"{index} DESC" if f.descending else index
    else:
        order = "rowid DESC" if f.descending else "rowid"
    sql = f"SELECT {codec.JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
    rows = await store._run(_fetch, sql, (*args, limit, max(0, offset)))
    jobs = [codec.job_from_row(r) for r in rows]
    await store._attach_attempts(jobs)
    return jobs


def _sort_key(sort: str, now_ms: int) -> str:
    if sort == "name":
        return "job_name"
    if sort == "status":
        return _STATUS_RANK
    if sort == "started":
        return "started_at"
    if sort == "duration":
        return f"coalesce(stopped_at, {int(now_ms)}) - started_at"
    raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {sort!r}")


async def job_order(store: SqliteStore, f: PageFilter, now_ms: int) -> list[int]:
    """The rowids of the list `f` in its order (`f.sort`, ties in creation order); a running
    job's duration counts up to `now_ms`. Jobs not started sort last either way."""
    where, args = _where(f)
    key = _sort_key(f.sort, now_ms)
    way = "DESC" if f.descending else "ASC"
    # NULL keys (not started) last in both directions.
    sql = f"SELECT rowid FROM jobs WHERE {where} ORDER BY ({key}) IS NULL, {key} {way}, rowid {way}"
    rows = await store._run(_fetch, sql, args)
    return [int(r[0]) for r in rows]


async def jobs_at(store: SqliteStore, rowids: list[int]) -> list[JobRecord]:
    """The jobs with these rowids, in that order (a gone one is left out)."""
    if not rowids:
        return []
    marks = ",".join("?" * len(rowids))
    sql = f"SELECT rowid, {codec.JOB_COLUMNS} FROM jobs WHERE rowid IN ({marks})"
    rows = await store._run(_fetch, sql, rowids)
    by_id = {int(r[0]): codec.job_from_row(r[1:]) for r in rows}
    jobs = [by_id[i] for i in rowids if i in by_id]
    await store._attach_attempts(jobs)
    return jobs


async def job_count(store: SqliteStore, f: PageFilter) -> int:
    where, args = _where(f)
    rows = await store._run(_fetch, f"SELECT count(*) FROM jobs WHERE {where}", args)
    return int(rows[0][0])


async def dependents(store: SqliteStore, job_id: str, limit: int = 50) -> list[tuple[str, str]]:
    """(job id, name) of jobs whose effective dependencies (`_waitFor`) include `job_id`: a
    scan with a cheap text test first, for a detail view (once per open, not per frame)."""
    sql = (
        "SELECT job_id, job_name FROM jobs WHERE instr(spec, ?) > 0 AND EXISTS "
        "(SELECT 1 FROM json_each(spec, '$._waitFor') WHERE value = ?) LIMIT ?"
    )
    rows = await store._run(_fetch, sql, (f'"{job_id}"', job_id, limit))
    return [(str(a), str(b)) for a, b in rows]


def _fetch(conn: sqlite3.Connection, sql: str, args: Any) -> list[tuple[Any, ...]]:
    return conn.execute(sql, args).fetchall()
