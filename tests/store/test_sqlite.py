"""The SQLite store on real files: migrations, write-behind batching, restart, refusals."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from abatch.model.enums import JobDefinitionStatus, JobStatus
from abatch.model.errors import StateDirError, StateDirLockedError
from abatch.model.job import Attempt, JobRecord
from abatch.store.lock import StateLock, holder_if_locked
from abatch.store.schema import SCHEMA_VERSION
from abatch.store.sqlite import DB_NAME, SqliteStore

from ..runtime.helpers import ce, jd, jq

S = JobStatus


def record(i: int, status: JobStatus = S.SUBMITTED) -> JobRecord:
    return JobRecord(
        job_id=f"job-{i}",
        job_name=f"n{i}",
        job_queue="q",
        job_definition="d:1",
        status=status,
        created_at=1000 + i,
        seq=i,
        vcpus=1.5,
        memory=64,
        gpus=0,
        spec={"container": {"command": ["echo", str(i)]}, "parameters": {"k": "v"}},
        history=[(status, 1000 + i)],
    )


async def test_schema_created_with_version_and_wal(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    await store.close()
    conn = sqlite3.connect(tmp_path / DB_NAME)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_jobs_and_attempts_survive_reopen(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    jobs = [record(i) for i in range(3)]
    store.insert_jobs(jobs)
    await store.flush()
    job = jobs[1]
    job.status = S.RUNNING
    job.history.append((S.RUNNING, 2000))
    job.started_at = 2000
    attempt = Attempt(
        number=1,
        ce="ce",
        task_id="t" * 32,
        log_stream="d/default/" + "t" * 32,
        created_at=1999,
        started_at=2000,
        pid=42,
    )
    job.attempts.append(attempt)
    store.mark_job(job)
    store.mark_attempt(job, attempt)
    await store.close()

    store = await SqliteStore.open(tmp_path, read_only=True)
    again = await store.get_job("job-1")
    assert again is not None
    assert again.status is S.RUNNING and again.started_at == 2000
    assert again.history == [(S.SUBMITTED, 1001), (S.RUNNING, 2000)]
    assert again.spec == job.spec and again.vcpus == 1.5
    assert again.attempts == [attempt]
    unfinished = await store.unfinished_jobs()
    assert [j.job_id for j in unfinished] == ["job-0", "job-1", "job-2"]
    assert await store.count_by_status() == {S.SUBMITTED: 2, S.RUNNING: 1}
    assert [j.job_id for j in await store.list_jobs(status=S.RUNNING)] == ["job-1"]
    assert [j.job_id for j in await store.list_jobs(name_prefix="n2")] == ["job-2"]
    assert await store.get_job("nope") is None
    await store.close()


async def test_many_changes_share_few_commits(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    jobs = [record(i) for i in range(1000)]
    store.insert_jobs(jobs)
    for j in jobs:
        j.status = S.RUNNABLE
        store.mark_job(j)
    await store.flush()
    assert store.commits == 1
    await store.close()


async def test_resources_round_trip(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path)
    await store.put_compute_environment(ce(), 1)
    await store.put_job_queue(jq("q", 5), 1)
    d = jd().model_copy(update={"revision": 1, "status": JobDefinitionStatus.ACTIVE})
    await store.put_job_definition(d, 1)
    await store.close()
    store = await SqliteStore.open(tmp_path)
    assert [c.compute_environment_name for c in await store.compute_environments()] == ["ce"]
    assert (await store.job_queues())[0].priority == 5
    assert await store.latest_revision("d") == 1
    assert (await store.job_definitions())[0].same_content(jd())
    await store.close()


async def test_newer_schema_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_NAME)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateDirError, match="newer than this abatch supports"):
        await SqliteStore.open(tmp_path)


async def test_not_a_database_refused(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateDirError, match="not a usable abatch database"):
        await SqliteStore.open(tmp_path)


async def test_state_dir_under_a_file_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateDirError, match="cannot create state directory"):
        await SqliteStore.open(tmp_path / "file" / "state")


async def test_read_only_without_state_refused(tmp_path: Path) -> None:
    with pytest.raises(StateDirError, match="no abatch state"):
        await SqliteStore.open(tmp_path / "empty", read_only=True)


def test_lock_names_the_holder_and_is_released(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()
    assert holder_if_locked(tmp_path) is not None
    with pytest.raises(StateDirLockedError) as err:
        StateLock(tmp_path).acquire()
    assert err.value.holder_pid is not None
    first.release()
    assert holder_if_locked(tmp_path) is None
    second = StateLock(tmp_path)
    second.acquire()
    second.release()
