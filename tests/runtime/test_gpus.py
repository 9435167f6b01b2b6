"""GPU devices through the runtime: real processes that read their CUDA_VISIBLE_DEVICES, ids
given back on every way an attempt ends, detection with a stand-in `nvidia-smi`, Docker's
device request, and ids taken back by an attempt adopted after a restart.

This machine has no GPU: compute environments declare a count (ids 0..N-1) or see the ids a
stand-in `nvidia-smi` lists. What is checked is the bookkeeping, which is the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from abatch.cli.tables import describe_lines
from abatch.executors.base import EngineUnavailableError
from abatch.executors.docker_config import create_body
from abatch.executors.fake import FakeExecutor, FakeHandle, FakeOutcome
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.resources import ComputeEnvironment, JobDefinition
from abatch.model.runspec import RunSpec
from abatch.runtime import Runtime, open_runtime
from abatch.scheduler.devices import LOCAL_HOST
from tests.executors.test_gpus import LISTING, fake_smi

from .helpers import ce, jd, jq, req, runtime, settings, wait_for, wait_status

S = JobStatus
GATED = (
    "echo cuda=$CUDA_VISIBLE_DEVICES nvidia=$NVIDIA_VISIBLE_DEVICES order=$CUDA_DEVICE_ORDER; "
    "while [ ! -e Ref::gate ]; do sleep 0.05; done"
)


def gpu_jd(name: str = "g", gpus: int = 1, command: list[str] | None = None) -> JobDefinition:
    body = jd(name, command or ["true"]).model_dump(by_alias=True, exclude_none=True)
    body["containerProperties"]["resourceRequirements"].append({"type": "GPU", "value": str(gpus)})
    return JobDefinition.model_validate(body)


@pytest.fixture(autouse=True)
def no_real_nvidia_smi(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same result on a machine that has GPUs: no nvidia-smi unless a test puts one."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


async def read_log(rt: Runtime, job_id: str, marker: str = "cuda=") -> str:
    """The first line of the job's current attempt log, once written (bounded poll: the
    log is a file the process writes; no event says when)."""
    with anyio.fail_after(30):
        while True:
            job = rt.jobs[job_id] if job_id in rt.jobs else (await rt.get_jobs([job_id]))[0]
            attempt = job.current_attempt
            if attempt is not None:
                path = rt.log_path(attempt.log_stream)
                if path.exists() and marker in path.read_text():
                    return path.read_text().splitlines()[0]
            await anyio.sleep(0.05)


async def test_real_processes_never_share_a_gpu_and_a_freed_one_is_reused(
    tmp_path: Path,
) -> None:
    gates = {n: tmp_path / f"gate-{n}" for n in "abc"}
    async with runtime(tmp_path, setup=False) as rt:
        await rt.put_compute_environment(ce("gpu", vcpus=8, gpus=2))
        await rt.put_job_queue(jq("q", 1, ["gpu"]))
        await rt.register_job_definition(gpu_jd(command=["sh", "-c", GATED]))
        a, b, c = [
            await rt.submit(req(n, definition="g", parameters={"gate": str(gates[n])}))
            for n in "abc"
        ]
        await wait_status(rt, [a, b], S.RUNNING)
        seen = {j.job_name: await read_log(rt, j.job_id) for j in (a, b)}
        ids = {name: line.split()[0].removeprefix("cuda=") for name, line in seen.items()}
        assert sorted(ids.values()) == ["0", "1"]  # two jobs, two different devices
        for name, line in seen.items():
            assert line == f"cuda={ids[name]} nvidia={ids[name]} order=PCI_BUS_ID"
        # The third waits although 6 vCPUs are free: no device is.
        await wait_for(rt, lambda: c.status is S.RUNNABLE and c.status_reason is not None)
        assert c.status_reason is not None and "0 of 2 GPU free" in c.status_reason
        assert rt.devices.owners(LOCAL_HOST) == {ids["a"]: a.job_id, ids["b"]: b.job_id}

        gates["a"].touch()  # a exits: its device goes to c
        await wait_status(rt, [c], S.RUNNING)
        assert a.status is S.SUCCEEDED
        assert await read_log(rt, c.job_id) == f"cuda={ids['a']} nvidia={ids['a']} order=PCI_BUS_ID"
        detail = c.to_detail()
        assert detail["container"]["gpuIds"] == [ids["a"]]
        text = "\n".join(describe_lines(c, rt.log_path))
        assert f"gpu devices:    {ids['a']}" in text
        gates["b"].touch()
        gates["c"].touch()
        await wait_status(rt, [b, c])
        assert b.status is S.SUCCEEDED and c.status is S.SUCCEEDED
        assert rt.devices.owners(LOCAL_HOST) == {}
        assert rt.pools["gpu"].used_gpus == 0
        (stored,) = await rt.get_jobs([a.job_id])
        assert stored.attempts[0].to_aws()["container"]["gpuIds"] == [ids["a"]]


class Script:
    """Every attempt waits until finished by hand; attempts whose command is `fail-start`
    cannot start, `engine-down` finds the engine gone once."""

    def __init__(self) -> None:
        self.down = 1

    def __call__(self, spec: RunSpec) -> FakeOutcome:
        if spec.argv[:1] == ("fail-start",):
            return FakeOutcome(start_error="CannotStartContainerError: no such file")
        return FakeOutcome(duration=None)


class GpuFake(FakeExecutor):
    def __init__(self) -> None:
        self.script_ = Script()
        super().__init__(self.script_)

    async def start(self, spec: RunSpec) -> FakeHandle:
        if spec.argv[:1] == ("engine-down",) and self.script_.down:
            self.script_.down -= 1
            raise EngineUnavailableError("DockerTimeoutError: cannot reach the Docker engine")
        return await super().start(spec)


async def test_devices_come_back_however_an_attempt_ends(tmp_path: Path) -> None:
    fake = GpuFake()
    async with runtime(tmp_path, fake, setup=False, grace=0.1) as rt:
        await rt.put_compute_environment(ce("gpu", vcpus=8, gpus=2))
        await rt.put_job_queue(jq("q", 1, ["gpu"]))
        await rt.register_job_definition(gpu_jd("g2", gpus=2, command=["run"]))
        for word in ("fail-start", "engine-down"):
            await rt.register_job_definition(gpu_jd(word, gpus=2, command=[word]))

        def free() -> bool:
            return rt.devices.owners(LOCAL_HOST) == {} and rt.pools["gpu"].used_gpus == 0

        # A start error.
        job = await rt.submit(req("fs", definition="fail-start"))
        await wait_status(rt, [job])
        assert job.status is S.FAILED and free()
        # The engine down: requeued, devices back meanwhile, then it runs.
        job = await rt.submit(req("ed", definition="engine-down"))
        await wait_status(rt, [job], S.RUNNING, timeout=30)
        assert rt.devices.held(job.job_id) == ("0", "1")
        fake.finish(next(iter(fake.running)))
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED and free()
        # Terminated while running.
        job = await rt.submit(req("t", definition="g2"))
        await wait_status(rt, [job], S.RUNNING)
        assert rt.devices.held(job.job_id) == ("0", "1")
        await rt.terminate_job(job.job_id, "stop")
        await wait_status(rt, [job])
        assert free()
        # Timed out.
        job = await rt.submit(req("to", definition="g2", timeout={"attemptDurationSeconds": 1}))
        await wait_status(rt, [job])
        assert job.status_reason == "Job attempt duration exceeded timeout" and free()
        # A failure retried: the retry takes devices again, and gives them back again.
        job = await rt.submit(req("r", definition="g2", retryStrategy={"attempts": 2}))
        await wait_status(rt, [job], S.RUNNING)
        fake.finish(next(iter(fake.running)), exit_code=1)
        await wait_for(rt, lambda: len(job.attempts) == 2 and job.status is S.RUNNING)
        assert job.attempts[1].gpu_ids == ("0", "1")
        fake.finish(next(iter(fake.running)), exit_code=0)
        await wait_status(rt, [job])
        assert free()


async def test_multinode_nodes_get_their_own_share(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake, setup=False) as rt:
        await rt.put_compute_environment(ce("gpu", vcpus=8, gpus=3))
        await rt.put_job_queue(jq("q", 1, ["gpu"]))
        node = gpu_jd("n", gpus=1, command=["node"]).model_dump(by_alias=True, exclude_none=True)[
            "containerProperties"
        ]
        main = {**node, "resourceRequirements": node["resourceRequirements"][:2]}  # no GPU
        await rt.register_job_definition(
            JobDefinition.model_validate(
                {
                    "jobDefinitionName": "mnp",
                    "type": "multinode",
                    "nodeProperties": {
                        "numNodes": 3,
                        "mainNode": 0,
                        "nodeRangeProperties": [
                            {"targetNodes": "0", "container": main},
                            {"targetNodes": "1:", "container": node},
                        ],
                    },
                }
            )
        )
        job = await rt.submit(req("m", definition="mnp"))
        await wait_for(rt, lambda: len(fake.running) == 3)
        assert job.gpus == 2 and rt.devices.held(job.job_id) == ("0", "1")
        by_node = {s.env["AWS_BATCH_JOB_NODE_INDEX"]: s.gpu_ids for s in fake.started}
        assert by_node == {"0": (), "1": ("0",), "2": ("1",)}
        main_key = job.attempts[0].task_id
        fake.finish(main_key)
        await wait_status(rt, [job])
        assert rt.devices.owners(LOCAL_HOST) == {}


async def test_detected_devices_docker_requests_and_hosts_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_smi(tmp_path / "bin", f"cat <<EOF\n{LISTING.replace('0,', '4,', 1)}EOF")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    local = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    docker = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    executors: dict[ExecutorKind, Any] = {ExecutorKind.PROCESS: local, ExecutorKind.DOCKER: docker}
    async with open_runtime(settings(tmp_path), executors) as rt:
        assert rt.host_gpus.ids == ("4", "1")
        # No `gpus` setting: every GPU nvidia-smi lists.
        await rt.put_compute_environment(ce("here", vcpus=8))
        # Docker on the local socket shares this machine's devices.
        await rt.put_compute_environment(
            ce("dock", vcpus=8, executor="docker", docker_host="unix:///var/run/docker.sock")
        )
        # A remote engine: nothing detected there; its declared ids are its own.
        await rt.put_compute_environment(
            ce("far", vcpus=8, executor="docker", docker_host="tcp://gpu1:2375", gpu_devices=["4"])
        )
        assert [rt.pools[n].gpus for n in ("here", "dock", "far")] == [2, 2, 1]
        for name in ("here", "dock", "far"):
            await rt.put_job_queue(jq(name, 1, [name]))
        await rt.register_job_definition(gpu_jd())
        await rt.register_job_definition(gpu_jd("big", gpus=3))
        here = await rt.submit(req("h", queue="here", definition="g"))
        dock = await rt.submit(req("d", queue="dock", definition="g"))
        far = await rt.submit(req("f", queue="far", definition="g"))
        await wait_status(rt, [here, dock, far], S.RUNNING)
        assert here.attempts[0].gpu_ids == ("4",) and dock.attempts[0].gpu_ids == ("1",)
        assert far.attempts[0].gpu_ids == ("4",)  # another host: its own device 4
        (spec,) = [s for s in docker.started if s.env["AWS_BATCH_JOB_ID"] == dock.job_id]
        assert create_body(spec, "rt")["HostConfig"]["DeviceRequests"] == [
            {"Driver": "nvidia", "DeviceIDs": ["1"], "Capabilities": [["gpu"]]}
        ]
        big = await rt.submit(req("b", queue="here", definition="big"))
        await wait_for(rt, lambda: big.status_reason is not None)
        assert big.status_reason.startswith("MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")


async def test_an_adopted_attempt_keeps_its_devices_after_a_restart(tmp_path: Path) -> None:
    fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    async with runtime(tmp_path, fake, setup=False) as rt:
        await rt.put_compute_environment(ce("gpu", vcpus=8, gpus=2))
        await rt.put_job_queue(jq("q", 1, ["gpu"]))
        await rt.register_job_definition(gpu_jd())
        first = await rt.submit(req("first", definition="g"))
        second = await rt.submit(req("second", definition="g"))
        await wait_status(rt, [first, second], S.RUNNING)
        fake.finish(first.attempts[0].task_id)  # frees device 0; device 1 stays with second
        await wait_status(rt, [first])
        assert second.attempts[0].gpu_ids == ("1",)
        rt.running.clear()  # die without a clean stop: the attempt keeps running
    async with runtime(tmp_path, fake, setup=False) as rt:
        assert rt.devices.held(second.job_id) == ("1",)
        third = await rt.submit(req("third", definition="g"))
        await wait_status(rt, [third], S.RUNNING)
        assert third.attempts[0].gpu_ids == ("0",)  # never the adopted attempt's device
        for key in list(fake.running):
            fake.finish(key)
        await wait_status(rt, [rt.jobs[second.job_id], third])
        assert rt.devices.owners(LOCAL_HOST) == {}


async def test_declared_hosts_have_their_own_devices(tmp_path: Path) -> None:
    """An UNMANAGED compute environment with a host here and one on another Docker engine:
    each host hands out its own ids, so both run a job on their device 0, and a third job
    waits for one of them."""
    local = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    docker = FakeExecutor(lambda spec: FakeOutcome(duration=None))
    executors: dict[ExecutorKind, Any] = {ExecutorKind.PROCESS: local, ExecutorKind.DOCKER: docker}
    async with open_runtime(settings(tmp_path), executors) as rt:
        await rt.put_compute_environment(
            ComputeEnvironment.model_validate(
                {
                    "computeEnvironmentName": "mine",
                    "type": "UNMANAGED",
                    "executor": "docker",
                    "hosts": [
                        {"name": "here", "vcpus": 4, "memory": 4096, "gpus": 1},
                        {
                            "name": "there",
                            "vcpus": 4,
                            "memory": 4096,
                            "gpus": 1,
                            "docker_host": "tcp://gpu1:2375",
                        },
                    ],
                }
            )
        )
        await rt.put_job_queue(jq("q", 1, ["mine"]))
        await rt.register_job_definition(gpu_jd())
        jobs = [await rt.submit(req(f"j{i}", definition="g")) for i in range(3)]
        await wait_for(rt, lambda: sum(j.status is S.RUNNING for j in jobs) == 2)
        running = [j for j in jobs if j.status is S.RUNNING]
        assert [j.attempts[0].gpu_ids for j in running] == [("0",), ("0",)]
        assert len({j.attempts[0].instance_id for j in running}) == 2
        assert rt.devices.owners(LOCAL_HOST) and rt.devices.owners("tcp://gpu1:2375")
        waiting = next(j for j in jobs if j not in running)
        await wait_for(rt, lambda: waiting.status is S.RUNNABLE and bool(waiting.status_reason))
        first = running[0]
        docker.finish(first.attempts[0].task_id)
        await wait_status(rt, [waiting], S.RUNNING)
        assert waiting.attempts[0].gpu_ids == ("0",)
        assert waiting.attempts[0].instance_id == first.attempts[0].instance_id
