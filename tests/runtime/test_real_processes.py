"""Rules about running, on real processes: environment, logs, retries by rule, timeouts of a
job that ignores SIGTERM, array variables, terminate of a running job."""

from __future__ import annotations

import sys
from pathlib import Path

from abatch.model.enums import JobStatus

from .helpers import jd, req, runtime, wait_status

S = JobStatus
PY = sys.executable


async def test_environment_and_log(tmp_path: Path) -> None:
    async with runtime(tmp_path) as rt:
        script = (
            "echo id=$AWS_BATCH_JOB_ID att=$AWS_BATCH_JOB_ATTEMPT "
            "q=$AWS_BATCH_JQ_NAME ce=$AWS_BATCH_CE_NAME; pwd; echo err >&2"
        )
        await rt.register_job_definition(jd("env", ["sh", "-c", script]))
        job = await rt.submit(req("env", definition="env"))
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED, job.status_reason
        attempt = job.attempts[0]
        log = rt.log_path(attempt.log_stream).read_text()
        assert f"id={job.job_id} att=1 q=q ce=ce" in log
        assert f"work/{attempt.task_id}" in log
        assert "err" in log


async def test_retry_by_exit_code_rule_on_real_processes(tmp_path: Path) -> None:
    # Exit 3 on the first attempt, 0 on the second: retried by rule, then succeeds.
    script = 'import os,sys; sys.exit(3 if os.environ["AWS_BATCH_JOB_ATTEMPT"] == "1" else 0)'
    strategy = {
        "attempts": 3,
        "evaluateOnExit": [
            {"onExitCode": "3", "action": "retry"},
            {"onExitCode": "*", "action": "EXIT"},
        ],
    }
    async with runtime(tmp_path) as rt:
        await rt.register_job_definition(jd("flaky", [PY, "-c", script]))
        job = await rt.submit(req("flaky", definition="flaky", retryStrategy=strategy))
        stop = await rt.submit(
            req(
                "stop",
                definition="flaky",
                retryStrategy={
                    "attempts": 3,
                    "evaluateOnExit": [{"onExitCode": "3", "action": "EXIT"}],
                },
            )
        )
        await wait_status(rt, [job, stop])
        assert job.status is S.SUCCEEDED
        assert [a.exit_code for a in job.attempts] == [3, 0]
        assert stop.status is S.FAILED and len(stop.attempts) == 1


async def test_timeout_kills_a_job_that_ignores_sigterm(tmp_path: Path) -> None:
    script = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('started', flush=True); time.sleep(300)"
    )
    async with runtime(tmp_path, grace=0.5) as rt:
        await rt.register_job_definition(jd("stubborn", [PY, "-c", script]))
        job = await rt.submit(
            req(
                "stubborn",
                definition="stubborn",
                timeout={"attemptDurationSeconds": 1},
                retryStrategy={"attempts": 3},
            )
        )
        await wait_status(rt, [job], timeout=60)
        assert job.status is S.FAILED
        assert job.status_reason == "Job attempt duration exceeded timeout"
        assert job.attempts[0].exit_code == 137
        assert len(job.attempts) == 1  # a timed-out attempt is never retried
        assert job.started_at is not None and job.stopped_at is not None
        assert job.stopped_at - job.started_at >= 1000


async def test_array_children_get_their_index_on_real_processes(tmp_path: Path) -> None:
    async with runtime(tmp_path) as rt:
        await rt.register_job_definition(
            jd("idx", ["sh", "-c", "echo $AWS_BATCH_JOB_ARRAY_INDEX/$AWS_BATCH_JOB_ARRAY_SIZE"])
        )
        parent = await rt.submit(req("arr", definition="idx", arrayProperties={"size": 3}))
        await wait_status(rt, [parent])
        assert parent.status is S.SUCCEEDED
        kids = await rt.get_jobs([f"{parent.job_id}:{i}" for i in range(3)])
        logs = [rt.log_path(k.attempts[0].log_stream).read_text().strip() for k in kids]
        assert logs == ["0/3", "1/3", "2/3"]


async def test_terminate_running_process_and_cancel_waiting(tmp_path: Path) -> None:
    async with runtime(tmp_path, vcpus=1) as rt:
        await rt.register_job_definition(jd("sleep", ["sleep", "300"]))
        running = await rt.submit(req("run", definition="sleep"))
        waiting = await rt.submit(req("wait", definition="sleep"))
        await wait_status(rt, [running], S.RUNNING)
        await rt.cancel_job(waiting.job_id, "not needed")
        await rt.terminate_job(running.job_id, "stop now")
        await wait_status(rt, [running, waiting], timeout=60)
        assert (running.status, running.status_reason) == (S.FAILED, "stop now")
        assert running.attempts[0].exit_code == 143
        assert (waiting.status, waiting.status_reason) == (S.FAILED, "not needed")
        assert not waiting.attempts


async def test_missing_binary_fails_the_attempt(tmp_path: Path) -> None:
    async with runtime(tmp_path) as rt:
        await rt.register_job_definition(jd("nope", ["no-such-binary-abatch"]))
        job = await rt.submit(req("nope", definition="nope"))
        ok = await rt.submit(req("ok"))
        await wait_status(rt, [job, ok])
        assert job.status is S.FAILED and job.status_reason == "Task failed to start"
        assert "executable file not found" in (job.attempts[0].reason or "")
        assert ok.status is S.SUCCEEDED
