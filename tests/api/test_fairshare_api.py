"""Fair share through botocore: shareIdentifier required on a fair-share queue and refused on a
FIFO one, schedulingPriorityOverride, GetJobQueueSnapshot in fair-share order, ListJobs by
SHARE_IDENTIFIER, and the ClientException for a 501st active share identifier."""

from __future__ import annotations

from pathlib import Path

from abatch.executors.fake import FakeExecutor
from abatch.model.enums import JobStatus as S
from abatch.model.job import SubmitJobRequest

from ..runtime.helpers import FakeClock, wait_for
from .helpers import Api, api_runtime
from .test_jobs import client_error, manual
from .test_resources import order

POLICY = "arn:aws:batch:us-east-1:123456789012:scheduling-policy/fs"


async def fair(api: Api, **fairshare: object) -> None:
    await api.batch("create_scheduling_policy", name="fs", fairsharePolicy=fairshare)
    await api.batch(
        "create_job_queue",
        jobQueueName="fair",
        priority=1,
        computeEnvironmentOrder=order("ce"),
        schedulingPolicyArn=POLICY,
    )


async def submit(api: Api, name: str, ident: str, **kw: object) -> str:
    out = await api.batch(
        "submit_job", jobName=name, jobQueue="fair", jobDefinition="d", shareIdentifier=ident, **kw
    )
    return str(out["jobId"])


async def test_snapshot_shows_fair_share_order(tmp_path: Path) -> None:
    clock = FakeClock()
    async with api_runtime(tmp_path, FakeExecutor(manual), vcpus=1, clock=clock) as api:
        dist = [{"shareIdentifier": "heavy", "weightFactor": 2.0}]
        await fair(api, shareDecaySeconds=3600, shareDistribution=dist)
        assert "shareIdentifier is required" in await client_error(
            api, "submit_job", jobName="x", jobQueue="fair", jobDefinition="d"
        )
        assert "shareIdentifier is not allowed" in await client_error(
            api, "submit_job", jobName="x", jobQueue="q", jobDefinition="d", shareIdentifier="s"
        )
        running = await submit(api, "r", "light")
        await wait_for(api.rt, lambda: api.rt.jobs[running].status is S.RUNNING)
        clock.t += 10  # light: 10 vCPU-s; heavy: none, but it weighs 2
        ids = [
            await submit(api, "h1", "heavy"),
            await submit(api, "l1", "light"),
            await submit(api, "h2", "heavy", schedulingPriorityOverride=7),
            await submit(api, "l2", "light"),
        ]
        await wait_for(api.rt, lambda: all(api.rt.jobs[i].status is S.RUNNABLE for i in ids))
        snap = await api.batch("get_job_queue_snapshot", jobQueue="fair")
        got = [j["jobArn"].rsplit("/", 1)[1] for j in snap["frontOfQueue"]["jobs"]]
        # heavy has no usage: first, its priority-7 job ahead of its older one; then light.
        assert got == [ids[2], ids[0], ids[1], ids[3]]
        assert snap["queueUtilization"]["fairshareUtilization"] == {
            "activeShareCount": 2,
            "topCapacityUtilization": [
                {
                    "shareIdentifier": "light",
                    "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 1.0}],
                }
            ],
        }
        (detail,) = (await api.batch("describe_jobs", jobs=[ids[2]]))["jobs"]
        assert detail["schedulingPriority"] == 7 and detail["shareIdentifier"] == "heavy"
        listed = await api.batch(
            "list_jobs",
            jobQueue="fair",
            jobStatus="RUNNABLE",
            filters=[{"name": "SHARE_IDENTIFIER", "values": ["light"]}],
        )
        assert sorted(j["jobId"] for j in listed["jobSummaryList"]) == sorted([ids[1], ids[3]])


async def test_a_501st_active_share_identifier_is_refused(tmp_path: Path) -> None:
    async with api_runtime(tmp_path, FakeExecutor(manual), clock=FakeClock()) as api:
        await fair(api)
        await api.rt.submit_many(
            [
                SubmitJobRequest.model_validate(
                    {
                        "jobName": "j",
                        "jobQueue": "fair",
                        "jobDefinition": "d",
                        "shareIdentifier": f"u{i}",
                    }
                )
                for i in range(500)
            ]
        )
        msg = await client_error(
            api,
            "submit_job",
            jobName="x",
            jobQueue="fair",
            jobDefinition="d",
            shareIdentifier="new",
        )
        assert "at most 500 active share identifiers" in msg
        await submit(api, "more", "u3")
