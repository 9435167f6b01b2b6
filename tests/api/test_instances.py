"""Instances over the API on a real loopback server: ListInstances and ReclaimInstance (local
operations) through ApiClient and the `abatch instances` / `abatch reclaim` commands, and
desiredvCpus in DescribeComputeEnvironments through a real boto3 client: up with demand, and
back down to 0 or to minvCpus once the instances have been idle (a fake clock moved on)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from abatch.cli import main
from abatch.client.http import ApiClient
from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError
from abatch.model.resources import ComputeEnvironment
from abatch.model.runspec import RunSpec
from tests.runtime.helpers import (
    FakeClock,
    jd,
    jq,
    req,
    runtime,
    until_instances,
    wait_for,
    wait_status,
)

from .helpers import client, serving

S = JobStatus


def manual(_: RunSpec) -> FakeOutcome:
    return FakeOutcome(duration=None)


async def in_thread(fn: Any, *args: Any, **kw: Any) -> Any:
    return await anyio.to_thread.run_sync(lambda: fn(*args, **kw))


async def test_list_and_reclaim_over_the_api_and_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, setup=False) as rt:
        ce = ComputeEnvironment.model_validate(
            {
                "computeEnvironmentName": "spot",
                "computeResources": {
                    "type": "SPOT",
                    "maxvCpus": 4,
                    "instanceTypes": ["c5"],
                    "allocationStrategy": "SPOT_PRICE_CAPACITY_OPTIMIZED",
                },
            }
        )
        await rt.put_compute_environment(ce)
        await rt.put_job_queue(jq("q", 1, ["spot"]))
        await rt.register_job_definition(jd(vcpus=2))
        rule = {
            "attempts": 2,
            "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "RETRY"}],
        }
        job = await rt.submit(req("a", retryStrategy=rule))
        await wait_for(rt, lambda: job.status is S.RUNNING)
        state = str(rt.state_dir)
        async with serving(rt) as url:
            batch = await in_thread(client, "batch", url)
            described = await in_thread(batch.describe_compute_environments)
            (detail,) = described["computeEnvironments"]
            assert detail["computeResources"]["desiredvCpus"] == 4  # one c5.xlarge

            api = ApiClient(url)
            (inst,) = await in_thread(api.list_instances)
            assert inst["instanceType"] == "c5.xlarge" and inst["lifecycle"] == "spot"
            assert inst["jobs"] == [{"jobId": job.job_id, "jobName": "a"}]
            assert inst["usedVcpus"] == 2 and inst["hostKey"] == "local"
            arn = "arn:aws:batch:us-east-1:123456789012:compute-environment/spot"
            assert await in_thread(api.list_instances, arn) == [inst]
            with pytest.raises(ClientError, match="does not exist"):
                await in_thread(api.list_instances, "nope")
            with pytest.raises(ClientError, match="not an instance id"):
                await in_thread(api.reclaim_instance, "i-123")
            with pytest.raises(ClientError, match="does not exist"):
                await in_thread(api.reclaim_instance, "i-0123456789abcdef0")

            capsys.readouterr()
            assert await in_thread(main, ["instances", "--state-dir", state]) == 0
            out = capsys.readouterr().out
            assert inst["instanceId"] in out and "c5.xlarge" in out and "spot" in out
            assert (
                await in_thread(main, ["instances", "--ce", "spot", "--json", "--state-dir", state])
                == 0
            )
            assert json.loads(capsys.readouterr().out)["instances"] == [inst]

            iid = inst["instanceId"]
            assert await in_thread(main, ["reclaim", iid, "--state-dir", state]) == 0
            out = capsys.readouterr().out
            assert f"reclaimed {iid}" in out and job.job_id in out
            await wait_for(rt, lambda: len(job.attempts) == 2 and job.status is S.RUNNING)
            assert job.attempts[0].status_reason == f"Host EC2 (instance {iid}) terminated."
            assert job.attempts[1].instance_id != iid
            # DescribeJobs names each attempt's instance.
            (described_job,) = (await in_thread(batch.describe_jobs, jobs=[job.job_id]))["jobs"]
            first = described_job["attempts"][0]
            assert first["statusReason"] == f"Host EC2 (instance {iid}) terminated."
            assert first["container"]["containerInstanceArn"].endswith(f"/spot/{iid}")

            assert await in_thread(main, ["reclaim", iid, "--state-dir", state]) == 2
            assert "does not exist" in capsys.readouterr().err
            assert await in_thread(main, ["instances", "--ce", "nope", "--state-dir", state]) == 2
            assert "nope" in capsys.readouterr().err
            await rt.terminate_job(job.job_id, "done")


@pytest.mark.parametrize(("min_vcpus", "floor"), [(0, 0), (2, 2)])
async def test_desired_vcpus_rises_with_demand_and_falls_when_instances_retire(
    tmp_path: Path, min_vcpus: int, floor: int
) -> None:
    fake, clock = FakeExecutor(manual), FakeClock()
    async with runtime(tmp_path, fake, setup=False, clock=clock) as rt:
        ce = ComputeEnvironment.model_validate(
            {
                "computeEnvironmentName": "fleet",
                "computeResources": {
                    "type": "EC2",
                    "minvCpus": min_vcpus,
                    "maxvCpus": 8,
                    "instanceTypes": ["c5.large"],
                },
                "instanceIdleSeconds": 600,
            }
        )
        await rt.put_compute_environment(ce)
        await rt.put_job_queue(jq("q", 1, ["fleet"]))
        await rt.register_job_definition(jd(vcpus=2, memory=1024))
        await until_instances(rt, lambda: len(rt.instances()) == floor // 2)
        async with serving(rt) as url:
            batch = await in_thread(client, "batch", url)

            async def desired() -> int:
                out = await in_thread(batch.describe_compute_environments)
                (detail,) = out["computeEnvironments"]
                value = detail["computeResources"]["desiredvCpus"]
                assert value == rt.desired_vcpus("fleet")  # the API says what the runtime does
                assert isinstance(value, int)
                return value

            assert await desired() == floor
            jobs = [await rt.submit(req(f"j{i}")) for i in range(4)]
            await wait_for(rt, lambda: all(j.status is S.RUNNING for j in jobs))
            assert await desired() == 8  # four c5.large, one job each
            for j in jobs:
                fake.finish(j.attempts[-1].task_id)
            await wait_status(rt, jobs)
            rt.schedule_once()  # every instance idle from now on the fake clock
            clock.t += 599
            rt.schedule_once()
            assert await desired() == 8  # not idle long enough yet
            clock.t += 2
            rt.wake()
            await until_instances(rt, lambda: len(rt.instances()) == floor // 2)
            assert await desired() == floor
            # Long after, still the floor: what covers minvCpus is never retired.
            clock.t += 100 * 600
            rt.schedule_once()
            assert await desired() == floor
            listed = await in_thread(batch.list_jobs, jobQueue="q", jobStatus="SUCCEEDED")
            assert len(listed["jobSummaryList"]) == 4
