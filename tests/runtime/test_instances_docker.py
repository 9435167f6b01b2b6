"""An UNMANAGED compute environment whose two hosts are two Docker endpoints: the default
engine, and the same engine through a second socket path (a symlink), so that each host has
its own Docker executor; jobs land on both and run as containers there."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from abatch.executors.docker import DockerExecutor
from abatch.model.enums import JobStatus
from abatch.model.resources import ComputeEnvironment
from tests.docker_support import BUSYBOX_IMAGE, build_busybox_image

from .helpers import jd, jq, req, runtime, wait_status

S = JobStatus


@pytest.mark.docker
async def test_jobs_spread_over_two_docker_endpoints(tmp_path: Path) -> None:
    await build_busybox_image()
    default = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not default.startswith("unix://"):
        pytest.skip("needs the engine on a unix socket to make a second path to it")
    second = tmp_path / "second.sock"
    second.symlink_to(default.removeprefix("unix://"))
    async with runtime(tmp_path, setup=False) as rt:
        ce = ComputeEnvironment.model_validate(
            {
                "computeEnvironmentName": "two",
                "type": "UNMANAGED",
                "executor": "docker",
                "hosts": [
                    {"name": "first", "vcpus": 1, "memory": 256},
                    {"name": "second", "vcpus": 1, "memory": 256, "dockerHost": f"unix://{second}"},
                ],
            }
        )
        await rt.put_compute_environment(ce)
        await rt.put_job_queue(jq("q", 1, ["two"]))
        d = jd("d", ["sh", "-c", "echo on $AWS_BATCH_CE_NAME; sleep 1"], memory=32)
        assert d.container_properties is not None
        d.container_properties.image = BUSYBOX_IMAGE
        await rt.register_job_definition(d)
        jobs = [await rt.submit(req(f"j{i}")) for i in range(4)]
        await wait_status(rt, jobs, timeout=120)
        assert [j.status for j in jobs] == [S.SUCCEEDED] * 4, [j.status_reason for j in jobs]
        hosts = {i.instance_id: i for i in rt.instances()}
        assert {h.host_key for h in hosts.values()} == {"local", f"unix://{second}"}
        assert {j.attempts[-1].instance_id for j in jobs} == set(hosts)
        executors = {k[1]: ex for k, ex in rt._ce_executors.items() if k[0] == "docker"}
        assert set(executors) == {None, f"unix://{second}"}  # one executor per endpoint
        assert all(isinstance(ex, DockerExecutor) for ex in executors.values())
        for j in jobs:
            log = rt.log_path(j.attempts[-1].log_stream).read_text()
            assert "on two" in log
