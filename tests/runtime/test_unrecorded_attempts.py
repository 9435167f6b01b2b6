"""A process attempt starts before the store commits it: the supervisor's journal is what
remembers it. When a runtime dies between the start and that commit, the next runtime finds
the attempt in the journal and puts it back on its job (running or already exited), so the
job never runs a second time. Anything in the journal that matches no unstarted attempt is
stopped as before.

The dead runtime is played by hand: a job is submitted and left RUNNABLE (its compute
environment disabled), then the attempt is started through a ProcessExecutor of its own with
the record a runtime would send, as if the runtime had died just after. Real processes, the
real supervisor daemon, real SQLite files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import anyio

from abatch.executors.process import ProcessExecutor
from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord, log_stream_name
from abatch.model.paths import log_file
from abatch.model.runspec import RunSpec
from abatch.runtime import Runtime

from .helpers import alive, ce, jd, req, runtime, wait_status

S = JobStatus
TASK = "0123456789abcdef0123456789abcdef"


async def _runnable_job(tmp: Path, command: list[str]) -> str:
    """A stored job, RUNNABLE on a disabled compute environment (nothing places it)."""
    async with runtime(tmp, setup=True) as rt:
        await rt.put_compute_environment(ce(state="DISABLED"))
        await rt.register_job_definition(jd("work", command=command))
        job = await rt.submit(req("lost", definition="work"))
        with anyio.fail_after(10):
            while job.status is not S.RUNNABLE:
                await anyio.sleep(0.01)
        return job.job_id


async def _start_behind_the_store(
    tmp: Path, job_id: str, command: list[str], number: int = 1
) -> ProcessExecutor:
    """Start attempt `number` of `job_id` the way a runtime does, without storing it."""
    stream = log_stream_name("work", TASK)
    ex = ProcessExecutor(tmp / "state" / "supervisor")
    spec = RunSpec(
        key=TASK,
        argv=tuple(command),
        env={"AWS_BATCH_JOB_ID": job_id, "AWS_BATCH_JOB_ATTEMPT": str(number)},
        workdir=tmp / "state" / "work" / TASK,
        log_path=log_file(tmp / "state", stream),
        record={"job": job_id, "n": number, "ce": "ce", "log": stream, "created": 1},
    )
    await ex.start(spec)
    return ex


def _job(rt: Runtime, job_id: str) -> JobRecord:
    return rt.jobs[job_id]


async def test_running_attempt_missing_from_the_store_is_taken_back(tmp_path: Path) -> None:
    runs, go = tmp_path / "runs", tmp_path / "go"
    script = f"echo ran >> {runs}; while [ ! -e {go} ]; do sleep 0.05; done; echo done"
    command = ["sh", "-c", script]
    job_id = await _runnable_job(tmp_path, command)
    ex = await _start_behind_the_store(tmp_path, job_id, command)
    with anyio.fail_after(10):
        while not runs.exists():
            await anyio.sleep(0.02)
    await ex.close()  # the "dead runtime" lets go; the daemon keeps the process
    async with runtime(tmp_path, setup=False) as rt:
        job = _job(rt, job_id)
        # Taken back although its compute environment places nothing: it is running.
        assert job.status in (S.STARTING, S.RUNNING) and job_id in rt.running
        (attempt,) = job.attempts
        assert attempt.task_id == TASK and attempt.number == 1
        assert rt.pools["ce"].used_vcpus == 1  # it holds its capacity again
        go.touch()
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert [s for s, _ in job.history] == [
            S.SUBMITTED, S.RUNNABLE, S.STARTING, S.RUNNING, S.SUCCEEDED,
        ]  # fmt: skip
        assert attempt.exit_code == 0
    assert runs.read_text() == "ran\n"  # one run, never a second
    assert log_file(tmp_path / "state", attempt.log_stream).read_text() == "done\n"


async def test_exited_attempt_missing_from_the_store_is_recorded(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    command = ["sh", "-c", f"echo ran >> {runs}; exit 4"]
    job_id = await _runnable_job(tmp_path, command)
    ex = await _start_behind_the_store(tmp_path, job_id, command)
    journal = tmp_path / "state" / "supervisor" / "journal"
    with anyio.fail_after(10):
        while '"code":4' not in journal.read_text():
            await anyio.sleep(0.02)
    await ex.close()
    async with runtime(tmp_path, setup=False) as rt:
        job = _job(rt, job_id)
        await wait_status(rt, [job])
        assert job.status is S.FAILED
        (attempt,) = job.attempts
        assert attempt.task_id == TASK and attempt.exit_code == 4
    assert runs.read_text() == "ran\n"


async def test_journal_entry_for_another_attempt_number_is_stopped(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    command = ["sh", "-c", f"echo $$ > {pid_file}; exec sleep 1000"]
    job_id = await _runnable_job(tmp_path, command)
    ex = await _start_behind_the_store(tmp_path, job_id, command, number=2)  # not the next
    with anyio.fail_after(10):
        while not pid_file.exists() or not pid_file.read_text().strip():
            await anyio.sleep(0.02)
    pid = int(pid_file.read_text())
    await ex.close()
    async with runtime(tmp_path, setup=False) as rt:
        job = _job(rt, job_id)
        assert job.status is S.RUNNABLE and not job.attempts  # not its attempt: left alone
        deadline = time.monotonic() + 20
        while alive(pid):  # the start-up sweep stops what belongs to no attempt
            assert time.monotonic() < deadline, "the unknown attempt was not stopped"
            await anyio.sleep(0.05)


def test_reconcile_recognises_a_journalled_process_by_its_environment() -> None:
    """After the daemon itself dies, the next one kills only the groups that are still the
    journalled attempts (named by job id and attempt number): a reused pid is left alone."""
    import subprocess

    from abatch.executors.groups import environ_names

    env = {"PATH": "/usr/bin:/bin", "AWS_BATCH_JOB_ID": "job-x", "AWS_BATCH_JOB_ATTEMPT": "12"}
    proc = subprocess.Popen(["sleep", "30"], env=env)
    try:
        deadline = time.monotonic() + 10
        while not environ_names(proc.pid, "job-x", "12"):  # /proc may lag the exec a little
            assert time.monotonic() < deadline, "the environment was never recognised"
            time.sleep(0.01)
        assert not environ_names(proc.pid, "job-x", "1")  # another attempt of the job
        assert not environ_names(proc.pid, "job", "12")  # a prefix of the id is not the id
        assert not environ_names(os.getpid(), "job-x", "12")  # another process
    finally:
        proc.kill()
        proc.wait()
    assert not environ_names(proc.pid, "job-x", "12")  # gone
