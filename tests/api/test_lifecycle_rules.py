"""AWS's compute environment and job queue lifecycle rules through boto3 that the broader
tests in test_resources.py leave out: the rules on updates, and UNMANAGED counting as EC2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from tests.runtime.helpers import wait_for

from .helpers import Api, api_runtime
from .test_jobs import client_error, submit
from .test_resources import CR, FARGATE, create_ce, order


async def queue(api: Api, name: str, *ces: str) -> Any:
    return await api.batch(
        "create_job_queue", jobQueueName=name, priority=1, computeEnvironmentOrder=order(*ces)
    )


async def test_queue_updates_keep_the_rules(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        for name in ("c2", "c3", "c4"):
            await create_ce(api, name)
        await create_ce(api, "fg", FARGATE)
        await queue(api, "jq", "ce")
        msg = await client_error(
            api, "update_job_queue", jobQueue="jq", computeEnvironmentOrder=order("ce", "fg")
        )
        assert "mix" in msg
        msg = await client_error(
            api,
            "update_job_queue",
            jobQueue="jq",
            computeEnvironmentOrder=order("ce", "c2", "c3", "c4"),
        )
        assert "computeEnvironmentOrder" in msg and "at most 3" in msg
        await api.batch(
            "update_job_queue", jobQueue="jq", computeEnvironmentOrder=order("ce", "c2", "c3")
        )
        assert api.rt.registry.job_queues["jq"].ce_names() == ["ce", "c2", "c3"]
        # An UNMANAGED compute environment counts as EC2.
        await api.batch(
            "create_compute_environment",
            computeEnvironmentName="own",
            type="UNMANAGED",
            unmanagedvCpus=4,
        )
        assert "mix" in await client_error(
            api,
            "create_job_queue",
            jobQueueName="x",
            priority=1,
            computeEnvironmentOrder=order("own", "fg"),
        )
        await queue(api, "mixed-ec2", "own", "ce")


async def test_compute_environment_updates_keep_the_rules(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor()) as api:
        await create_ce(api, "e", {**CR, "minvCpus": 2, "maxvCpus": 8})

        async def refused(**cr: Any) -> str:
            return await client_error(
                api, "update_compute_environment", computeEnvironment="e", computeResources=cr
            )

        assert "min_vcpus (2) is larger than max_vcpus (1)" in await refused(maxvCpus=1)
        assert "min_vcpus (9) is larger than max_vcpus (8)" in await refused(minvCpus=9)
        assert "BEST_FIT" in await refused(allocationStrategy="BEST_FIT")
        assert "can't change between EC2/SPOT and FARGATE" in await refused(type="FARGATE")
        await api.batch(
            "update_compute_environment",
            computeEnvironment="e",
            computeResources={"allocationStrategy": "BEST_FIT_PROGRESSIVE", "maxvCpus": 16},
        )
        cr = api.rt.registry.compute_environments["e"].compute_resources
        assert cr is not None and (cr.max_vcpus, cr.min_vcpus) == (16, 2)
        assert cr.allocation_strategy is not None
        assert cr.allocation_strategy.value == "BEST_FIT_PROGRESSIVE"
        msg = await client_error(
            api, "update_compute_environment", computeEnvironment="e", unmanagedvCpus=4
        )
        assert "UNMANAGED" in msg


async def test_delete_order_disable_detach_and_no_running_attempt(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    async with api_runtime(tmp_path, fake) as api:
        await create_ce(api, "spare")
        job = await submit(api, "long")
        await wait_for(api.rt, lambda: api.rt.jobs[job].status is JobStatus.RUNNING)
        assert "must be DISABLED" in await client_error(
            api, "delete_compute_environment", computeEnvironment="ce"
        )
        await api.batch("update_compute_environment", computeEnvironment="ce", state="DISABLED")
        assert "still attached to job queue(s) high, q" in await client_error(
            api, "delete_compute_environment", computeEnvironment="ce"
        )
        for name in ("q", "high"):
            await api.batch(
                "update_job_queue", jobQueue=name, computeEnvironmentOrder=order("spare")
            )
        # Disabled and detached, but its job still runs there (AWS would kill it).
        assert "still has 1 attempt(s) running" in await client_error(
            api, "delete_compute_environment", computeEnvironment="ce"
        )
        fake.finish(next(iter(fake.running)))
        await wait_for(api.rt, lambda: not api.rt.running)
        await api.batch("delete_compute_environment", computeEnvironment="ce")
        assert "ce" not in api.rt.registry.compute_environments and "ce" not in api.rt.pools
