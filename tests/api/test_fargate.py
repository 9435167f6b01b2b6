"""Fargate through boto3 against the real server: definitions, compute environments and
jobs with Fargate's sizes and restrictions (reference §9), each refusal naming its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abatch.executors.fake import FakeExecutor
from abatch.model.enums import JobStatus
from tests.runtime.helpers import wait_for

from .helpers import Api, api_runtime
from .test_jobs import client_error

ROLE = "arn:aws:iam::123456789012:role/exec"
FARGATE_CR = {"type": "FARGATE", "maxvCpus": 4, "subnets": ["subnet-1"]}


def container(vcpus: str = "0.25", memory: str = "512", **kw: Any) -> dict[str, Any]:
    return {
        "image": "busybox",
        "command": ["true"],
        "executionRoleArn": ROLE,
        "resourceRequirements": [
            {"type": "VCPU", "value": vcpus},
            {"type": "MEMORY", "value": memory},
        ],
        **kw,
    }


async def register(api: Api, name: str, props: dict[str, Any], **kw: Any) -> Any:
    return await api.batch(
        "register_job_definition",
        jobDefinitionName=name,
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties=props,
        **kw,
    )


async def refused_definition(api: Api, props: dict[str, Any], **kw: Any) -> str:
    return await client_error(
        api,
        "register_job_definition",
        jobDefinitionName="bad",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties=props,
        **kw,
    )


async def fargate_queue(api: Api) -> None:
    await api.batch(
        "create_compute_environment",
        computeEnvironmentName="fg",
        type="MANAGED",
        computeResources=FARGATE_CR,
    )
    await api.batch(
        "create_job_queue",
        jobQueueName="fq",
        priority=1,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "fg"}],
    )


async def test_definitions_take_only_fargate_sizes_and_fields(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        out = await register(api, "small", container())
        assert out["revision"] == 1
        await register(api, "big", container("16", "122880"))
        cases = [
            (container("0.25", "4096"), "containerProperties.resourceRequirements: MEMORY 4096"),
            (container("0.3", "1024"), "VCPU 0.3 is not a Fargate size"),
            (
                {**container(), "resourceRequirements": [], "vcpus": 1, "memory": 2048},
                "containerProperties.vcpus: not allowed on Fargate",
            ),
            (container(privileged=True), "containerProperties.privileged: not allowed"),
            (
                container(linuxParameters={"sharedMemorySize": 64}),
                "containerProperties.linuxParameters.sharedMemorySize: not allowed",
            ),
            (
                container(volumes=[{"name": "h", "host": {"sourcePath": "/srv"}}]),
                "containerProperties.volumes[0].host: host volumes are not allowed",
            ),
            (
                {k: v for k, v in container().items() if k != "executionRoleArn"},
                "containerProperties.executionRoleArn: is required on Fargate",
            ),
            (
                {
                    **container(),
                    "resourceRequirements": [
                        *container()["resourceRequirements"],
                        {"type": "GPU", "value": "1"},
                    ],
                },
                "containerProperties.resourceRequirements[2]: GPU is not available on Fargate",
            ),
        ]
        for props, message in cases:
            assert message in await refused_definition(api, props)
        msg = await client_error(
            api,
            "register_job_definition",
            jobDefinitionName="mnp",
            type="multinode",
            platformCapabilities=["FARGATE"],
            nodeProperties={
                "numNodes": 2,
                "mainNode": 0,
                "nodeRangeProperties": [{"targetNodes": "0:", "container": container()}],
            },
        )
        assert "multi-node parallel job definitions are not allowed on Fargate" in msg
        msg = await client_error(
            api,
            "register_job_definition",
            jobDefinitionName="x",
            type="container",
            platformCapabilities=["EC2", "FARGATE"],
            containerProperties=container(),
        )
        assert "must be ['EC2'] or ['FARGATE']" in msg


async def test_compute_environment_rules(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:

        async def refused(**cr: Any) -> str:
            return await client_error(
                api,
                "create_compute_environment",
                computeEnvironmentName="bad",
                type="MANAGED",
                computeResources={**FARGATE_CR, **cr},
            )

        assert "computeResources.minvCpus: not allowed" in await refused(minvCpus=0)
        assert "computeResources.desiredvCpus: not allowed" in await refused(desiredvCpus=1)
        assert "computeResources.instanceTypes: not allowed" in await refused(
            instanceTypes=["optimal"]
        )
        assert "computeResources.allocationStrategy: not allowed" in await refused(
            allocationStrategy="BEST_FIT_PROGRESSIVE"
        )
        assert "computeResources.bidPercentage: not allowed" in await refused(
            type="FARGATE_SPOT", bidPercentage=50
        )
        msg = await refused(subnets=[f"subnet-{i}" for i in range(17)])
        assert "computeResources.subnets: at most 16 on Fargate, not 17" in msg
        await fargate_queue(api)
        # Updates: maxvCpus (and subnets) may change; min/desired vCPUs may not.
        await api.batch(
            "update_compute_environment", computeEnvironment="fg", computeResources={"maxvCpus": 8}
        )
        assert api.rt.registry.compute_environments["fg"].max_vcpus == 8
        for field, value in (("minvCpus", 1), ("desiredvCpus", 2)):
            msg = await client_error(
                api,
                "update_compute_environment",
                computeEnvironment="fg",
                computeResources={field: value},
            )
            assert f"computeResources.{field}: not allowed" in msg
        msg = await client_error(
            api,
            "update_compute_environment",
            computeEnvironment="fg",
            computeResources={"type": "EC2"},
        )
        assert "can't change between EC2/SPOT and FARGATE" in msg


async def test_jobs_get_exactly_their_fargate_size(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await fargate_queue(api)
        await register(api, "fd", container("0.5", "1024"))
        job_id = (
            await api.batch(
                "submit_job",
                jobName="sized",
                jobQueue="fq",
                jobDefinition="fd",
                containerOverrides={
                    "resourceRequirements": [
                        {"type": "VCPU", "value": "2"},
                        {"type": "MEMORY", "value": "4096"},
                    ]
                },
            )
        )["jobId"]
        await wait_for(api.rt, lambda: job_id not in api.rt.jobs)
        (job,) = await api.rt.get_jobs([job_id])
        assert job.status is JobStatus.SUCCEEDED
        assert (job.vcpus, job.memory, job.ce) == (2.0, 4096, "fg")
        (detail,) = (await api.batch("describe_jobs", jobs=[job_id]))["jobs"]
        assert detail["platformCapabilities"] == ["FARGATE"]
        assert {r["type"]: r["value"] for r in detail["container"]["resourceRequirements"]} == {
            "VCPU": "2",
            "MEMORY": "4096",
        }
        # An override that leaves the table is refused, naming the field.
        msg = await client_error(
            api,
            "submit_job",
            jobName="x",
            jobQueue="fq",
            jobDefinition="fd",
            containerOverrides={"resourceRequirements": [{"type": "MEMORY", "value": "8192"}]},
        )
        assert "runs on Fargate" in msg
        assert "resourceRequirements: MEMORY 8192 does not go with VCPU 0.5" in msg
        msg = await client_error(
            api,
            "submit_job",
            jobName="x",
            jobQueue="fq",
            jobDefinition="fd",
            containerOverrides={"resourceRequirements": [{"type": "GPU", "value": "1"}]},
        )
        assert "GPU is not available on Fargate" in msg
        # Platforms must match: an EC2 definition on a Fargate queue and the other way round.
        msg = await client_error(api, "submit_job", jobName="x", jobQueue="fq", jobDefinition="d")
        assert "can not run Jobs with capability EC2" in msg
        msg = await client_error(api, "submit_job", jobName="x", jobQueue="q", jobDefinition="fd")
        assert "can not run Jobs with capability FARGATE" in msg
