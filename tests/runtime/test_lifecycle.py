"""Runtime lifecycles on the fake executor and a real SQLite store: states, history, priority,
capacity, retries, cancel/terminate, restart. Driven by the runtime's own events, no sleeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import ExecutorKind, JobStatus, ResourceState
from abatch.model.errors import ClientError, NotFoundError, StateDirLockedError
from abatch.model.resources import JobDefinition
from abatch.model.runspec import RunSpec
from abatch.runtime import open_runtime
from abatch.scheduler.placement import REASON_MAX_CPU

from .helpers import ce, jd, jq, req, runtime, settings, wait_for, wait_status

S = JobStatus
MANUAL = FakeOutcome(duration=None)


def manual(_: RunSpec) -> FakeOutcome:
    return MANUAL


async def test_job_goes_through_every_state_and_is_recorded(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("a"))
        assert job.status is S.SUBMITTED  # observable before the scheduler moves it
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert [s for s, _ in job.history] == [
            S.SUBMITTED,
            S.RUNNABLE,
            S.STARTING,
            S.RUNNING,
            S.SUCCEEDED,
        ]
        times = [t for _, t in job.history]
        assert times == sorted(times)
        job_id = job.job_id
    async with runtime(tmp_path, FakeExecutor(), setup=False) as rt:
        (stored,) = await rt.get_jobs([job_id])
        assert stored.status is S.SUCCEEDED
        assert [s for s, _ in stored.history][-1] is S.SUCCEEDED
        (attempt,) = stored.attempts
        assert attempt.exit_code == 0
        assert attempt.started_at is not None and attempt.stopped_at is not None
        assert attempt.log_stream.startswith("d/default/")
        assert stored.status_reason == "Essential container in task exited"


async def test_environment_given_to_the_executor(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("a"))
        await wait_status(rt, [job])
    env = fake.started[0].env
    assert env["AWS_BATCH_JOB_ID"] == job.job_id
    assert env["AWS_BATCH_JOB_ATTEMPT"] == "1"
    assert env["AWS_BATCH_JQ_NAME"] == "q"
    assert env["AWS_BATCH_CE_NAME"] == "ce"
    assert "AWS_BATCH_JOB_ID" not in str(job.to_detail()["container"].get("environment"))


async def test_capacity_limits_concurrency_and_comes_back(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=2) as rt:
        jobs = await rt.submit_many([req(f"j{i}") for i in range(5)])
        await wait_for(rt, lambda: len(fake.running) == 2)
        assert [j.status for j in jobs] == [
            S.RUNNING,
            S.RUNNING,
            S.RUNNABLE,
            S.RUNNABLE,
            S.RUNNABLE,
        ]
        assert jobs[2].status_reason is not None
        assert jobs[2].status_reason.startswith("WAITING_FOR_CAPACITY - needs 1 vCPU")
        assert rt.explain(jobs[3]) is not None and "behind job" in str(rt.explain(jobs[3]))
        fake.finish(fake.started[0].key)
        await wait_for(rt, lambda: jobs[2].status is S.RUNNING)
        assert rt.pools["ce"].used_vcpus == 2
        for _ in range(4):
            await wait_for(rt, lambda: len(fake.running) > 0)
            fake.finish(next(iter(fake.running)))
        await wait_status(rt, jobs)
        assert all(j.status is S.SUCCEEDED for j in jobs)
        assert rt.pools["ce"].used_vcpus == 0 and rt.pools["ce"].used_memory == 0


async def test_higher_priority_queue_first_and_fifo_inside(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        blocker = await rt.submit(req("blocker"))
        await wait_status(rt, [blocker], S.RUNNING)
        low = await rt.submit_many([req("low1"), req("low2")])
        high = await rt.submit_many([req("high1", "high"), req("high2", "high")])
        order = []
        for _ in range(5):
            await wait_for(rt, lambda: len(fake.running) == 1)
            key = next(iter(fake.running))
            order.append(next(s.env["AWS_BATCH_JOB_ID"] for s in fake.started if s.key == key))
            fake.finish(key)
        names = {j.job_id: j.job_name for j in [blocker, *low, *high]}
        assert [names[i] for i in order] == ["blocker", "high1", "high2", "low1", "low2"]


async def test_job_that_never_fits_blocks_with_misconfiguration(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        await rt.register_job_definition(jd("big", vcpus=64))
        big = await rt.submit(req("big", definition="big"))
        after = await rt.submit(req("after"))
        await wait_for(
            rt, lambda: big.status_reason == REASON_MAX_CPU and after.status is S.RUNNABLE
        )
        assert big.status is S.RUNNABLE
        await rt.cancel_job(big.job_id, "too big")
        await wait_status(rt, [after])
        assert big.status is S.FAILED and big.status_reason == "too big" and big.is_cancelled
        assert after.status is S.SUCCEEDED


async def test_failed_attempt_retried_at_the_front(tmp_path: Path) -> None:
    outcomes = iter([FakeOutcome(exit_code=3), FakeOutcome(exit_code=0)])
    fake = FakeExecutor(lambda spec: next(outcomes) if spec.env["AWS_BATCH_JOB_ID"] else MANUAL)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        job = await rt.submit(req("flaky", retryStrategy={"attempts": 2}))
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert [a.exit_code for a in job.attempts] == [3, 0]
        assert [s.env["AWS_BATCH_JOB_ATTEMPT"] for s in fake.started] == ["1", "2"]
        statuses = [s for s, _ in job.history]
        assert statuses.count(S.RUNNABLE) == 2


async def test_nonzero_exit_fails_without_retry(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(exit_code=7))
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("bad"))
        await wait_status(rt, [job])
        assert job.status is S.FAILED and job.exit_code() == 7
        assert job.status_reason == "Essential container in task exited"


async def test_start_error_fails_the_attempt_not_the_runtime(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(start_error="CannotStartContainerError: x"))
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("nope"))
        await wait_status(rt, [job])
        assert job.status is S.FAILED
        assert job.status_reason == "Task failed to start"
        assert job.attempts[0].reason == "CannotStartContainerError: x"
        assert rt.pools["ce"].used_vcpus == 0
        fake.script = lambda spec: FakeOutcome()
        ok = await rt.submit(req("ok"))
        await wait_status(rt, [ok])
        assert ok.status is S.SUCCEEDED


async def test_terminate_running_and_cancel_is_noop_on_running(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake) as rt:
        job = await rt.submit(req("long", retryStrategy={"attempts": 3}))
        await wait_status(rt, [job], S.RUNNING)
        await rt.cancel_job(job.job_id, "cancel me")
        assert job.status is S.RUNNING
        await rt.terminate_job(job.job_id, "stop it")
        await wait_status(rt, [job])
        assert job.status is S.FAILED and job.status_reason == "stop it" and job.is_terminated
        assert len(job.attempts) == 1  # never retried
        with pytest.raises(NotFoundError):
            await rt.cancel_job("no-such-job", "x")
        await rt.terminate_job(job.job_id, "again")  # terminal: a no-op
        assert job.status_reason == "stop it"


async def test_submission_errors(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        with pytest.raises(NotFoundError, match=r"job queue 'qq' does not exist.*did you mean 'q'"):
            await rt.submit(req("a", queue="qq"))
        with pytest.raises(NotFoundError, match="job definition 'dd' does not exist"):
            await rt.submit(req("a", definition="dd"))
        with pytest.raises(NotFoundError, match="d:9 does not exist"):
            await rt.submit(req("a", definition="d:9"))
        await rt.put_job_queue(jq("q", 1, state=ResourceState.DISABLED))
        with pytest.raises(ClientError, match="DISABLED"):
            await rt.submit(req("a"))


async def test_definition_revisions_and_submit_by_name_rev_and_arn(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake) as rt:
        second = await rt.register_job_definition(jd(command=["echo", "two"]))
        assert second.revision == 2
        await rt.deregister_job_definition("d", 2)
        by_name = await rt.submit(req("a"))
        assert by_name.job_definition == "d:1"  # latest ACTIVE
        third = await rt.register_job_definition(jd(command=["echo", "three"]))
        assert third.revision == 3  # never reused
        by_arn = await rt.submit(req("b", definition=third.arn))
        by_rev = await rt.submit(req("c", definition="d:1"))
        assert (by_arn.job_definition, by_rev.job_definition) == ("d:3", "d:1")
        with pytest.raises(ClientError, match="INACTIVE"):
            await rt.submit(req("x", definition="d:2"))
        _, what = await rt.ensure_job_definition(jd(command=["echo", "three"]))
        assert what == "unchanged"


async def test_disabled_compute_environment_gets_no_new_jobs(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake) as rt:
        await rt.put_compute_environment(ce(state="DISABLED"))
        job = await rt.submit(req("a"))
        await wait_for(
            rt, lambda: job.status_reason is not None and "DISABLED" in job.status_reason
        )
        assert job.status is S.RUNNABLE and not fake.started
        await rt.put_compute_environment(ce())
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED


async def test_waiting_jobs_survive_a_restart(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        jobs = await rt.submit_many([req(f"j{i}") for i in range(4)])
        await wait_status(rt, jobs[:1], S.RUNNING)
        ids = [j.job_id for j in jobs]
    # Stopping interrupted the running attempt and queued it again.
    assert jobs[0].status is S.RUNNABLE
    async with runtime(tmp_path, FakeExecutor(), setup=False, vcpus=1) as rt:
        restored = [rt.jobs[i] for i in ids]
        await wait_status(rt, restored)
        assert all(j.status is S.SUCCEEDED for j in restored)
        # The interrupted attempt stays visible and did not use up the retry budget.
        assert len(restored[0].attempts) == 2
        assert restored[0].attempts[0].status_reason is not None
        assert "interrupted" in restored[0].attempts[0].status_reason


async def test_second_runtime_on_same_state_dir_refused(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor()):
        with pytest.raises(StateDirLockedError, match=r"in use by the runtime with pid \d+"):
            async with open_runtime(settings(tmp_path)):
                pass
    async with open_runtime(settings(tmp_path)):
        pass  # released on stop


async def test_job_state_time_limit_cancels_a_blocked_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with runtime(tmp_path, FakeExecutor()) as rt:
        limit = {
            "reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
            "state": "RUNNABLE",
            "maxTimeSeconds": 600,
            "action": "CANCEL",
        }
        await rt.put_job_queue(jq("q", 1, jobStateTimeLimitActions=[limit]))
        await rt.register_job_definition(jd("big", vcpus=64))
        big = await rt.submit(req("big", definition="big"))
        after = await rt.submit(req("after"))
        await wait_for(rt, lambda: big.status_reason == REASON_MAX_CPU)
        assert big.status is S.RUNNABLE
        real = rt.clock
        monkeypatch.setattr(rt, "clock", lambda: real() + 601.0)
        rt.wake()
        await wait_status(rt, [big, after])
        assert big.status is S.FAILED
        assert big.status_reason == (
            "Canceled by JobStateTimeLimit action due to reason: "
            "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
        )
        assert after.status is S.SUCCEEDED


async def test_retried_job_goes_to_the_front_of_its_queue(tmp_path: Path) -> None:
    ids: dict[str, str] = {}

    def script(spec: RunSpec) -> FakeOutcome:
        flaky = spec.env["AWS_BATCH_JOB_ID"] == ids.get("flaky")
        first_try = spec.env["AWS_BATCH_JOB_ATTEMPT"] == "1"
        return FakeOutcome(exit_code=1 if flaky and first_try else 0)

    fake = FakeExecutor(script)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        blocker = await rt.submit(req("blocker"))  # holds the only vCPU until released
        fake.script = lambda spec: (
            MANUAL if spec.env["AWS_BATCH_JOB_ID"] == blocker.job_id else script(spec)
        )
        await wait_status(rt, [blocker], S.RUNNING)
        flaky = await rt.submit(req("flaky", retryStrategy={"attempts": 2}))
        ids["flaky"] = flaky.job_id
        others = await rt.submit_many([req("other1"), req("other2")])
        await wait_for(rt, lambda: all(j.status is S.RUNNABLE for j in [flaky, *others]))
        fake.finish(fake.started[0].key)
        await wait_status(rt, [flaky, *others])
        order = [s.env["AWS_BATCH_JOB_ID"] for s in fake.started[1:]]
        names = {flaky.job_id: "flaky", **{o.job_id: o.job_name for o in others}}
        assert [names[i] for i in order] == ["flaky", "flaky", "other1", "other2"]


async def test_strict_mode_refuses_what_aws_would(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(), strict=True) as rt:
        with pytest.raises(ClientError, match="at least 60"):
            await rt.register_job_definition(jd("t", timeout={"attemptDurationSeconds": 5}))
        with pytest.raises(ClientError, match="whole number"):
            await rt.register_job_definition(
                JobDefinition.model_validate(
                    {
                        "jobDefinitionName": "half",
                        "containerProperties": {
                            "image": "x",
                            "command": ["true"],
                            "resourceRequirements": [{"type": "VCPU", "value": "0.5"}],
                        },
                    }
                )
            )
        with pytest.raises(ClientError, match="at least 60"):
            await rt.submit(req("a", timeout={"attemptDurationSeconds": 1}))
    async with runtime(tmp_path / "relaxed", FakeExecutor()) as rt:
        job = await rt.submit(req("a", timeout={"attemptDurationSeconds": 1}))
        assert job.spec["timeout"] == {"attemptDurationSeconds": 1}


async def test_unknown_ids_left_out_and_fields_omitted_until_they_apply(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=1) as rt:
        running = await rt.submit(req("running"))
        waiting = await rt.submit(req("waiting"))
        await wait_status(rt, [running], S.RUNNING)
        found = await rt.get_jobs([waiting.job_id, "no-such-id", running.job_id])
        assert [j.job_id for j in found] == [waiting.job_id, running.job_id]
        detail = waiting.to_detail()
        assert "startedAt" not in detail and "stoppedAt" not in detail
        assert detail["attempts"] == []
        assert isinstance(detail["createdAt"], int) and detail["createdAt"] > 1_600_000_000_000
        live = running.to_detail()
        assert isinstance(live["startedAt"], int) and "stoppedAt" not in live
        assert live["jobQueue"].startswith("arn:aws:batch:us-east-1:123456789012:job-queue/")
        assert live["jobDefinition"].endswith(":job-definition/d:1")


async def test_ref_substitution_only_in_command(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake) as rt:
        await rt.register_job_definition(
            JobDefinition.model_validate(
                {
                    "jobDefinitionName": "p",
                    "parameters": {"word": "default"},
                    "containerProperties": {
                        "image": "x",
                        "command": ["echo", "Ref::word"],
                        "environment": [{"name": "W", "value": "Ref::word"}],
                    },
                }
            )
        )
        job = await rt.submit(req("a", definition="p", parameters={"word": "given"}))
        await wait_status(rt, [job])
    spec = fake.started[0]
    assert spec.argv == ("echo", "given")
    assert spec.env["W"] == "Ref::word"


async def test_local_settings_of_a_compute_environment_survive_a_restart(tmp_path: Path) -> None:
    settings = {
        "executor": "docker",
        "memory": 3000,
        "gpus": 2,
        "docker_host": "tcp://10.0.0.2:2375",
        "keep_containers": True,
    }
    async with runtime(tmp_path, FakeExecutor(), setup=False) as rt:
        await rt.put_compute_environment(ce("d", **settings))
    async with runtime(tmp_path, FakeExecutor(), setup=False) as rt:
        stored = rt.registry.compute_environments["d"]
        assert {k: getattr(stored, k) for k in settings} == {
            **settings,
            "executor": ExecutorKind.DOCKER,
        }
        assert rt.pools["d"].memory == 3000 and rt.pools["d"].gpus == 2
        assert await rt.put_compute_environment(ce("d", **settings)) == "unchanged"
        assert "executor" not in stored.to_aws() and "dockerHost" not in stored.to_aws()


async def test_a_batch_checks_every_queue_and_definition_pair_and_is_all_or_none(
    tmp_path: Path,
) -> None:
    """A submission resolves each (queue, definition) pair once for all its requests, yet a
    request naming another pair is checked in full: a Fargate definition on an EC2 queue
    late in the batch refuses the whole batch, and nothing is stored."""
    async with runtime(tmp_path, FakeExecutor(manual)) as rt:
        await rt.register_job_definition(
            jd(
                "fd",
                vcpus=1,
                memory=2048,
                platformCapabilities=["FARGATE"],
                containerProperties={
                    "image": "busybox",
                    "command": ["true"],
                    "executionRoleArn": "arn:aws:iam::123456789012:role/x",
                    "resourceRequirements": [
                        {"type": "VCPU", "value": "1"},
                        {"type": "MEMORY", "value": "2048"},
                    ],
                },
            )
        )
        batch = [req(f"a{i}") for i in range(5)] + [req("b", definition="fd"), req("c")]
        with pytest.raises(ClientError, match="can not run Jobs with capability FARGATE"):
            await rt.submit_many(batch)
        await rt.update_job_queue("high", {"state": "DISABLED"})
        batch = [req(f"a{i}") for i in range(5)] + [req("h", queue="high"), req("c")]
        with pytest.raises(ClientError, match="DISABLED"):
            await rt.submit_many(batch)
        assert not rt.jobs
        for status in ("SUBMITTED", "RUNNABLE", "RUNNING"):
            assert await rt.list_jobs(job_queue="q", job_status=status) == ([], None)
        ok = await rt.submit_many([req(f"a{i}") for i in range(5)])
        assert len(ok) == 5
