"""Graceful stop of `abatch serve` with real signals: the first SIGTERM/SIGINT starts nothing
new and leaves running attempts running for the next runtime to adopt (processes, through
the state directory's supervisor; containers), `--drain` waits for running attempts to
finish, and a second signal stops at once."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.support import Abatch, run_abatch, write_config
from tests.docker_support import build_busybox_image

Spawn = Callable[..., Abatch]


def is_ready(line: str) -> bool:
    return line.startswith("ready:")


def describe(state: Path, cwd: Path, job_id: str) -> dict[str, object]:
    proc = run_abatch("describe", job_id, "--json", "--state-dir", str(state), cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def submit(state: Path, cwd: Path, queue: str, definition: str, *command: str) -> str:
    proc = run_abatch(
        "submit", "-q", queue, "-d", definition, "--state-dir", str(state),
        "--command", *command, cwd=cwd, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def wait_status(state: Path, cwd: Path, job_id: str, want: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while (job := describe(state, cwd, job_id))["status"] != want:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    return job


def test_drain_waits_for_the_running_job_and_starts_nothing_new(
    tmp_path: Path, spawn: Spawn
) -> None:
    cfg = write_config(tmp_path, [], max_vcpus=1)
    state = tmp_path / "state"
    go = tmp_path / "GO"
    server = spawn("serve", str(cfg), "--drain")
    server.wait_for(is_ready)
    running = submit(
        state, tmp_path, "high", "sh", "sh", "-c", f"until [ -e {go} ]; do sleep 0.05; done"
    )
    wait_status(state, tmp_path, running, "RUNNING")
    waiting = submit(state, tmp_path, "high", "sh", "true")  # no room: it waits behind

    server.signal(signal.SIGTERM)
    server.wait_for(lambda line: "waiting for 1 running attempt(s) to finish (--drain)" in line)
    assert server.proc.poll() is None  # still draining
    go.touch()
    assert server.finish(timeout=30) == 0
    assert "Traceback" not in server.output

    done = describe(state, tmp_path, running)
    assert done["status"] == "SUCCEEDED" and len(done["attempts"]) == 1  # type: ignore[arg-type]
    assert describe(state, tmp_path, waiting)["status"] == "RUNNABLE"  # never placed


def test_second_signal_stops_a_drain_at_once(tmp_path: Path, spawn: Spawn) -> None:
    from abatch.executors.process import ProcessExecutor

    cfg = write_config(tmp_path, [], max_vcpus=1)
    state = tmp_path / "state"
    go = tmp_path / "GO"
    server = spawn("serve", str(cfg), "--drain")
    server.wait_for(is_ready)
    script = f"echo started; until [ -e {go} ]; do sleep 0.05; done"
    job_id = submit(state, tmp_path, "high", "sh", "sh", "-c", script)
    try:
        wait_status(state, tmp_path, job_id, "RUNNING")
        server.signal(signal.SIGINT)
        server.wait_for(lambda line: "(--drain)" in line)
        server.signal(signal.SIGINT)
        assert server.finish(timeout=30) == 0
        assert "second signal: stopping at once" in server.output
        assert "Traceback" not in server.output
        job = describe(state, tmp_path, job_id)
        attempts = job["attempts"]
        assert isinstance(attempts, list) and len(attempts) == 1
        if hasattr(ProcessExecutor, "adopt"):
            assert job["status"] == "RUNNING", job  # left for the next runtime to adopt
        else:
            # Not adoptable: stopped at once and requeued, its retries untouched.
            assert job["status"] == "RUNNABLE", job
            assert attempts[0]["statusReason"] == (
                "Runtime stopped; attempt interrupted and requeued"
            )
    finally:
        go.touch()  # whatever was left running ends


def test_sigterm_leaves_a_process_job_running_for_the_next_runtime(
    tmp_path: Path, spawn: Spawn
) -> None:
    cfg = write_config(tmp_path, [], max_vcpus=1)
    state = tmp_path / "state"
    go = tmp_path / "GO"
    server = spawn("serve", str(cfg))
    server.wait_for(is_ready)
    script = f"echo before; until [ -e {go} ]; do sleep 0.05; done; echo after"
    job_id = submit(state, tmp_path, "high", "sh", "sh", "-c", script)
    try:
        wait_status(state, tmp_path, job_id, "RUNNING")
        queued = submit(state, tmp_path, "high", "sh", "true")
        server.signal(signal.SIGTERM)
        assert server.finish(timeout=20) == 0  # promptly: nothing is waited for
        left = "1 running attempt(s) left running (adopted on the next start)"
        assert left in server.output, server.output
        assert describe(state, tmp_path, job_id)["status"] == "RUNNING"
        assert describe(state, tmp_path, queued)["status"] == "RUNNABLE"

        again = spawn("serve", str(cfg))
        again.wait_for(is_ready)
        go.touch()
        job = wait_status(state, tmp_path, job_id, "SUCCEEDED")
        attempts = job["attempts"]
        assert isinstance(attempts, list) and len(attempts) == 1  # adopted, not run again
        wait_status(state, tmp_path, queued, "SUCCEEDED")
        again.signal(signal.SIGTERM)
        assert again.finish(timeout=30) == 0
    finally:
        go.touch()  # whatever was left running ends
    log = run_abatch("logs", job_id, "--state-dir", str(state), cwd=tmp_path)
    assert log.stdout.splitlines() == ["before", "after"]


DOCKER_CONFIG = """
[runtime]
state_dir = "state"
kill_grace_seconds = 2
api_port = 0

