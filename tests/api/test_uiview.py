"""abatch's extension operations for an attached terminal UI (`Abatch*`): what they answer and
how they refuse bad input, through abatch's own client against the real server on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from abatch.client import ApiClient
from abatch.model.errors import ClientError
from tests.runtime.helpers import req, wait_status
from tests.tui.helpers import manual

from .helpers import api_runtime


async def test_pages_counts_orders_and_views(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, manual(), vcpus=1) as api:
        a, b, c = await api.rt.submit_many([req("bravo"), req("alpha"), req("charlie")])
        client = ApiClient(api.url)

        def call(op: str, **body: object) -> dict[str, object]:
            return client.call(op, body)

        async def run(op: str, **body: object) -> dict:  # type: ignore[type-arg]
            return await anyio.to_thread.run_sync(lambda: call(op, **body))

        assert (await run("AbatchCountJobs"))["count"] == 3
        assert (await run("AbatchCountJobs", jobStatus="RUNNING"))["count"] == 1
        page = await run("AbatchListJobPage", offset=1, limit=1)
        assert [j["jobName"] for j in page["jobs"]] == ["alpha"]  # newest first: charlie, alpha
        keys = (await run("AbatchOrderJobs", sort="name", descending=False))["keys"]
        rows = (await run("AbatchGetJobsByKey", keys=keys))["jobs"]
        assert [j["jobName"] for j in rows] == ["alpha", "bravo", "charlie"]
        view = (await run("AbatchDescribeJobView", jobId=b.job_id))["view"]
        assert view["job"]["status"] == "RUNNABLE" and view["queuePosition"] == 1
        assert (await run("AbatchDescribeJobView", jobId="nope"))["view"] is None
        over = await run("AbatchOverview", counts=True)
        assert over["counts"]["q"] == {"RUNNING": 1, "RUNNABLE": 2}
        assert [c["name"] for c in over["computeEnvironments"]] == ["ce"]
        new = await run("AbatchResubmitJob", jobId=a.job_id)
        (again,) = await api.rt.get_jobs([str(new["jobId"])])
        assert again.job_name == "bravo" and again.job_id != a.job_id

        # The long poll: at once when the version moved, else when something changes.
        version = (await run("AbatchWatch"))["version"]
        started = time.monotonic()
        same = await run("AbatchWatch", since=version, waitSeconds=0)
        assert same["version"] == version

        async def cancel_soon() -> None:
            await anyio.sleep(0.3)
            await api.rt.cancel_job(c.job_id, "test")

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_soon)
            moved = await run("AbatchWatch", since=version, waitSeconds=20)
        assert moved["version"] != version and time.monotonic() - started < 15
        await wait_status(api.rt, [c], timeout=5)


@pytest.mark.parametrize(
    ("op", "body", "message"),
    [
        ("AbatchCountJobs", {"sort": "size"}, "sort must be one of created, name"),
        ("AbatchCountJobs", {"jobStatus": "DONE"}, "jobStatus must be one of SUBMITTED"),
        ("AbatchCountJobs", {"queue": "q"}, "unknown parameter(s): queue"),
        ("AbatchListJobPage", {"limit": 5000}, "limit must be between 1 and 1000"),
        ("AbatchListJobPage", {"sort": "name"}, "use AbatchOrderJobs"),
        ("AbatchOrderJobs", {}, "sort must be one of name, status, started, duration"),
        ("AbatchGetJobsByKey", {"keys": ["1"]}, "keys: expected a list of integers"),
        ("AbatchGetJobsByKey", {}, "keys is required"),
        ("AbatchDescribeJobView", {}, "jobId is required"),
        ("AbatchResubmitJob", {"jobId": "nope"}, "job nope does not exist"),
        ("AbatchWatch", {"waitSeconds": 60}, "waitSeconds must be between 0 and 20"),
        ("AbatchOverview", {"counts": "yes"}, "counts: expected true or false"),
    ],
)
async def test_bad_input_is_refused_by_name(
    tmp_path: Path, op: str, body: dict[str, object], message: str
) -> None:
    async with api_runtime(tmp_path) as api:
        client = ApiClient(api.url)
        with pytest.raises(ClientError, match=None) as info:
            await anyio.to_thread.run_sync(lambda: client.call(op, body))
        assert message in str(info.value)
