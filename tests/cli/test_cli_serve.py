"""`abatch serve` and stopping a runtime: signals, the lock, jobs kept across a restart."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

from .support import Abatch, run_abatch, write_config

Spawn = Callable[..., Abatch]


def is_ready(line: str) -> bool:
    return line.startswith("ready:")


def test_serve_stops_cleanly_on_sigterm_and_releases_the_lock(tmp_path: Path, spawn: Spawn) -> None:
    cfg = write_config(tmp_path, [("never-submitted", "high", "echo no")])
    first = spawn("serve", str(cfg))
    first.wait_for(is_ready)
    assert "its jobs are not submitted" in first.output
    assert f"pid {first.pid}" in first.output

    second = run_abatch("serve", str(cfg), cwd=tmp_path, timeout=30)
    assert second.returncode == 2
    assert f"is in use by the runtime with pid {first.pid}" in second.stderr
    assert "Traceback" not in second.stderr

    first.signal(signal.SIGTERM)
    assert first.finish(timeout=30) == 0
    assert "Traceback" not in first.output
    assert "released" in first.output

    again = spawn("serve", str(cfg))  # the lock is free again
    again.wait_for(is_ready)
    again.signal(signal.SIGINT)
    assert again.finish(timeout=30) == 0
    assert "Traceback" not in again.output

    jobs = run_abatch("jobs", "--json", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert jobs.returncode == 0 and json.loads(jobs.stdout)["jobSummaryList"] == []


def job_statuses(state: Path, cwd: Path) -> dict[str, str]:
    proc = run_abatch("jobs", "--json", "--state-dir", str(state), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return {j["jobName"]: j["status"] for j in json.loads(proc.stdout)["jobSummaryList"]}


def test_interrupted_run_keeps_its_jobs_and_serve_runs_them(tmp_path: Path, spawn: Spawn) -> None:
    # The jobs cannot finish before the file GO exists (made once `serve` is ready), however
    # slow the machine: the run is always interrupted with all three unfinished.
    go = tmp_path / "GO"
    script = (
        'echo "run $AWS_BATCH_JOB_ATTEMPT of $AWS_BATCH_JOB_ID"; '
        f"until [ -e {go} ]; do sleep 0.1; done"
    )
    cfg = write_config(tmp_path, [(f"wait-{i}", "low", script) for i in range(3)], max_vcpus=2)
    state = tmp_path / "state"
    run = spawn("run", str(cfg))
    run.wait_for(lambda line: "RUNNING 2" in line)
    # RUNNING means spawned, not that the shell has printed yet: wait for its first line
    # (read-only reads work while the runtime runs) so the interrupted attempt has a log.
    deadline = time.monotonic() + 30
    while True:
        listing = run_abatch("jobs", "--json", "--state-dir", str(state), cwd=tmp_path)
        first_id = {j["jobName"]: j["jobId"] for j in json.loads(listing.stdout)["jobSummaryList"]}
        log = run_abatch("logs", first_id["wait-0"], "--state-dir", str(state), cwd=tmp_path)
        if log.stdout.startswith("run 1 of"):
            break
        assert time.monotonic() < deadline, log
        time.sleep(0.1)
    run.signal(signal.SIGINT)
    assert run.finish(timeout=30) == 130
    assert "interrupted by SIGINT: 3 of 3 jobs did not finish" in run.output
    assert f"abatch serve {cfg}" in run.output
    assert "Traceback" not in run.output

    # The stopped state, read while no runtime runs: the two running jobs were left running
    # under the process supervisor (the next runtime adopts them), the third waits.
    listed = run_abatch("jobs", "--status", "runnable", "--state-dir", str(state), cwd=tmp_path)
    assert listed.returncode == 0
    assert sum(" RUNNABLE " in line for line in listed.stdout.splitlines()) == 1
    listed = run_abatch("jobs", "--status", "running", "--state-dir", str(state), cwd=tmp_path)
    assert sum(" RUNNING " in line for line in listed.stdout.splitlines()) == 2
    summaries = json.loads(
        run_abatch("jobs", "--json", "--state-dir", str(state), cwd=tmp_path).stdout
    )["jobSummaryList"]
    ids = {j["jobName"]: j["jobId"] for j in summaries}
    never = run_abatch("logs", ids["wait-2"], "--state-dir", str(state), cwd=tmp_path)
    assert never.returncode == 1
    assert f"job {ids['wait-2']} has no log yet (status RUNNABLE)" in never.stderr

    serve = spawn("serve", "--state-dir", str(state), "--port", "0")
    serve.wait_for(is_ready)
    assert "3 unfinished job(s)" in serve.output
    go.touch()
    # Read while the runtime runs: the read-only store never needs its lock.
    deadline = time.monotonic() + 30
    while (statuses := job_statuses(state, tmp_path)) != dict.fromkeys(ids, "SUCCEEDED"):
        assert time.monotonic() < deadline, statuses
        time.sleep(0.3)
    serve.signal(signal.SIGTERM)
    assert serve.finish(timeout=30) == 0
    assert "Traceback" not in serve.output
    assert (
        sum(line.endswith("SUCCEEDED  Essential container in task exited") for line in serve.lines)
        == 3
    )

    # The interrupted job was adopted, not run again: one attempt, one log.
    first_run = ids["wait-0"]
    log1 = run_abatch("logs", first_run, "--attempt", "1", "--state-dir", str(state), cwd=tmp_path)
    log2 = run_abatch("logs", first_run, "--attempt", "2", "--state-dir", str(state), cwd=tmp_path)
    assert log1.stdout == f"run 1 of {first_run}\n"
    assert log2.returncode != 0


def test_serve_fires_schedules(tmp_path: Path, spawn: Spawn) -> None:
    cfg = write_config(tmp_path, [])
    cfg.write_text(
        cfg.read_text() + "\n[[schedule]]\n"
        'name = "tick"\n'
        'schedule_expression = "rate(1 second)"\n'
        "[schedule.job]\n"
        'name = "ticked"\n'
        'job_queue = "low"\n'
        'job_definition = "sh"\n'
        'container_overrides = { command = ["echo", "tick"] }\n'
    )
    server = spawn("serve", str(cfg))
    server.wait_for(is_ready)
    assert "schedules: 1 of 1 enabled" in server.output
    server.wait_for(lambda line: "ticked" in line and "SUCCEEDED" in line, timeout=30)
    server.signal(signal.SIGTERM)
    assert server.finish(timeout=30) == 0
    statuses = job_statuses(tmp_path / "state", tmp_path)
    assert statuses.get("ticked") == "SUCCEEDED"
