"""The state directory: what is in it is the owner's only, and no name from outside (a job
name, a definition name, a log stream name in an API call or on the command line) reads or
writes a file outside it."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from botocore.exceptions import ClientError as BotoClientError

from abatch.model.enums import JobStatus
from abatch.model.paths import log_file, task_id_of
from abatch.runtime import Runtime
from abatch.store.sqlite import DB_NAME
from tests.api.helpers import Api, api_runtime
from tests.cli.support import run_abatch
from tests.runtime.helpers import jd, req, runtime, wait_status

SECRET = "TOPSECRET-outside-the-state-dir"
GROUP = "/aws/batch/job"


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


async def pool_ready(rt: Runtime) -> None:
    """The attempt-file pool has filled (files made ahead of time: see runtime/prepared.py)."""
    with anyio.fail_after(30):
        while not rt.prepared.ready:
            await anyio.sleep(0.01)


async def test_state_dir_is_the_owners_only_whatever_the_umask(tmp_path: Path) -> None:
    """Under umask 000, which would leave every new file world-readable: the state directory
    is 0700, and what holds secrets (database, WAL, api.json, credentials, job logs, working
    directories) has no group or other permission of its own either."""
    with umask(0):
        async with api_runtime(tmp_path, auth=True) as api:
            await pool_ready(api.rt)
            await api.rt.register_job_definition(jd("d2", ["sh", "-c", "echo $SECRET_ENV"]))
            job = await api.rt.submit(
                req(
                    "a",
                    definition="d2",
                    containerOverrides={"environment": [{"name": "SECRET_ENV", "value": "x"}]},
                )
            )
            await wait_status(api.rt, [job], timeout=60)
            assert job.status is JobStatus.SUCCEEDED, job.status_reason
            await api.rt.store.flush()
            state = api.rt.state_dir
            found = modes(state)
    assert found["."] == 0o700
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", "api.json", "credentials.json"):
        assert name in found, sorted(found)
    assert any(k.startswith("logs/") for k in found) and any(k.startswith("work/") for k in found)
    # The directory alone keeps every file in it from other users. What holds secrets
    # (environment values, job output, the key) is also the owner's only on its own, so a
    # state dir made looser by hand does not expose it.
    secret = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", "api.json", "credentials.json")
    loose = {
        name: oct(mode)
        for name, mode in found.items()
        if mode & 0o077 and (name in secret or name.split("/")[0] in ("logs", "work"))
    }
    assert loose == {}, f"readable by others: {loose}"


async def test_a_database_left_readable_is_tightened(tmp_path: Path) -> None:
    async with runtime(tmp_path) as rt:
        db = rt.state_dir / DB_NAME
    os.chmod(db, 0o644)
    async with runtime(tmp_path, setup=False):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        for suffix in ("-wal", "-shm"):
            side = Path(f"{db}{suffix}")
            if side.exists():
                assert stat.S_IMODE(side.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "stream",
    [
        "../../secret.log",
        "/etc/passwd",
        "d/default/../../../../secret.log",
        "..%2f..%2fsecret.log",
        "d/default/" + "0" * 31 + "/",
        "",
        "\x00",
    ],
)
def test_a_log_path_is_a_task_id_in_the_logs_directory(tmp_path: Path, stream: str) -> None:
    with pytest.raises(ValueError, match="not an abatch log stream name"):
        log_file(tmp_path, stream)


def test_a_stream_name_with_traversal_before_the_task_id_stays_inside(tmp_path: Path) -> None:
    """Only the task id at the end names the file, whatever comes before it."""
    task = "0123456789abcdef" * 2
    for prefix in ("../../", "/etc/", "d/default/../../../", "%2e%2e%2f/"):
        assert task_id_of(prefix + task) == task
        assert log_file(tmp_path, prefix + task) == tmp_path / "logs" / task


async def logs_refused(api: Api, op: str, **params: Any) -> str:
    with pytest.raises(BotoClientError) as info:
        await api.logs(op, **params)
    return str(info.value.response["Error"]["Code"])


async def test_log_reads_through_the_api_never_leave_the_state_dir(tmp_path: Path) -> None:
    """GetLogEvents, FilterLogEvents and DescribeLogStreams with stream names and prefixes
    that point outside (relative, absolute, encoded): not found, and the file outside is
    never read. Job and definition names that would make such a stream are refused."""
    outside = tmp_path / "secret.log"
    outside.write_text(SECRET + "\n")
    async with api_runtime(tmp_path) as api:
        job = await api.rt.submit(req("ok"))
        await wait_status(api.rt, [job], timeout=60)
        state = api.rt.state_dir
        names = [
            "../secret.log",
            "../../secret.log",
            str(outside),
            os.path.relpath(outside, state / "logs"),
            "d/default/../../../secret.log",
            "..%2fsecret.log",
            "%2e%2e%2fsecret.log",
            "d/default/" + "../" * 10 + str(outside).lstrip("/"),
        ]
        for name in names:
            code = await logs_refused(api, "get_log_events", logGroupName=GROUP, logStreamName=name)
            assert code == "ResourceNotFoundException", name
            filtered = await api.logs(
                "filter_log_events", logGroupName=GROUP, logStreamNamePrefix=name
            )
            assert filtered["events"] == []
            listed = await api.logs(
                "describe_log_streams", logGroupName=GROUP, logStreamNamePrefix=name
            )
            assert listed["logStreams"] == []
        everything = await api.logs("filter_log_events", logGroupName=GROUP)
        assert SECRET not in json.dumps(everything)
        for field, value in (("jobName", "../../x"), ("jobName", "/etc/x"), ("jobName", "a/b")):
            with pytest.raises(BotoClientError):
                await api.batch("submit_job", **{"jobQueue": "q", "jobDefinition": "d",
                                                  field: value})  # fmt: skip
        for name in ("../../x", "a/b", "/abs", "..", "x\x00"):
            with pytest.raises(BotoClientError):
                await api.batch(
                    "register_job_definition",
                    jobDefinitionName=name,
                    type="container",
                    containerProperties={"image": "busybox", "command": ["true"]},
                )


async def test_cli_logs_never_reads_outside_the_state_dir(tmp_path: Path) -> None:
    """`abatch logs REF` looks REF up as a job id in the store: a path is no job."""
    outside = tmp_path / "secret.log"
    outside.write_text(SECRET + "\n")
    async with runtime(tmp_path) as rt:
        job = await rt.submit(req("ok"))
        await wait_status(rt, [job], timeout=60)
        state = rt.state_dir
    refs = ["../secret.log", str(outside), "../../" + "0" * 32, f"{job.job_id}/../../secret.log"]
    for ref in refs:
        proc = await anyio.to_thread.run_sync(
            lambda ref=ref: run_abatch("logs", ref, "--state-dir", str(state), cwd=tmp_path)
        )
        assert proc.returncode != 0, ref
        assert SECRET not in proc.stdout + proc.stderr
        assert "Traceback" not in proc.stderr
