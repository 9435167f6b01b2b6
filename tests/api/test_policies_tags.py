"""Scheduling policies and tags through botocore: create/describe/list/update/delete, the
rules that tie policies to queues and share identifiers, and tags on every taggable ARN
(sent percent-encoded in the path by botocore)."""

from __future__ import annotations

from pathlib import Path

from abatch.executors.fake import FakeExecutor

from .helpers import api_runtime
from .test_jobs import client_error, finished, submit
from .test_resources import order

ARN = "arn:aws:batch:us-east-1:123456789012"
FAIRSHARE = {
    "shareDecaySeconds": 600,
    "computeReservation": 10,
    "shareDistribution": [{"shareIdentifier": "A*", "weightFactor": 0.5}, {"shareIdentifier": "B"}],
}


async def test_scheduling_policy_lifecycle(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        out = await api.batch(
            "create_scheduling_policy", name="fs", fairsharePolicy=FAIRSHARE, tags={"k": "v"}
        )
        arn = f"{ARN}:scheduling-policy/fs"
        assert out["arn"] == arn and out["name"] == "fs"
        (policy,) = (
            await api.batch(
                "describe_scheduling_policies", arns=[arn, f"{ARN}:scheduling-policy/x"]
            )
        )["schedulingPolicies"]
        assert policy == {
            "name": "fs",
            "arn": arn,
            "fairsharePolicy": FAIRSHARE,
            "tags": {"k": "v"},
        }
        await api.batch("create_scheduling_policy", name="other")
        listed = await api.batch("list_scheduling_policies", maxResults=1)
        assert listed["schedulingPolicies"] == [{"arn": arn}] and listed["nextToken"]
        paginator = api.batch_client.get_paginator("list_scheduling_policies")
        pages = await api.run(lambda: list(paginator.paginate(PaginationConfig={"PageSize": 1})))
        assert [p["schedulingPolicies"][0]["arn"].rsplit("/", 1)[1] for p in pages] == [
            "fs",
            "other",
        ]
        await api.batch(
            "update_scheduling_policy", arn=arn, fairsharePolicy={"shareDecaySeconds": 0}
        )
        (policy,) = (await api.batch("describe_scheduling_policies", arns=[arn]))[
            "schedulingPolicies"
        ]
        assert policy["fairsharePolicy"] == {"shareDecaySeconds": 0}

        await api.batch(
            "create_job_queue",
            jobQueueName="fair",
            priority=1,
            computeEnvironmentOrder=order("ce"),
            schedulingPolicyArn=arn,
        )
        assert "in use by job queue(s) fair" in await client_error(
            api, "delete_scheduling_policy", arn=arn
        )
        msg = await client_error(api, "submit_job", jobName="a", jobQueue="fair", jobDefinition="d")
        assert "shareIdentifier is required" in msg
        job = await api.batch(
            "submit_job", jobName="a", jobQueue="fair", jobDefinition="d", shareIdentifier="A1"
        )
        await finished(api, job["jobId"])
        (summary,) = (
            await api.batch(
                "list_jobs",
                jobQueue="fair",
                filters=[{"name": "SHARE_IDENTIFIER", "values": ["A1"]}],
                jobStatus="SUCCEEDED",
            )
        )["jobSummaryList"]
        assert summary["shareIdentifier"] == "A1"
        msg = await client_error(
            api,
            "update_job_queue",
            jobQueue="q",
            schedulingPolicyArn=f"{ARN}:scheduling-policy/other",
        )
        assert "FIFO" in msg
        await api.batch(
            "update_job_queue",
            jobQueue="fair",
            schedulingPolicyArn=f"{ARN}:scheduling-policy/other",
        )
        await api.batch("delete_scheduling_policy", arn=arn)
        assert (await api.batch("describe_scheduling_policies", arns=[arn]))[
            "schedulingPolicies"
        ] == []


async def test_scheduling_policy_errors(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await api.batch("create_scheduling_policy", name="fs")
        assert "already exists" in await client_error(api, "create_scheduling_policy", name="fs")
        overlap = {"shareDistribution": [{"shareIdentifier": "A*"}, {"shareIdentifier": "A1"}]}
        msg = await client_error(api, "create_scheduling_policy", name="x", fairsharePolicy=overlap)
        assert "overlap" in msg
        msg = await client_error(
            api, "create_scheduling_policy", name="x", fairsharePolicy={"computeReservation": 100}
        )
        assert msg.startswith("fairsharePolicy.computeReservation:")
        msg = await client_error(
            api,
            "create_scheduling_policy",
            name="x",
            fairsharePolicy={"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1000}]},
        )
        assert "weightFactor" in msg
        msg = await client_error(
            api,
            "create_scheduling_policy",
            name="x",
            quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"},
        )
        assert "not supported" in msg
        msg = await client_error(api, "delete_scheduling_policy", arn=f"{ARN}:scheduling-policy/zz")
        assert "does not exist" in msg
        assert "at most 100" in await client_error(
            api, "describe_scheduling_policies", arns=["x"] * 101
        )


async def test_tags_on_every_taggable_resource(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await api.batch("create_scheduling_policy", name="fs")
        job_id = await submit(api, "j")
        arns = [
            f"{ARN}:compute-environment/ce",
            f"{ARN}:job-queue/q",
            f"{ARN}:job-definition/d:1",
            f"{ARN}:scheduling-policy/fs",
            f"{ARN}:job/{job_id}",
        ]
        for arn in arns:
            await api.batch("tag_resource", resourceArn=arn, tags={"a": "1", "b": "2"})
            await api.batch("untag_resource", resourceArn=arn, tagKeys=["a"])
            tags = (await api.batch("list_tags_for_resource", resourceArn=arn))["tags"]
            tags.pop("abatch:memory", None)  # the test CE's local setting, shown as a tag
            assert tags == {"b": "2"}, arn
        (ce,) = (await api.batch("describe_compute_environments"))["computeEnvironments"]
        assert ce["tags"] == {"b": "2", "abatch:memory": "4096"}
        (job,) = (await api.batch("describe_jobs", jobs=[job_id]))["jobs"]
        assert job["tags"] == {"b": "2"}
        # A job definition's tags propagate to jobs submitted after the change.
        await api.batch("tag_resource", resourceArn=arns[2], tags={"p": "x"})
        later = await submit(api, "later", propagateTags=True)
        (job,) = (await api.batch("describe_jobs", jobs=[later]))["jobs"]
        assert job["tags"] == {"b": "2", "p": "x"}


async def test_tag_errors(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        parent = await submit(api, "arr", arrayProperties={"size": 2})
        msg = await client_error(
            api, "tag_resource", resourceArn=f"{ARN}:job/{parent}:0", tags={"a": "b"}
        )
        assert "array child" in msg
        msg = await client_error(api, "list_tags_for_resource", resourceArn=f"{ARN}:job/nope")
        assert "does not exist" in msg
        msg = await client_error(api, "list_tags_for_resource", resourceArn="arn:aws:s3:::bucket")
        assert "not the ARN of a taggable" in msg
        msg = await client_error(
            api, "list_tags_for_resource", resourceArn=f"{ARN}:job-definition/d"
        )
        assert "REVISION" in msg
        many = {f"k{i}": "v" for i in range(30)}
        await api.batch("tag_resource", resourceArn=f"{ARN}:job-queue/q", tags=many)
        msg = await client_error(
            api,
            "tag_resource",
            resourceArn=f"{ARN}:job-queue/q",
            tags={f"x{i}": "v" for i in range(30)},
        )
        assert "at most 50 tags" in msg
        msg = await client_error(
            api, "tag_resource", resourceArn=f"{ARN}:job-queue/q", tags={"aws:x": "v"}
        )
        assert "reserved" in msg
