"""Process jobs outlive the runtime: `abatch run` is killed with SIGKILL while a job runs, and
the next runtime adopts the job (one attempt, one continuous log, its exit code), records an
exit that happened while no runtime ran, still applies the attempt's timeout and still
terminates it. Real processes, real SQLite files, the real supervisor daemon."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio

from abatch.executors.process import REASON_LOST, ProcessExecutor
from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.runtime import Runtime
from abatch.runtime.attempts import REASON_TIMEOUT
from tests.cli.support import ROOT, Abatch, toml_str

from .helpers import alive, jd, req, runtime, wait_status

S = JobStatus

HEADER = """\
[runtime]
state_dir = "state"
kill_grace_seconds = 1

[[compute_environment]]
name = "local"
executor = "process"
memory = 4096
[compute_environment.compute_resources]
max_vcpus = 2

[[job_queue]]
name = "q"
priority = 1
compute_environment_order = [{ order = 1, compute_environment = "local" }]

[[job_definition]]
name = "sh"
[job_definition.container_properties]
image = "busybox"
command = ["true"]
resource_requirements = [{ type = "VCPU", value = "1" }, { type = "MEMORY", value = "64" }]
"""


def write_config(tmp: Path, script: str, extra: str = "") -> Path:
    cfg = tmp / "abatch.toml"
    cfg.write_text(
        HEADER + f'\n[[job]]\nname = "survivor"\njob_queue = "q"\njob_definition = "sh"\n'
        f'container_overrides = {{ command = ["sh", "-c", {toml_str(script)}] }}\n' + extra
    )
    return cfg


def stored(tmp: Path) -> tuple[str, str, list[tuple[object, ...]]]:
    """The job's id and status, and its attempts, as committed in the store."""
    with sqlite3.connect(tmp / "state" / "abatch.db") as db:
        try:
            row = db.execute(
                "SELECT job_id, status FROM jobs WHERE job_name = 'survivor'"
            ).fetchone()
        except sqlite3.OperationalError:  # the schema is not there yet
            return "", "", []
        if row is None:
            return "", "", []
        attempts = db.execute(
            "SELECT number, task_id, log_stream, started_at, stopped_at, exit_code, pid "
            "FROM attempts WHERE job_id = ? ORDER BY number",
            (row[0],),
        ).fetchall()
    return str(row[0]), str(row[1]), attempts


