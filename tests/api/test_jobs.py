"""Job operations through real botocore clients against a served runtime: SubmitJob,
DescribeJobs, ListJobs (default RUNNING, filters, array children, pages), CancelJob(s),
TerminateJob(s), GetJobQueueSnapshot, and the checklist's error cases."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError as BotoClientError

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.runspec import RunSpec
from tests.runtime.helpers import req, wait_for

from .helpers import Api, api_runtime

S = JobStatus
MANUAL = FakeOutcome(duration=None)


def manual(_: RunSpec) -> FakeOutcome:
    return MANUAL


async def client_error(api: Api, op: str, **params: Any) -> str:
    """The message of the ClientException the call must raise."""
    with pytest.raises(BotoClientError) as info:
        await api.batch(op, **params)
    err = info.value.response
    assert err["Error"]["Code"] == "ClientException", err
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(err["Error"]["Message"])


async def finished(api: Api, job_id: str) -> None:
    await wait_for(api.rt, lambda: job_id not in api.rt.jobs)


async def submit(api: Api, name: str = "a", **kw: Any) -> str:
    out = await api.batch("submit_job", jobName=name, jobQueue="q", jobDefinition="d", **kw)
    return str(out["jobId"])


async def test_submit_describe_list_shapes(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        out = await api.batch(
            "submit_job",
            jobName="a",
            jobQueue="arn:aws:batch:us-east-1:123456789012:job-queue/q",
            jobDefinition="d",
            parameters={"x": "1"},
            timeout={"attemptDurationSeconds": 60},
        )
        assert out["jobArn"] == f"arn:aws:batch:us-east-1:123456789012:job/{out['jobId']}"
        await finished(api, out["jobId"])
        (detail,) = (await api.batch("describe_jobs", jobs=[out["jobId"]]))["jobs"]
        assert detail["status"] == "SUCCEEDED"
        assert detail["jobQueue"] == "arn:aws:batch:us-east-1:123456789012:job-queue/q"
        assert detail["jobDefinition"].endswith(":job-definition/d:1")
        assert detail["parameters"] == {"x": "1"}
        assert detail["timeout"] == {"attemptDurationSeconds": 60}
        assert isinstance(detail["createdAt"], int) and detail["stoppedAt"] >= detail["createdAt"]
        (attempt,) = detail["attempts"]
        assert attempt["container"]["exitCode"] == 0
        assert attempt["container"]["logStreamName"].startswith("d/default/")
        (summary,) = (await api.batch("list_jobs", jobQueue="q", jobStatus="SUCCEEDED"))[
            "jobSummaryList"
        ]
        assert summary["jobId"] == out["jobId"] and summary["container"] == {"exitCode": 0}


async def test_fields_are_omitted_until_they_apply(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor(manual)) as api:
        await api.batch("update_compute_environment", computeEnvironment="ce", state="DISABLED")
        job_id = await submit(api)
        await wait_for(api.rt, lambda: api.rt.jobs[job_id].status is S.RUNNABLE)
        raw = await api.run(lambda: api.batch_client.describe_jobs(jobs=[job_id])["jobs"][0])
        assert "startedAt" not in raw and "stoppedAt" not in raw
        assert raw["attempts"] == []


async def test_describe_jobs_unknown_ids_left_out_and_at_most_100(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        job_id = await submit(api)
        out = await api.batch("describe_jobs", jobs=["nope", job_id, "nope:3"])
        assert [j["jobId"] for j in out["jobs"]] == [job_id]
        assert (await api.batch("describe_jobs", jobs=[]))["jobs"] == []
        assert "at most 100" in await client_error(api, "describe_jobs", jobs=["x"] * 101)


async def test_list_jobs_default_is_running_only(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with api_runtime(tmp_path, fake, vcpus=1) as api:
        first = await submit(api, "first")
        second = await submit(api, "second")
        await wait_for(api.rt, lambda: api.rt.jobs[second].status is S.RUNNABLE)
        await wait_for(api.rt, lambda: api.rt.jobs[first].status is S.RUNNING)
        listed = (await api.batch("list_jobs", jobQueue="q"))["jobSummaryList"]
        assert [j["jobId"] for j in listed] == [first]
        runnable = (await api.batch("list_jobs", jobQueue="q", jobStatus="RUNNABLE"))[
            "jobSummaryList"
        ]
        assert [j["jobId"] for j in runnable] == [second]
        assert "jobStatus" in await client_error(api, "list_jobs", jobQueue="q", jobStatus="X")


async def test_list_jobs_filters_ignore_status_newest_first(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        ids = [await submit(api, name) for name in ("Alpha-1", "alpha-2", "beta")]
        for i in ids:
            await finished(api, i)

        async def names(name: str, value: str) -> list[str]:
            out = await api.batch(
                "list_jobs", jobQueue="q", filters=[{"name": name, "values": [value]}]
            )
            return [j["jobName"] for j in out["jobSummaryList"]]

        assert await names("JOB_NAME", "ALPHA*") == ["alpha-2", "Alpha-1"]
        assert await names("JOB_NAME", "beta") == ["beta"]
        assert await names("JOB_DEFINITION", "d") == ["beta", "alpha-2", "Alpha-1"]
        assert await names(
            "JOB_DEFINITION", "arn:aws:batch:us-east-1:123456789012:job-definition/d:1"
        ) == ["beta", "alpha-2", "Alpha-1"]
        assert await names("JOB_DEFINITION", "d:2") == []
        assert await names("JOB_DEFINITION", "x*") == []
        (created,) = (await api.batch("describe_jobs", jobs=[ids[1]]))["jobs"]
        before = await names("BEFORE_CREATED_AT", str(created["createdAt"] + 100_000))
        assert before == ["beta", "alpha-2", "Alpha-1"]
        assert await names("AFTER_CREATED_AT", str(created["createdAt"] + 100_000)) == []
        assert await names("BEFORE_CREATED_AT", "0") == []
        msg = await client_error(
            api, "list_jobs", jobQueue="q", filters=[{"name": "NOPE", "values": ["a"]}]
        )
        assert "NOPE" in msg
        msg = await client_error(
            api, "list_jobs", jobQueue="q", filters=[{"name": "BEFORE_CREATED_AT", "values": ["x"]}]
        )
        assert "epoch" in msg


async def test_list_jobs_needs_exactly_one_source(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        assert "exactly one" in await client_error(api, "list_jobs")
        assert "exactly one" in await client_error(api, "list_jobs", jobQueue="q", arrayJobId="x")
        assert "does not exist" in await client_error(api, "list_jobs", jobQueue="nope")
        assert "nextToken" in await client_error(api, "list_jobs", jobQueue="q", nextToken="zz")


async def test_array_children_listed_by_array_job_id_not_with_queue(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        parent = await submit(api, "arr", arrayProperties={"size": 12})
        await finished(api, parent)
        listed = await api.batch("list_jobs", jobQueue="q", jobStatus="SUCCEEDED")
        assert [j["jobId"] for j in listed["jobSummaryList"]] == [parent]
        assert listed["jobSummaryList"][0]["arrayProperties"] == {"size": 12}
        page = await api.batch("list_jobs", arrayJobId=parent, jobStatus="SUCCEEDED", maxResults=5)
        ids = [j["jobId"] for j in page["jobSummaryList"]]
        assert ids == [f"{parent}:{i}" for i in range(5)]
        assert page["jobSummaryList"][3]["arrayProperties"] == {"index": 3}
        rest = []
        token = page["nextToken"]
        while token:
            more = await api.batch(
                "list_jobs", arrayJobId=parent, jobStatus="SUCCEEDED", maxResults=5, nextToken=token
            )
            rest += [j["jobId"] for j in more["jobSummaryList"]]
            token = more.get("nextToken")
        assert rest == [f"{parent}:{i}" for i in range(5, 12)]
        (detail,) = (await api.batch("describe_jobs", jobs=[parent]))["jobs"]
        summary = detail["arrayProperties"]["statusSummary"]
        assert summary == {**{s.value: 0 for s in S}, "SUCCEEDED": 12}
        assert detail["arrayProperties"]["size"] == 12
        (child,) = (await api.batch("describe_jobs", jobs=[f"{parent}:7"]))["jobs"]
        assert child["arrayProperties"] == {"index": 7}


async def test_live_array_summary(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with api_runtime(tmp_path, fake, vcpus=1) as api:
        parent = await submit(api, "arr", arrayProperties={"size": 3})
        await wait_for(api.rt, lambda: len(fake.running) == 1)
        (detail,) = (await api.batch("describe_jobs", jobs=[parent]))["jobs"]
        assert detail["status"] == "PENDING"
        summary = detail["arrayProperties"]["statusSummary"]
        assert sorted(summary) == sorted(s.value for s in S)
        assert summary["RUNNING"] + summary["STARTING"] == 1 and summary["RUNNABLE"] == 2


async def test_pagination_through_1000_jobs(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await api.batch("update_compute_environment", computeEnvironment="ce", state="DISABLED")
        jobs = await api.rt.submit_many([req(f"j{i}") for i in range(1000)])
        await wait_for(api.rt, lambda: all(j.status is S.RUNNABLE for j in jobs))
        paginator = api.batch_client.get_paginator("list_jobs")
        pages = await api.run(
            lambda: list(
                paginator.paginate(
                    jobQueue="q", jobStatus="RUNNABLE", PaginationConfig={"PageSize": 100}
                )
            )
        )
        seen = [j["jobId"] for p in pages for j in p["jobSummaryList"]]
        assert len(pages) == 10 and len(seen) == 1000
        assert set(seen) == {j.job_id for j in jobs}
        one = await api.batch("list_jobs", jobQueue="q", jobStatus="RUNNABLE")
        assert len(one["jobSummaryList"]) == 1000 and "nextToken" not in one
        assert "between 1 and 1000" in await client_error(
            api, "list_jobs", jobQueue="q", maxResults=1001
        )


async def test_cancel_and_terminate(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with api_runtime(tmp_path, fake, vcpus=1) as api:
        running = await submit(api, "running")
        waiting = await submit(api, "waiting")
        await wait_for(api.rt, lambda: api.rt.jobs[running].status is S.RUNNING)
        await api.batch("cancel_job", jobId=running, reason="no-op")  # silently nothing
        assert api.rt.jobs[running].status is S.RUNNING
        await api.batch("cancel_job", jobId=waiting, reason="not needed")
        (w,) = (await api.batch("describe_jobs", jobs=[waiting]))["jobs"]
        assert (w["status"], w["statusReason"], w["isCancelled"]) == ("FAILED", "not needed", True)
        await api.batch("terminate_job", jobId=running, reason="stop it")
        await finished(api, running)
        (r,) = (await api.batch("describe_jobs", jobs=[running]))["jobs"]
        assert (r["status"], r["statusReason"], r["isTerminated"]) == ("FAILED", "stop it", True)
        await api.batch("terminate_job", jobId=running, reason="again")  # finished: no-op
        assert "does not exist" in await client_error(api, "cancel_job", jobId="nope", reason="x")
        assert "does not exist" in await client_error(
            api, "terminate_job", jobId="nope", reason="x"
        )
        assert "1024" in await client_error(api, "cancel_job", jobId=waiting, reason="x" * 1025)


async def test_bulk_cancel_and_terminate(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with api_runtime(tmp_path, fake, vcpus=1) as api:
        a, b = await submit(api, "a"), await submit(api, "b")
        await wait_for(api.rt, lambda: api.rt.jobs[a].status is S.RUNNING)
        out = await api.batch("cancel_jobs", jobs=[a, b, "nope"], reason="bulk")
        assert out["successful"] == [a, b, "nope"] and out["errors"] == []
        assert api.rt.jobs[a].status is S.RUNNING  # cancel does not stop a running job
        out = await api.batch("terminate_jobs", jobs=[a], reason="bulk")
        assert out["successful"] == [a]
        await wait_for(api.rt, lambda: a not in api.rt.jobs)


async def test_submit_errors(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        msg = await client_error(api, "submit_job", jobName="a", jobQueue="nope", jobDefinition="d")
        assert "job queue 'nope' does not exist" in msg
        msg = await client_error(api, "submit_job", jobName="a", jobQueue="q", jobDefinition="zz")
        assert "job definition 'zz' does not exist" in msg
        msg = await client_error(api, "submit_job", jobName="-a", jobQueue="q", jobDefinition="d")
        assert msg.startswith("jobName:")
        msg = await client_error(
            api,
            "submit_job",
            jobName="a",
            jobQueue="q",
            jobDefinition="d",
            arrayProperties={"size": 1},
        )
        assert msg.startswith("arrayProperties.size:")
        msg = await client_error(
            api,
            "submit_job",
            jobName="a",
            jobQueue="q",
            jobDefinition="d",
            containerOverrides={"environment": [{"name": "AWS_BATCH_X", "value": "1"}]},
        )
        assert "reserved" in msg
        msg = await client_error(
            api,
            "submit_job",
            jobName="a",
            jobQueue="q",
            jobDefinition="d",
            parameters={"p": "x" * 40_000},
        )
        assert "KiB" in msg
        msg = await client_error(
            api, "submit_job", jobName="a", jobQueue="q", jobDefinition="d", shareIdentifier="s"
        )
        assert "shareIdentifier is not allowed" in msg
        # Overrides of job kinds abatch does not run are refused, never accepted and ignored.
        for member, value in (
            ("ecsPropertiesOverride", {"taskProperties": [{"containers": [{"command": ["x"]}]}]}),
            ("eksPropertiesOverride", {"podProperties": {"containers": [{"command": ["x"]}]}}),
            (
                "consumableResourcePropertiesOverride",
                {"consumableResourceList": [{"consumableResource": "r", "quantity": 1}]},
            ),
        ):
            msg = await client_error(
                api, "submit_job", jobName="a", jobQueue="q", jobDefinition="d", **{member: value}
            )
            assert msg.startswith(f"{member}: unknown field"), msg
        await api.batch("update_job_queue", jobQueue="q", state="DISABLED")
        msg = await client_error(api, "submit_job", jobName="a", jobQueue="q", jobDefinition="d")
        assert "DISABLED" in msg


async def test_submit_by_bare_name_takes_latest_active_revision(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        body = {"type": "container", "containerProperties": {"image": "x", "command": ["true"]}}
        await api.batch("register_job_definition", jobDefinitionName="d", **body)  # d:2
        await api.batch("deregister_job_definition", jobDefinition="d:2")
        job_id = await submit(api)
        (detail,) = (await api.batch("describe_jobs", jobs=[job_id]))["jobs"]
        assert detail["jobDefinition"].endswith("job-definition/d:1")


async def test_job_queue_snapshot(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with api_runtime(tmp_path, fake, vcpus=1) as api:
        ids = [await submit(api, f"j{i}") for i in range(4)]
        await wait_for(api.rt, lambda: api.rt.jobs[ids[3]].status is S.RUNNABLE)
        await wait_for(api.rt, lambda: api.rt.jobs[ids[0]].status is S.RUNNING)
        snap = await api.batch("get_job_queue_snapshot", jobQueue="q")
        front = snap["frontOfQueue"]["jobs"]
        assert [j["jobArn"].rsplit("/", 1)[1] for j in front] == ids[1:]
        assert all(isinstance(j["earliestTimeAtPosition"], int) for j in front)
        usage = snap["queueUtilization"]["totalCapacityUsage"]
        assert usage == [{"capacityUnit": "VCPU", "quantity": 1.0}]
        assert "does not exist" in await client_error(api, "get_job_queue_snapshot", jobQueue="x")


async def test_non_zero_exit_is_failed_and_every_attempt_is_recorded(tmp_path: Path) -> None:
    def fail(_: RunSpec) -> FakeOutcome:
        return FakeOutcome(exit_code=3)

    async with api_runtime(tmp_path, FakeExecutor(fail)) as api:
        job_id = await submit(api, retryStrategy={"attempts": 2})
        await finished(api, job_id)
        (detail,) = (await api.batch("describe_jobs", jobs=[job_id]))["jobs"]
        assert detail["status"] == "FAILED"
        assert detail["retryStrategy"] == {"attempts": 2}
        assert [a["container"]["exitCode"] for a in detail["attempts"]] == [3, 3]
        assert detail["container"]["exitCode"] == 3


async def test_multi_node_job_and_its_nodes_in_list_jobs(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor(manual), vcpus=4) as api:
        await api.batch(
            "register_job_definition",
            jobDefinitionName="mnp",
            type="multinode",
            nodeProperties={
                "numNodes": 3,
                "mainNode": 0,
                "nodeRangeProperties": [
                    {"targetNodes": "0:", "container": {"image": "x", "command": ["true"]}}
                ],
            },
        )
        out = await api.batch("submit_job", jobName="m", jobQueue="q", jobDefinition="mnp")
        job_id = str(out["jobId"])
        await wait_for(api.rt, lambda: api.rt.jobs[job_id].status is S.RUNNING)
        (parent,) = (await api.batch("list_jobs", jobQueue="q"))["jobSummaryList"]
        assert parent["nodeProperties"] == {"numNodes": 3}
        nodes = (await api.batch("list_jobs", multiNodeJobId=job_id, jobStatus="RUNNING"))[
            "jobSummaryList"
        ]
        assert {n["jobId"] for n in nodes} <= {f"{job_id}#{i}" for i in range(3)}
        assert all(n["nodeProperties"]["numNodes"] == 3 for n in nodes)
