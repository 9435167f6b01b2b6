"""A running container survives `kill -9` of the runtime and is adopted by the next one."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.cli.support import Abatch, run_abatch
from tests.docker_support import build_busybox_image

pytestmark = pytest.mark.docker

CONFIG = """
[runtime]
state_dir = "state"
kill_grace_seconds = 2

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
name = "slow"
[job_definition.container_properties]
image = "abatch-test-busybox:latest"
command = ["sh", "-c", "echo before; sleep 4; echo after"]
resource_requirements = [{ type = "VCPU", value = "1" }, { type = "MEMORY", value = "64" }]

[[job]]
name = "survivor"
job_queue = "q"
job_definition = "slow"
"""


def statuses(tmp_path: Path) -> dict[str, dict[str, object]]:
    proc = run_abatch("jobs", "--json", "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    return {j["jobName"]: j for j in json.loads(proc.stdout)["jobSummaryList"]}


async def test_container_adopted_after_kill_minus_9(tmp_path: Path) -> None:
    await build_busybox_image()
    cfg = tmp_path / "docker.toml"
    cfg.write_text(CONFIG)
    run = Abatch(["run", str(cfg)], cwd=tmp_path)
    try:
        run.wait_for(lambda line: "RUNNING 1" in line, timeout=60)
        os.kill(run.pid, signal.SIGKILL)  # no clean stop: the container keeps running
        run.finish(timeout=10)
    finally:
        run.kill()
    assert statuses(tmp_path)["survivor"]["status"] == "RUNNING"
    serve = Abatch(["serve", str(cfg)], cwd=tmp_path)
    try:
        serve.wait_for(lambda line: line.startswith("ready:"), timeout=60)
        deadline = time.monotonic() + 60
        while (job := statuses(tmp_path)["survivor"])["status"] != "SUCCEEDED":
            assert job["status"] in ("RUNNING", "STARTING"), job
            assert time.monotonic() < deadline, job
            time.sleep(0.3)
        serve.signal(signal.SIGTERM)
        assert serve.finish(timeout=30) == 0
    finally:
        serve.kill()
    job_id = str(job["jobId"])
    log = run_abatch("logs", job_id, "--state-dir", str(tmp_path / "state"), cwd=tmp_path)
    assert log.stdout.splitlines() == ["before", "after"]
    describe = run_abatch(
        "describe", job_id, "--json", "--state-dir", str(tmp_path / "state"), cwd=tmp_path
    )
    detail = json.loads(describe.stdout)
    assert len(detail["attempts"]) == 1, json.dumps(detail["attempts"], indent=1)  # adopted
    assert detail["container"]["exitCode"] == 0
