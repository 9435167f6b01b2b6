"""Instances over the API on a real loopback server: ListInstances and ReclaimInstance (local
operations) through ApiClient and the `abatch instances` / `abatch reclaim` commands, and
desiredvCpus in DescribeComputeEnvironments through a real boto3 client."""

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
from tests.runtime.helpers import jd, jq, req, runtime, wait_for

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
