"""Compute environments, job queues and job definitions through botocore: shapes, pages,
`abatch:` tags as local settings, and AWS's lifecycle rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.runspec import RunSpec
from tests.runtime.helpers import wait_for

from .helpers import Api, api_runtime
from .test_jobs import client_error, submit

ARN = "arn:aws:batch:us-east-1:123456789012"
CR = {"type": "EC2", "maxvCpus": 4, "subnets": ["subnet-1"], "instanceRole": "r"}
FARGATE = {"type": "FARGATE", "maxvCpus": 4, "subnets": ["subnet-1"]}


async def create_ce(api: Api, name: str, cr: dict[str, Any] | None = None, **kw: Any) -> Any:
    return await api.batch(
        "create_compute_environment",
        computeEnvironmentName=name,
        type="MANAGED",
        computeResources=cr or CR,
        **kw,
    )


def order(*names: str) -> list[dict[str, Any]]:
    return [{"order": i, "computeEnvironment": n} for i, n in enumerate(names)]


async def test_compute_environment_create_describe_update_delete(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        out = await create_ce(
            api, "gpu", tags={"abatch:executor": "docker", "abatch:gpus": "2", "team": "x"}
        )
        assert out["computeEnvironmentArn"] == f"{ARN}:compute-environment/gpu"
        ce = api.rt.registry.compute_environments["gpu"]
        assert (ce.executor, ce.gpus) == (ExecutorKind.DOCKER, 2)
        (detail,) = (await api.batch("describe_compute_environments", computeEnvironments=["gpu"]))[
            "computeEnvironments"
        ]
        assert detail["state"] == "ENABLED" and detail["status"] == "VALID"
        assert detail["computeResources"]["maxvCpus"] == 4
        assert detail["computeResources"]["subnets"] == ["subnet-1"]
        assert detail["tags"] == {"team": "x", "abatch:executor": "docker", "abatch:gpus": "2"}
        assert "executor" not in detail
        await api.batch(
            "update_compute_environment",
            computeEnvironment=f"{ARN}:compute-environment/gpu",
            computeResources={"maxvCpus": 8},
            state="DISABLED",
        )
        ce = api.rt.registry.compute_environments["gpu"]
        assert ce.max_vcpus == 8 and ce.state.value == "DISABLED"
        assert ce.executor is ExecutorKind.DOCKER and ce.gpus == 2  # local settings kept
        assert "already exists" in await client_error(
            api,
            "create_compute_environment",
            computeEnvironmentName="gpu",
            type="MANAGED",
            computeResources=CR,
        )
        await api.batch("delete_compute_environment", computeEnvironment="gpu")
        names = [
            c["computeEnvironmentName"]
            for c in (await api.batch("describe_compute_environments"))["computeEnvironments"]
        ]
        assert names == ["ce"]


async def test_abatch_tags_are_the_local_settings(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        arn = f"{ARN}:compute-environment/ce"
        # Settings from a config (or the test helper) show as tags: memory 4096 MiB.
        assert (await api.batch("list_tags_for_resource", resourceArn=arn))["tags"] == {
            "abatch:memory": "4096"
        }
        await api.batch(
            "tag_resource",
            resourceArn=arn,
            tags={"abatch:gpus": "4", "abatch:keep-containers": "true"},
        )
        ce = api.rt.registry.compute_environments["ce"]
        assert (ce.gpus, ce.keep_containers, ce.memory) == (4, True, 4096)
        await api.batch("untag_resource", resourceArn=arn, tagKeys=["abatch:memory", "abatch:gpus"])
        ce = api.rt.registry.compute_environments["ce"]
        assert (ce.gpus, ce.memory, ce.tags) == (None, None, None)
        (detail,) = (await api.batch("describe_compute_environments"))["computeEnvironments"]
        assert detail["tags"] == {"abatch:keep-containers": "true"}
        msg = await client_error(api, "tag_resource", resourceArn=arn, tags={"abatch:gpus": "x"})
        assert msg.startswith("tag abatch:gpus:")
        await api.batch("tag_resource", resourceArn=arn, tags={"abatch:gpu-devices": "0,3"})
        ce = api.rt.registry.compute_environments["ce"]
        assert ce.gpu_devices == ["0", "3"] and api.rt.pools["ce"].gpus == 2
        assert api.rt.pools["ce"].devices is not None
        assert api.rt.pools["ce"].devices.ids == ("0", "3")
        tags = (await api.batch("list_tags_for_resource", resourceArn=arn))["tags"]
        assert tags["abatch:gpu-devices"] == "0,3"
        for bad, why in (("0,,1", "non-empty"), ("1,1", "more than once")):
            msg = await client_error(
                api, "tag_resource", resourceArn=arn, tags={"abatch:gpu-devices": bad}
            )
            assert msg.startswith("tag abatch:gpu-devices:") and why in msg
        msg = await client_error(
            api,
            "tag_resource",
            resourceArn=arn,
            tags={"abatch:gpu-devices": "0", "abatch:gpus": "2"},
        )
        assert "gpus (2) is more than the 1 gpu_devices listed" in msg


async def test_compute_environment_errors(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        msg = await client_error(
            api, "create_compute_environment", computeEnvironmentName="x", type="MANAGED"
        )
        assert "computeResources" in msg
        msg = await client_error(
            api,
            "create_compute_environment",
            computeEnvironmentName="x",
            type="MANAGED",
            computeResources=CR,
            tags={"abatch:executer": "docker"},
        )
        assert "abatch:executer" in msg and "abatch:executor" in msg
        msg = await client_error(
            api,
            "create_compute_environment",
            computeEnvironmentName="x",
            type="MANAGED",
            computeResources=CR,
            tags={"abatch:memory": "lots"},
        )
        assert msg.startswith("tag abatch:memory:")
        msg = await client_error(
            api,
            "create_compute_environment",
            computeEnvironmentName="x",
            type="MANAGED",
            computeResources={**CR, "scalingPolicy": {"minScaleDownDelayMinutes": 5}},
        )
        assert "computeResources.scalingPolicy" in msg
        msg = await client_error(api, "delete_compute_environment", computeEnvironment="ce")
        assert "DISABLED" in msg
        await api.batch("update_compute_environment", computeEnvironment="ce", state="DISABLED")
        msg = await client_error(api, "delete_compute_environment", computeEnvironment="ce")
        assert "attached to job queue(s) high, q" in msg
        msg = await client_error(
            api,
            "update_compute_environment",
            computeEnvironment="ce",
            computeResources={"allocationStrategy": "BEST_FIT"},
        )
        assert "BEST_FIT" in msg
        msg = await client_error(api, "delete_compute_environment", computeEnvironment="zz")
        assert "does not exist" in msg


async def test_describe_pages(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        for i in range(5):
            await create_ce(api, f"c{i}")
        paginator = api.batch_client.get_paginator("describe_compute_environments")
        pages = await api.run(lambda: list(paginator.paginate(PaginationConfig={"PageSize": 2})))
        names = [c["computeEnvironmentName"] for p in pages for c in p["computeEnvironments"]]
        assert names == ["c0", "c1", "c2", "c3", "c4", "ce"] and len(pages) == 3
        assert "between 1 and 100" in await client_error(
            api, "describe_compute_environments", maxResults=101
        )


async def test_job_queue_lifecycle(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await create_ce(api, "c2")
        out = await api.batch(
            "create_job_queue",
            jobQueueName="jq",
            priority=5,
            computeEnvironmentOrder=order("c2", "ce"),
            tags={"k": "v"},
        )
        assert out == {**out, "jobQueueName": "jq", "jobQueueArn": f"{ARN}:job-queue/jq"}
        (detail,) = (await api.batch("describe_job_queues", jobQueues=[f"{ARN}:job-queue/jq"]))[
            "jobQueues"
        ]
        assert detail["computeEnvironmentOrder"] == [
            {"order": 0, "computeEnvironment": f"{ARN}:compute-environment/c2"},
            {"order": 1, "computeEnvironment": f"{ARN}:compute-environment/ce"},
        ]
        assert (detail["state"], detail["status"], detail["priority"]) == ("ENABLED", "VALID", 5)
        assert detail["jobQueueType"] == "ECS" and detail["tags"] == {"k": "v"}
        await api.batch(
            "update_job_queue", jobQueue="jq", priority=7, computeEnvironmentOrder=order("ce")
        )
        jq = api.rt.registry.job_queues["jq"]
        assert jq.priority == 7 and jq.ce_names() == ["ce"]
        assert "DISABLED" in await client_error(api, "delete_job_queue", jobQueue="jq")
        await api.batch("update_job_queue", jobQueue="jq", state="DISABLED")
        await api.batch("delete_job_queue", jobQueue="jq")
        assert "jq" not in api.rt.registry.job_queues
        assert (await api.batch("describe_job_queues", jobQueues=["jq"]))["jobQueues"] == []


async def test_job_queue_rules(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        for name in ("c2", "c3", "c4"):
            await create_ce(api, name)
        await create_ce(api, "fg", FARGATE)

        async def create(**kw: Any) -> str:
            return await client_error(api, "create_job_queue", jobQueueName="x", priority=1, **kw)

        assert "at most 3" in await create(computeEnvironmentOrder=order("ce", "c2", "c3", "c4"))
        assert "mix" in await create(computeEnvironmentOrder=order("ce", "fg"))
        assert "listed twice" in await create(
            computeEnvironmentOrder=[
                {"order": 0, "computeEnvironment": "ce"},
                {"order": 1, "computeEnvironment": f"{ARN}:compute-environment/ce"},
            ]
        )
        assert "'nope' does not exist" in await create(computeEnvironmentOrder=order("nope"))
        assert "already exists" in await client_error(
            api,
            "create_job_queue",
            jobQueueName="q",
            priority=1,
            computeEnvironmentOrder=order("ce"),
        )
        assert "does not exist" in await create(
            computeEnvironmentOrder=order("ce"),
            schedulingPolicyArn=f"{ARN}:scheduling-policy/none",
        )
        assert "ECS_FARGATE" in await create(
            computeEnvironmentOrder=order("ce"), jobQueueType="ECS_FARGATE"
        )
        assert "priority" in await client_error(api, "update_job_queue", jobQueue="q", priority=-1)
        await api.batch(
            "create_job_queue",
            jobQueueName="f",
            priority=1,
            computeEnvironmentOrder=order("fg"),
            jobQueueType="ECS_FARGATE",
        )
        (f,) = (await api.batch("describe_job_queues", jobQueues=["f"]))["jobQueues"]
        assert f["jobQueueType"] == "ECS_FARGATE"


async def test_deleting_a_queue_terminates_its_jobs(tmp_path: Path) -> None:
    def manual(_: RunSpec) -> FakeOutcome:
        return FakeOutcome(duration=None)

    fake = FakeExecutor(manual)
    async with api_runtime(tmp_path, fake, vcpus=1) as api:
        running = await submit(api, "running")
        waiting = await submit(api, "waiting", arrayProperties={"size": 2})
        await wait_for(api.rt, lambda: api.rt.jobs[running].status is JobStatus.RUNNING)
        await api.batch("update_job_queue", jobQueue="q", state="DISABLED")
        await api.batch("delete_job_queue", jobQueue="q")
        await wait_for(api.rt, lambda: running not in api.rt.jobs and waiting not in api.rt.jobs)
        jobs = (await api.batch("describe_jobs", jobs=[running, waiting, f"{waiting}:1"]))["jobs"]
        assert [(j["status"], j["statusReason"]) for j in jobs] == [
            ("FAILED", "JobQueue deleted"),
            ("FAILED", "Array Child Job failed"),
            ("FAILED", "JobQueue deleted"),
        ]


async def test_job_definitions(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        body = {
            "type": "container",
            "containerProperties": {
                "image": "busybox",
                "command": ["echo", "Ref::x"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}],
            },
            "parameters": {"x": "1"},
            "retryStrategy": {"attempts": 2},
            "tags": {"t": "1"},
        }
        out = await api.batch("register_job_definition", jobDefinitionName="e", **body)
        assert out["revision"] == 1 and out["jobDefinitionArn"] == f"{ARN}:job-definition/e:1"
        out = await api.batch("register_job_definition", jobDefinitionName="e", **body)
        assert out["revision"] == 2
        await api.batch("deregister_job_definition", jobDefinition=f"{ARN}:job-definition/e:1")
        out = await api.batch("register_job_definition", jobDefinitionName="e", **body)
        assert out["revision"] == 3  # revisions are never reused

        async def revs(**kw: Any) -> list[tuple[str, int, str]]:
            page = await api.batch("describe_job_definitions", **kw)
            return [
                (d["jobDefinitionName"], d["revision"], d["status"]) for d in page["jobDefinitions"]
            ]

        assert await revs(jobDefinitionName="e") == [
            ("e", 1, "INACTIVE"),
            ("e", 2, "ACTIVE"),
            ("e", 3, "ACTIVE"),
        ]
        assert await revs(jobDefinitionName="e", status="INACTIVE") == [("e", 1, "INACTIVE")]
        assert await revs(jobDefinitions=["e:2", f"{ARN}:job-definition/d:1"]) == [
            ("d", 1, "ACTIVE"),
            ("e", 2, "ACTIVE"),
        ]
        assert len(await revs()) == 4
        paginator = api.batch_client.get_paginator("describe_job_definitions")
        pages = await api.run(lambda: list(paginator.paginate(PaginationConfig={"PageSize": 3})))
        assert [len(p["jobDefinitions"]) for p in pages] == [3, 1]
        (d,) = (await api.batch("describe_job_definitions", jobDefinitions=["e:3"]))[
            "jobDefinitions"
        ]
        assert d["containerProperties"]["command"] == ["echo", "Ref::x"]
        assert d["retryStrategy"] == {"attempts": 2} and d["tags"] == {"t": "1"}
        assert d["type"] == "container" and d["parameters"] == {"x": "1"}
        msg = await client_error(
            api,
            "register_job_definition",
            jobDefinitionName="bad name",
            type="container",
            containerProperties={"image": "x"},
        )
        assert msg.startswith("jobDefinitionName:")
        msg = await client_error(
            api, "register_job_definition", jobDefinitionName="x", type="container"
        )
        assert "containerProperties" in msg
        msg = await client_error(
            api,
            "register_job_definition",
            jobDefinitionName="x",
            type="container",
            containerProperties={"image": "x", "command": ["y" * 30_000]},
        )
        assert "24 KiB" in msg
        assert "does not exist" in await client_error(
            api, "deregister_job_definition", jobDefinition="e:9"
        )
        assert "revision" in await client_error(api, "deregister_job_definition", jobDefinition="e")
        assert "can't be combined" in await client_error(
            api, "describe_job_definitions", jobDefinitions=["e:1"], status="ACTIVE"
        )


async def test_ec2_plumbing_is_stored_and_echoed_back(tmp_path: Path) -> None:
    """imageId, key pair, launch template and the rest mean nothing on one machine, but AWS
    stores them and clients (CloudFormation, Terraform) read them back: so does abatch, across
    an update and a restart. A Fargate compute environment refuses them, as AWS does."""
    plumbing = {
        "imageId": "ami-0123456789abcdef0",
        "ec2KeyPair": "my-key",
        "placementGroup": "pg",
        "spotIamFleetRole": "arn:aws:iam::123456789012:role/fleet",
        "launchTemplate": {"launchTemplateName": "lt", "version": "$Latest"},
        "ec2Configuration": [{"imageType": "ECS_AL2"}],
    }
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await create_ce(api, "plumbed", {**CR, **plumbing})
        await api.batch(
            "update_compute_environment",
            computeEnvironment="plumbed",
            computeResources={"maxvCpus": 8},
            updatePolicy={"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 10},
        )
        (detail,) = (
            await api.batch("describe_compute_environments", computeEnvironments=["plumbed"])
        )["computeEnvironments"]
        cr = detail["computeResources"]
        assert {k: cr[k] for k in plumbing} == plumbing
        assert cr["maxvCpus"] == 8
        assert detail["updatePolicy"] == {
            "terminateJobsOnUpdate": True,
            "jobExecutionTimeoutMinutes": 10,
        }
        msg = await client_error(
            api,
            "update_compute_environment",
            computeEnvironment="plumbed",
            updatePolicy={"jobExecutionTimeoutMinutes": 400},
        )
        assert "jobExecutionTimeoutMinutes" in msg
        msg = await client_error(
            api,
            "create_compute_environment",
            computeEnvironmentName="far",
            type="MANAGED",
            computeResources={**FARGATE, "imageId": "ami-1"},
        )
        assert "computeResources.imageId" in msg
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        (detail,) = (
            await api.batch("describe_compute_environments", computeEnvironments=["plumbed"])
        )["computeEnvironments"]
        assert detail["computeResources"]["imageId"] == plumbing["imageId"]
