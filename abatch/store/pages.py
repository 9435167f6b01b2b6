"""SQL for the terminal UI's jobs table: offset pages and counts of a filtered job list.

The table shows a window of ~200 rows around its viewport, so it asks for one page at a
time, never for the whole list. Order is insertion order (`rowid`), which is creation order:
free to walk in either direction, with no sort, at any depth. The queue test is written
`+job_queue` so SQLite walks the rowid order and stops after the page rather than reading a
whole queue from an index and sorting it.
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
    newest_first: bool = True


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
        order = f"{index} DESC" if f.newest_first else index
    else:
        order = "rowid DESC" if f.newest_first else "rowid"
    sql = f"SELECT {codec.JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order} LIMIT ? OFFSET ?"
    rows = await store._run(_fetch, sql, (*args, limit, max(0, offset)))
    jobs = [codec.job_from_row(r) for r in rows]
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