def until(predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def log_of(tmp: Path) -> Path:
    """The log file of the job's first attempt (an empty path before it has one)."""
    attempts = stored(tmp)[2]
    if not attempts:
        return tmp / "no-log-yet"
    return tmp / "state" / "logs" / str(attempts[0][1])


def read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def run_then_kill(tmp: Path, cfg: Path, ready: Callable[[], bool]) -> None:
    """`abatch run` until the job is RUNNING in the store and `ready()`; then SIGKILL."""
    run = Abatch(["run", str(cfg)], cwd=tmp)
    try:
        until(lambda: (tmp / "state" / "abatch.db").exists(), "the store")
        until(lambda: stored(tmp)[1] == "RUNNING" and ready(), "the job to run")
        os.kill(run.pid, signal.SIGKILL)  # no clean stop: the job's process keeps running
        run.finish(timeout=10)
    finally:
        run.kill()


def the_job(rt: Runtime) -> JobRecord:
    (job,) = [j for j in rt.jobs.values() if j.job_name == "survivor"]
    return job


async def test_running_job_is_adopted_after_kill_minus_9(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f"echo before; while [ ! -e {go} ]; do sleep 0.05; done; echo after; exit 3"
    cfg = write_config(tmp_path, script)
    run_then_kill(tmp_path, cfg, lambda: read(log_of(tmp_path)) == "before\n")
    job_id, _, attempts = stored(tmp_path)
    (first,) = attempts
    pid = first[6]
    assert isinstance(pid, int) and alive(pid)  # the runtime died; its job did not
    async with runtime(tmp_path, setup=False) as rt:
        job = the_job(rt)
        assert job.status is S.RUNNING and job_id in rt.running
        go.touch()
        await wait_status(rt, [job])
    _, status, attempts = stored(tmp_path)
    assert status == "FAILED"
    (only,) = attempts  # adopted: one attempt, never started twice
    assert only[:3] == first[:3] and only[3] == first[3]  # same attempt, same startedAt
    assert only[5] == 3
    assert read(log_of(tmp_path)) == "before\nafter\n"  # one continuous stream


async def test_exit_while_no_runtime_ran_is_recorded(tmp_path: Path) -> None:
    go = tmp_path / "go"
    script = f"echo working; while [ ! -e {go} ]; do sleep 0.05; done; exit 7"
    cfg = write_config(tmp_path, script)
    run_then_kill(tmp_path, cfg, lambda: read(log_of(tmp_path)) == "working\n")
    go.touch()
    journal = tmp_path / "state" / "supervisor" / "journal"
    until(lambda: '"code":7' in journal.read_text(), "the supervisor to journal the exit")
    ended = max(json.loads(line)["at"] for line in journal.read_text().splitlines())
    time.sleep(0.05)  # so that a stoppedAt taken at adoption would differ
    async with runtime(tmp_path, setup=False) as rt:
        job = the_job(rt)
        await wait_status(rt, [job])
        assert job.status is S.FAILED
        (attempt,) = job.attempts
        assert attempt.exit_code == 7
        assert attempt.stopped_at == ended  # when it ended, not when it was found
    assert stored(tmp_path)[2][0][5] == 7


async def test_timeout_still_applies_after_adoption(tmp_path: Path) -> None:
    script = "echo up; exec sleep 1000"
    cfg = write_config(tmp_path, script)
    text = cfg.read_text().replace(
        'job_definition = "sh"\ncontainer',
        'job_definition = "sh"\ntimeout = { attempt_duration_seconds = 3 }\ncontainer',
    )
    cfg.write_text(text)
    run_then_kill(tmp_path, cfg, lambda: read(log_of(tmp_path)) == "up\n")
    pid = stored(tmp_path)[2][0][6]
    assert isinstance(pid, int)
    async with runtime(tmp_path, setup=False) as rt:
        job = the_job(rt)
        await wait_status(rt, [job], timeout=60)
        (attempt,) = job.attempts
        assert job.status is S.FAILED and attempt.status_reason == REASON_TIMEOUT
        assert attempt.started_at is not None and attempt.stopped_at is not None
        # Counted from the original start: 3 s and the grace, not 3 s more after adoption.
        assert 3000 <= attempt.stopped_at - attempt.started_at < 30_000
    assert not alive(pid)


async def test_terminate_after_adoption_kills_the_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = f"sleep 1000 & echo $! > {pids}; echo $$ >> {pids}; wait"
    cfg = write_config(tmp_path, script)
    run_then_kill(tmp_path, cfg, lambda: pids.exists() and len(pids.read_text().split()) == 2)
    members = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in members)
    async with runtime(tmp_path, setup=False) as rt:
        job = the_job(rt)
        assert job.job_id in rt.running
        await rt.terminate_job(job.job_id, "stop it")
        await wait_status(rt, [job])
        assert job.status is S.FAILED and job.status_reason == "stop it"
    with anyio.fail_after(10):
        while any(alive(p) for p in members):
            await anyio.sleep(0.02)


async def test_supervisor_killed_fails_the_attempt_with_a_reason(tmp_path: Path) -> None:
    async with runtime(tmp_path) as rt:
        await rt.register_job_definition(jd("sleepy", command=["sh", "-c", "exec sleep 1000"]))
        job = await rt.submit(req("a", definition="sleepy"))
        await wait_status(rt, [job], S.RUNNING)
        executor = rt.running[job.job_id].executor
        assert isinstance(executor, ProcessExecutor) and executor.supervisor_pid is not None
        pid = job.attempts[0].pid
        assert pid is not None and alive(pid)
        os.kill(executor.supervisor_pid, signal.SIGKILL)
        await wait_status(rt, [job])
        (attempt,) = job.attempts
        assert job.status is S.FAILED
        assert attempt.exit_code is None and attempt.reason == REASON_LOST
    with anyio.fail_after(10):
        while alive(pid):
            await anyio.sleep(0.02)


async def test_flooding_job_is_capped_and_the_runtime_stays_small(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "echo start; head -c 500000000 /dev/zero; echo done")
    cfg.write_text(cfg.read_text().replace("[runtime]\n", "[runtime]\nmax_log_bytes = 1048576\n"))
    env = {k: v for k, v in os.environ.items() if k != "ABATCH_STATE_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "abatch", "run", str(cfg)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak_kib = 0
    while proc.poll() is None:
        peak_kib = max(peak_kib, _vm_hwm_kib(proc.pid))
        time.sleep(0.01)
    assert proc.returncode == 0
    # The runtime never holds the output (500 MB went through while it ran).
    assert 0 < peak_kib < 300 * 1024
    # The runtime stored the exit and let the supervisor forget it: nothing is left over.
    assert (tmp_path / "state" / "supervisor" / "journal").stat().st_size == 0
    data = log_of(tmp_path).read_bytes()
    assert data.startswith(b"start\n")
    assert data[1 << 20 :].startswith(b"\n[abatch: log cut at 1048576 bytes; the rest is dropped]")
    assert data.endswith(b"[abatch: log cut at 1048576 bytes; 498951435 more bytes dropped]\n")


def _vm_hwm_kib(pid: int) -> int:
    """The peak RSS of `pid`'s current program (VmHWM), 0 once it is gone. Not wait4's
    ru_maxrss: that also counts the pytest process it was forked from (before exec), which
    late in a full run is itself ~300 MB."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