[[compute_environment]]
name = "docker"
executor = "docker"
memory = 1024
[compute_environment.compute_resources]
max_vcpus = 1

[[job_queue]]
name = "q"
priority = 1
compute_environment_order = [{ order = 1, compute_environment = "docker" }]

[[job_definition]]
name = "box"
[job_definition.container_properties]
image = "abatch-test-busybox:latest"
command = ["true"]
resource_requirements = [{ type = "VCPU", value = "1" }, { type = "MEMORY", value = "64" }]
volumes = [{ name = "go", host = { source_path = "GO_DIR" } }]
mount_points = [{ source_volume = "go", container_path = "/go" }]
"""


@pytest.mark.docker
async def test_sigterm_leaves_a_container_running_for_the_next_runtime(
    tmp_path: Path, spawn: Spawn
) -> None:
    await build_busybox_image()
    cfg = tmp_path / "docker.toml"
    go = tmp_path / "go"
    go.mkdir()
    cfg.write_text(DOCKER_CONFIG.replace("GO_DIR", str(go)))
    state = tmp_path / "state"
    server = spawn("serve", str(cfg))
    server.wait_for(is_ready, timeout=60)
    # The container runs until the file GO appears in its bind mount, however slow the host.
    script = "echo before; until [ -e /go/GO ]; do sleep 0.05; done; echo after"
    job_id = submit(state, tmp_path, "q", "box", "sh", "-c", script)
    wait_status(state, tmp_path, job_id, "RUNNING")
    queued = submit(state, tmp_path, "q", "box", "true")
    server.signal(signal.SIGTERM)
    assert server.finish(timeout=20) == 0  # promptly: nothing is waited for
    left = "1 running attempt(s) left running (adopted on the next start)"
    assert left in server.output, server.output
    assert describe(state, tmp_path, job_id)["status"] == "RUNNING"
    assert describe(state, tmp_path, queued)["status"] == "RUNNABLE"

    again = spawn("serve", str(cfg))
    again.wait_for(is_ready, timeout=60)
    (go / "GO").touch()
    job = wait_status(state, tmp_path, job_id, "SUCCEEDED")
    attempts = job["attempts"]
    assert isinstance(attempts, list) and len(attempts) == 1  # adopted, not run again
    wait_status(state, tmp_path, queued, "SUCCEEDED")
    again.signal(signal.SIGTERM)
    assert again.finish(timeout=30) == 0
    log = run_abatch("logs", job_id, "--state-dir", str(state), cwd=tmp_path)
    assert log.stdout.splitlines() == ["before", "after"]
