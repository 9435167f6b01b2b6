"""Strict mode through boto3 against the real server: what AWS would refuse is refused,
field by field, with the same words a config file gets (abatch.model.strict)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from abatch.executors.fake import FakeExecutor
from abatch.model.errors import ClientError
from tests.runtime.helpers import ce, jq, runtime

from .helpers import Api, api_runtime
from .test_fargate import container, fargate_queue
from .test_jobs import client_error

STRICT = "in strict mode (AWS's limit)"


def node_def(**node: Any) -> dict[str, Any]:
    return {
        "jobDefinitionName": "mnp",
        "type": "multinode",
        "nodeProperties": {
            "numNodes": 2,
            "mainNode": 0,
            "nodeRangeProperties": [
                {"targetNodes": "0:", "container": {"image": "x", "command": ["true"], **node}}
            ],
        },
    }


async def refused_definition(api: Api, **params: Any) -> str:
    return await client_error(api, "register_job_definition", **params)


async def test_strict_definitions(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor(), strict=True) as api:
        plain = {"jobDefinitionName": "e", "type": "container"}
        msg = await refused_definition(
            api,
            **plain,
            containerProperties={"image": "x", "command": ["true"]},
            timeout={"attemptDurationSeconds": 59},
        )
        assert msg == f"timeout.attemptDurationSeconds: must be at least 60 {STRICT}, got 59"
        # An empty image names none: refused as a missing one (as a config file refuses it).
        msg = await refused_definition(
            api, **plain, containerProperties={"image": "", "command": ["true"]}
        )
        assert msg == f"containerProperties.image: is required {STRICT}"
        msg = await refused_definition(
            api,
            **plain,
            containerProperties={
                "image": "x",
                "resourceRequirements": [{"type": "VCPU", "value": "0.5"}],
            },
        )
        assert msg == (
            "containerProperties.resourceRequirements[0].value: VCPU must be a whole number "
            f"of at least 1 {STRICT} on EC2, got '0.5'"
        )
        # AWS refuses a whole number written as a decimal, too ("Value 1.0 for type VCPU in
        # resourceRequirement is not valid").
        for written in ("1.0", "1e0", "2.00"):
            msg = await refused_definition(
                api,
                **plain,
                containerProperties={
                    "image": "x",
                    "resourceRequirements": [{"type": "VCPU", "value": written}],
                },
            )
            assert msg.endswith(f"on EC2, got {written!r}")
        # A multi-node definition's containers are held to the same rules when registered,
        # not only once a job is submitted (a config file refused them already).
        node = "nodeProperties.nodeRangeProperties[0].container"
        bare = node_def()
        del bare["nodeProperties"]["nodeRangeProperties"][0]["container"]["image"]
        msg = await refused_definition(api, **bare)
        assert msg == f"{node}.image: is required {STRICT}"
        msg = await refused_definition(
            api, **node_def(resourceRequirements=[{"type": "VCPU", "value": "1.5"}])
        )
        assert msg.startswith(f"{node}.resourceRequirements[0].value: VCPU must be a whole")
        await api.batch("register_job_definition", **node_def())
        fine = await api.batch(
            "register_job_definition",
            **plain,
            containerProperties={
                "image": "x",
                "command": ["true"],
                "resourceRequirements": [{"type": "VCPU", "value": "2"}],
            },
            timeout={"attemptDurationSeconds": 60},
        )
        assert fine["revision"] == 1


async def test_relaxed_mode_takes_them(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        bare = node_def(resourceRequirements=[{"type": "VCPU", "value": "0.5"}])
        del bare["nodeProperties"]["nodeRangeProperties"][0]["container"]["image"]
        assert (await api.batch("register_job_definition", **bare))["revision"] == 1


async def test_strict_submissions(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor(), strict=True, vcpus=4) as api:
        base = {"jobName": "j", "jobQueue": "q"}
        msg = await client_error(
            api,
            "submit_job",
            **base,
            jobDefinition="d",
            timeout={"attemptDurationSeconds": 59},
        )
        assert msg == f"timeout.attemptDurationSeconds: must be at least 60 {STRICT}, got 59"
        msg = await client_error(
            api,
            "submit_job",
            **base,
            jobDefinition="d",
            containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "1.5"}]},
        )
        # Named as the request gives it, not as the merged spec holds it.
        assert msg.startswith(
            "containerOverrides.resourceRequirements[0].value: VCPU must be a whole"
        )
        await api.batch("register_job_definition", **node_def())
        node_vcpus = {
            "nodePropertyOverrides": [
                {
                    "targetNodes": "0:",
                    "containerOverrides": {
                        "resourceRequirements": [{"type": "VCPU", "value": "0.5"}]
                    },
                }
            ]
        }
        msg = await client_error(
            api, "submit_job", **base, jobDefinition="mnp", nodeOverrides=node_vcpus
        )
        assert msg.startswith(
            "nodeOverrides.nodePropertyOverrides[0].containerOverrides.resourceRequirements[0]"
            ".value: VCPU must be a whole"
        )
        # Fractional vCPUs are Fargate's sizes: an override to one is fine there.
        await fargate_queue(api)
        await api.batch(
            "register_job_definition",
            jobDefinitionName="fg",
            type="container",
            platformCapabilities=["FARGATE"],
            containerProperties=container(),
        )
        out = await api.batch(
            "submit_job",
            jobName="f",
            jobQueue="fq",
            jobDefinition="fg",
            containerOverrides={
                "resourceRequirements": [
                    {"type": "VCPU", "value": "0.5"},
                    {"type": "MEMORY", "value": "1024"},
                ]
            },
        )
        assert out["jobId"]


async def test_fifty_compute_environments_and_queues_in_every_mode(tmp_path: Path) -> None:
    # AWS's per-region limit (abatch.model.strict.AWS_MAX_PER_REGION): a config file may go
    # past it unless strict; the API never does.
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        for i in range(len(api.rt.registry.compute_environments), 50):
            await api.rt.put_compute_environment(ce(f"ce{i}"))
        for i in range(len(api.rt.registry.job_queues), 50):
            await api.rt.put_job_queue(jq(f"q{i}", 1))
        msg = await client_error(
            api,
            "create_compute_environment",
            computeEnvironmentName="one-more",
            type="MANAGED",
            computeResources={"type": "EC2", "maxvCpus": 1, "subnets": ["s"]},
        )
        assert msg == "at most 50 compute environments"
        msg = await client_error(
            api,
            "create_job_queue",
            jobQueueName="one-more",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
        )
        assert msg == "at most 50 job queues"


def queues_config(count: int) -> str:
    head = (
        "[runtime]\nstrict = true\n"
        '[[compute_environment]]\nname = "ce"\ntype = "MANAGED"\nexecutor = "process"\n'
        '[compute_environment.compute_resources]\ntype = "EC2"\nmax_vcpus = 2\n'
    )
    return head + "".join(
        f'[[job_queue]]\nname = "file{i}"\npriority = 1\n'
        'compute_environment_order = [{ order = 1, compute_environment = "ce" }]\n'
        for i in range(count)
    )


async def test_strict_config_apply_counts_what_the_state_directory_has(tmp_path: Path) -> None:
    # The file alone is within 50, but with the queues made through the API it is not: in
    # strict mode nothing is applied, and the message says where the rest come from.
    from abatch.config import parse_config

    async with runtime(tmp_path, FakeExecutor(), strict=True) as rt:
        for i in range(8):  # with `q` and `high`: 10 queues already
            await rt.create_job_queue(jq(f"api{i}", 1))
        before = set(rt.registry.job_queues)
        with pytest.raises(ClientError) as err:
            await rt.apply(parse_config(queues_config(45)))
        assert str(err.value) == (
            f"at most 50 job queues {STRICT}, not 55: the config declares 45 and 10 more are "
            "already in the state directory; delete some or leave strict mode"
        )
        assert set(rt.registry.job_queues) == before
        # Within the limit it applies; applying it again counts each name once.
        await rt.apply(parse_config(queues_config(40)))
        assert len(rt.registry.job_queues) == 50
        report = await rt.apply(parse_config(queues_config(40)))
        assert len(rt.registry.job_queues) == 50 and not report.changed
