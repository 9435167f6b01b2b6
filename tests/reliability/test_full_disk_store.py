"""A full disk under the store: the failed commit says why, nothing acknowledged is lost, the
kept changes are committed once there is room again, and the file stays sound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import pytest

from abatch.model.enums import JobStatus
from abatch.model.errors import StateDirError
from abatch.model.job import JobRecord
from abatch.store.sqlite import DB_NAME, SqliteStore

from .tmpfs import fill, mounted_tmpfs

S = JobStatus


def record(i: int) -> JobRecord:
    return JobRecord(
        job_id=f"job-{i:06d}",
        job_name=f"n{i}",
        job_queue="q",
        job_definition="d:1",
        status=S.SUBMITTED,
        created_at=1000 + i,
        seq=i,
        vcpus=1,
        memory=64,
        gpus=0,
        spec={"container": {"command": ["echo", "x" * 200, str(i)]}},
        history=[(S.SUBMITTED, 1000 + i)],
    )


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


async def test_full_disk_refuses_new_jobs_keeps_changes_and_recovers(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "fs", "4m") as fs:
        state = fs / "state"
        store = await SqliteStore.open(state)
        recovered = anyio.Event()
        store.on_recovered.append(recovered.set)
        async with anyio.create_task_group() as tg:
            tg.start_soon(store.run_writer)
            acked = [record(i) for i in range(200)]
            store.insert_jobs(acked)
            await store.flush()
            filler = fill(fs)

            refused = [record(i) for i in range(1000, 4000)]
            store.insert_jobs(refused)
            with pytest.raises(StateDirError) as caught:
                await store.flush()
            message = str(caught.value)
            assert "disk holding the state directory is full" in message
            assert str(state / DB_NAME) in message
            assert store.write_error == message

            # Changes to stored jobs made while the disk is full are kept, not dropped.
            for job in acked:
                job.status = S.RUNNABLE
                job.status_reason = "r" * 2000  # more than the WAL has room for
                job.history.append((S.RUNNABLE, 5000))
                store.mark_job(job)
            with pytest.raises(StateDirError):
                await store.flush()
            # A read still works (it sees the last committed state).
            await store.flush_for_read()
            assert len(await store.get_jobs([j.job_id for j in acked])) == 200

            filler.unlink()
            with anyio.fail_after(30):
                await recovered.wait()  # the writer tried again by itself
            assert store.write_error is None
            await store.flush()
            tg.cancel_scope.cancel()
        await store.close()

        assert integrity(state / DB_NAME) == "ok"
        reader = await SqliteStore.open(state, read_only=True)
        try:
            stored = await reader.get_jobs([j.job_id for j in acked + refused])
        finally:
            await reader.close()
        assert sorted(j.job_id for j in stored) == sorted(j.job_id for j in acked)
        assert all(j.status is S.RUNNABLE and j.history[-1] == (S.RUNNABLE, 5000) for j in stored)


async def test_resource_write_on_a_full_disk_is_a_clear_error(tmp_path: Path) -> None:
    from ..runtime.helpers import ce

    with mounted_tmpfs(tmp_path / "fs", "4m") as fs:
        store = await SqliteStore.open(fs / "state")
        try:
            filler = fill(fs)
            big = ce(tags={f"k{i}": "v" * 250 for i in range(50)})
            with pytest.raises(StateDirError, match="full"):
                for i in range(400):  # past whatever room the WAL file already has
                    await store.put_compute_environment(
                        big.model_copy(update={"compute_environment_name": f"ce{i}"}), i
                    )
            filler.unlink()
            await store.put_compute_environment(big, 1)
        finally:
            await store.close()
        assert integrity(fs / "state" / DB_NAME) == "ok"


async def test_closing_on_a_full_disk_says_so_and_still_closes(tmp_path: Path) -> None:
    with mounted_tmpfs(tmp_path / "fs", "4m") as fs:
        state = fs / "state"
        store = await SqliteStore.open(state)
        acked = [record(i) for i in range(50)]
        store.insert_jobs(acked)
        await store.flush()
        filler = fill(fs)
        for job in acked:
            job.status = S.RUNNABLE
            job.status_reason = "r" * 4000
            store.mark_job(job)
        with pytest.raises(StateDirError, match="full"):
            await store.close()
        # Closed all the same: no connection thread is left behind (the suite's exit guard
        # would report it), and the file is sound with what was committed.
        filler.unlink()
        assert integrity(state / DB_NAME) == "ok"
        reader = await SqliteStore.open(state, read_only=True)
        try:
            assert len(await reader.get_jobs([j.job_id for j in acked])) == 50
        finally:
            await reader.close()
