"""Multi-node parallel jobs in the runtime (reference §4): deciding with the fake executor
(order of starts, result, retries, timeout, terminate, ranges, overrides, refusals), running
on real processes and real containers (nodes talking to the main node over TCP)."""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from abatch.executors.fake import FakeExecutor, FakeOutcome
from abatch.model.enums import JobStatus
from abatch.model.errors import ClientError
from abatch.model.job import JobRecord
from abatch.model.resources import JobDefinition
from abatch.model.runspec import RunSpec
from abatch.runtime import Runtime
from abatch.runtime.multinode import network_name
from tests.docker_support import BUSYBOX_IMAGE, build_busybox_image

from .helpers import ce, jq, req, runtime, wait_for, wait_status

S = JobStatus
PY = sys.executable
ADDR = "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"


def mnp(
    name: str,
    ranges: list[tuple[str, list[str]]],
    num_nodes: int = 3,
    main: int = 0,
    image: str = "busybox",
    **kw: Any,
) -> JobDefinition:
    return JobDefinition.model_validate(
        {
            "jobDefinitionName": name,
            "type": "multinode",
            "nodeProperties": {
                "numNodes": num_nodes,
                "mainNode": main,
                "nodeRangeProperties": [
                    {
                        "targetNodes": t,
                        "container": {
                            "image": image,
                            "command": cmd,
                            "resourceRequirements": [
                                {"type": "VCPU", "value": "1"},
                                {"type": "MEMORY", "value": "64"},
                            ],
                        },
                    }
                    for t, cmd in ranges
                ],
            },
            **kw,
        }
    )


def node_index(spec: RunSpec) -> int:
    return int(spec.env["AWS_BATCH_JOB_NODE_INDEX"])


def manual(spec: RunSpec) -> FakeOutcome:
    return FakeOutcome(duration=None)


def started_nodes(fake: FakeExecutor, job: JobRecord, attempt: int = 1) -> dict[int, RunSpec]:
    return {
        node_index(s): s
        for s in fake.started
        if s.env["AWS_BATCH_JOB_ID"].startswith(job.job_id + "#")
        and s.env["AWS_BATCH_JOB_ATTEMPT"] == str(attempt)
    }


async def nodes_of(rt: Runtime, job: JobRecord) -> list[JobRecord]:
    n = int(job.spec["nodeProperties"]["numNodes"])
    return await rt.get_jobs([f"{job.job_id}#{i}" for i in range(n)])


async def until_started(rt: Runtime, fake: FakeExecutor, job: JobRecord, count: int) -> None:
    await wait_for(rt, lambda: len(fake.running) >= count and job.status is S.RUNNING)


THREE = [("0", ["main"]), ("1:", ["child"])]


# ---------------------------------------------------------------- deciding (fake executor)


async def test_main_first_then_children_with_the_main_address(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE))
        job = await rt.submit(req("mnp", definition="m"))
        await until_started(rt, fake, job, 3)
        nodes = await nodes_of(rt, job)
        assert [n.job_id for n in nodes] == [f"{job.job_id}#{i}" for i in range(3)]
        assert [n.status for n in nodes] == [S.RUNNING] * 3
        # The main node started first, alone, and carries no main-node address.
        assert node_index(fake.started[0]) == 0
        specs = started_nodes(fake, job)
        assert ADDR not in specs[0].env
        for i in (1, 2):
            assert specs[i].env[ADDR] == "127.0.0.1"
        for i, spec in specs.items():
            assert spec.env["AWS_BATCH_JOB_ID"] == f"{job.job_id}#{i}"
            assert spec.env["AWS_BATCH_JOB_NUM_NODES"] == "3"
            assert spec.env["AWS_BATCH_JOB_MAIN_NODE_INDEX"] == "0"
            assert spec.env["AWS_BATCH_JOB_ATTEMPT"] == "1"
            assert list(spec.argv) == (["main"] if i == 0 else ["child"])
        # The whole job holds all nodes' capacity (3 x 1 vCPU).
        assert rt.pools["ce"].used_vcpus == 3
        # Listed as nodes with multiNodeJobId, never with their queue; describable.
        listed, _ = await rt.list_jobs(multi_node_job_id=job.job_id, job_status="RUNNING")
        assert [j.job_id for j in listed] == [n.job_id for n in nodes]
        queue, _ = await rt.list_jobs(job_queue="q", job_status="RUNNING")
        assert [j.job_id for j in queue] == [job.job_id]
        (detail,) = await rt.describe_jobs([f"{job.job_id}#1"])
        assert detail["nodeDetails"] == {"nodeIndex": 1, "isMainNode": False}
        (parent,) = await rt.describe_jobs([job.job_id])
        assert parent["nodeProperties"]["numNodes"] == 3
        # The main node exits 0: the children are stopped and the job takes its result.
        fake.finish(specs[0].key, 0)
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert job.attempts[0].exit_code == 0
        assert job.attempts[0].log_stream == nodes[0].attempts[0].log_stream
        assert sorted(fake.killed) == sorted([specs[1].key, specs[2].key])
        nodes = await nodes_of(rt, job)
        assert [n.status for n in nodes] == [S.SUCCEEDED] * 3
        assert [n.attempts[0].exit_code for n in nodes] == [0, 143, 143]
        assert rt.pools["ce"].used_vcpus == 0


async def test_children_wait_until_the_main_node_is_running(tmp_path: Path) -> None:
    class SlowMain(FakeExecutor):
        async def start(self, spec: RunSpec) -> Any:
            if node_index(spec) == 0:
                assert not self.running  # nothing else has started yet
            return await super().start(spec)

    fake = SlowMain(manual)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE))
        job = await rt.submit(req("mnp", definition="m"))
        await until_started(rt, fake, job, 3)
        main, *children = await nodes_of(rt, job)
        assert main.started_at is not None
        assert all((c.started_at or 0) >= main.started_at for c in children)
        await rt.terminate_job(job.job_id, "done")
        await wait_status(rt, [job])


async def test_main_node_failure_retries_the_whole_job(tmp_path: Path) -> None:
    def script(spec: RunSpec) -> FakeOutcome:
        if node_index(spec) == 0:
            code = 1 if spec.env["AWS_BATCH_JOB_ATTEMPT"] == "1" else 0
            return FakeOutcome(exit_code=code, duration=0.05)
        return FakeOutcome(duration=None)

    fake = FakeExecutor(script)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE, retryStrategy={"attempts": 3}))
        job = await rt.submit(req("mnp", definition="m"))
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert [a.exit_code for a in job.attempts] == [1, 0]
        # Every node ran again, with AWS_BATCH_JOB_ATTEMPT 2.
        assert set(started_nodes(fake, job, 1)) == {0, 1, 2}
        assert set(started_nodes(fake, job, 2)) == {0, 1, 2}
        nodes = await nodes_of(rt, job)
        assert [len(n.attempts) for n in nodes] == [2, 2, 2]
        assert [n.status for n in nodes] == [S.SUCCEEDED] * 3
        seen = [s for s, _ in nodes[1].history]
        assert seen.count(S.RUNNING) == 2  # the child ran twice


async def test_main_node_failure_without_retries_left_fails_the_job(tmp_path: Path) -> None:
    def script(spec: RunSpec) -> FakeOutcome:
        if node_index(spec) == 0:
            return FakeOutcome(exit_code=7, reason="Boom", duration=0.05)
        return FakeOutcome(duration=None)

    fake = FakeExecutor(script)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE))
        job = await rt.submit(req("mnp", definition="m"))
        await wait_status(rt, [job])
        assert (job.status, job.status_reason) == (S.FAILED, "Essential container in task exited")
        (detail,) = await rt.describe_jobs([job.job_id])
        assert detail["container"]["exitCode"] == 7
        assert detail["container"]["reason"] == "Boom"
        assert [a["container"]["exitCode"] for a in detail["attempts"]] == [7]
        assert [n.status for n in await nodes_of(rt, job)] == [S.FAILED] * 3


async def test_child_node_failure_alone_changes_nothing(tmp_path: Path) -> None:
    def script(spec: RunSpec) -> FakeOutcome:
        if node_index(spec) == 1:
            return FakeOutcome(exit_code=3, duration=0.01)
        return FakeOutcome(duration=None)

    fake = FakeExecutor(script)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE, retryStrategy={"attempts": 3}))
        job = await rt.submit(req("mnp", definition="m"))
        child = (await nodes_of(rt, job))[1]
        await wait_status(rt, [child])
        assert (child.status, child.attempts[0].exit_code) == (S.FAILED, 3)
        assert job.status is S.RUNNING  # a dying child changes nothing else
        specs = started_nodes(fake, job)
        fake.finish(specs[0].key, 0)
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert len(job.attempts) == 1  # no retry for a child's failure
        nodes = await nodes_of(rt, job)
        assert [n.status for n in nodes] == [S.SUCCEEDED, S.FAILED, S.SUCCEEDED]
        assert len(started_nodes(fake, job, 2)) == 0


async def test_timeout_covers_the_whole_job_and_is_not_retried(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=4, grace=0.2) as rt:
        await rt.register_job_definition(mnp("m", THREE, retryStrategy={"attempts": 3}))
        job = await rt.submit(req("mnp", definition="m", timeout={"attemptDurationSeconds": 1}))
        await wait_status(rt, [job], timeout=15)
        assert (job.status, job.status_reason) == (
            S.FAILED,
            "Job attempt duration exceeded timeout",
        )
        assert len(job.attempts) == 1
        assert len(fake.killed) == 3  # every node stopped
        nodes = await nodes_of(rt, job)
        assert [n.status for n in nodes] == [S.FAILED] * 3
        assert {n.status_reason for n in nodes} == {"Job attempt duration exceeded timeout"}
        assert "timeout" not in nodes[0].spec  # armed on the job, not per node


@pytest.mark.parametrize("via_node", [False, True])
async def test_terminate_stops_every_node(tmp_path: Path, via_node: bool) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE, retryStrategy={"attempts": 3}))
        job = await rt.submit(req("mnp", definition="m"))
        await until_started(rt, fake, job, 3)
        await rt.cancel_job(job.job_id, "no-op while running")
        assert job.status is S.RUNNING
        target = f"{job.job_id}#2" if via_node else job.job_id
        await rt.terminate_job(target, "stop it")
        await wait_status(rt, [job])
        assert (job.status, job.status_reason, job.is_terminated) == (S.FAILED, "stop it", True)
        assert len(job.attempts) == 1  # never retried
        nodes = await nodes_of(rt, job)
        assert [(n.status, n.status_reason) for n in nodes] == [(S.FAILED, "stop it")] * 3
        assert all(n.is_terminated for n in nodes)
        assert not fake.running


async def test_cancel_before_start_fails_the_nodes_too(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=2) as rt:
        await rt.register_job_definition(mnp("m", THREE))
        job = await rt.submit(req("mnp", definition="m"))  # 3 vCPU on a 2-vCPU CE
        await wait_for(rt, lambda: job.status_reason is not None)
        assert job.status is S.RUNNABLE
        assert "MISCONFIGURATION" in (job.status_reason or "")
        assert [n.status for n in await nodes_of(rt, job)] == [S.RUNNABLE] * 3
        await rt.cancel_job(job.job_id, "never mind")
        assert job.status is S.FAILED
        nodes = await nodes_of(rt, job)
        assert [(n.status, n.status_reason) for n in nodes] == [(S.FAILED, "never mind")] * 3
        assert fake.started == []


async def test_placed_whole_or_not_at_all(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE))
        await rt.register_job_definition(
            JobDefinition.model_validate(
                {
                    "jobDefinitionName": "one",
                    "containerProperties": {"image": "busybox", "command": ["x"], "vcpus": 2},
                }
            )
        )
        first = await rt.submit(req("one", definition="one"))
        await wait_status(rt, [first], S.RUNNING)
        job = await rt.submit(req("mnp", definition="m"))  # 3 vCPU; 2 free
        await wait_for(rt, lambda: (job.status_reason or "").startswith("WAITING_FOR_CAPACITY"))
        assert job.status is S.RUNNABLE and len(fake.started) == 1  # not one node started
        fake.finish(fake.started[0].key, 0)
        await until_started(rt, fake, job, 3)
        await rt.terminate_job(job.job_id, "done")
        await wait_status(rt, [job])


async def test_node_ranges_give_each_node_its_command(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    ranges = [("0:4", ["wide"]), ("0", ["main"]), ("3:4", ["tail"]), ("4", ["last"])]
    async with runtime(tmp_path, fake, vcpus=8) as rt:
        await rt.register_job_definition(mnp("r", ranges, num_nodes=5))
        job = await rt.submit(req("ranges", definition="r"))
        await until_started(rt, fake, job, 5)
        specs = started_nodes(fake, job)
        assert [list(specs[i].argv) for i in range(5)] == [
            ["main"],
            ["wide"],
            ["wide"],
            ["tail"],
            ["last"],
        ]
        await rt.terminate_job(job.job_id, "done")
        await wait_status(rt, [job])


async def test_node_overrides(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=8) as rt:
        await rt.register_job_definition(mnp("m", THREE, parameters={"word": "dflt"}))
        overrides = {
            "numNodes": 5,
            "nodePropertyOverrides": [
                {"targetNodes": "1:", "containerOverrides": {"command": ["echo", "Ref::word"]}},
                {
                    "targetNodes": "4",
                    "containerOverrides": {
                        "command": ["special"],
                        "environment": [{"name": "COLOR", "value": "red"}],
                    },
                },
            ],
        }
        job = await rt.submit(
            req("ov", definition="m", nodeOverrides=overrides, parameters={"word": "hi"})
        )
        assert job.vcpus == 5  # five nodes of 1 vCPU
        await until_started(rt, fake, job, 5)
        specs = started_nodes(fake, job)
        assert [list(specs[i].argv) for i in range(5)] == [
            ["main"],
            ["echo", "hi"],
            ["echo", "hi"],
            ["echo", "hi"],
            ["special"],
        ]
        assert specs[4].env["COLOR"] == "red" and "COLOR" not in specs[3].env
        assert {s.env["AWS_BATCH_JOB_NUM_NODES"] for s in specs.values()} == {"5"}
        await rt.terminate_job(job.job_id, "done")
        await wait_status(rt, [job])


@pytest.mark.parametrize(
    ("ranges", "main", "overrides", "problem"),
    [
        ([("0", ["a"]), ("1:2", ["b"])], 0, {"numNodes": 5}, "open-ended"),
        ([("0", ["a"]), ("1:", ["b"])], 0, {"numNodes": 1}, "starts at or after"),
        ([("0:1", ["a"]), ("2:", ["b"])], 1, {"numNodes": 1}, "starts at or after"),
        ([(":", ["a"])], 2, {"numNodes": 2}, "mainNode 2"),
        (
            THREE,
            0,
            {"nodePropertyOverrides": [{"targetNodes": "7", "containerOverrides": {}}]},
            "names node 7",
        ),
    ],
)
async def test_node_overrides_refused(
    tmp_path: Path,
    ranges: list[tuple[str, list[str]]],
    main: int,
    overrides: dict[str, Any],
    problem: str,
) -> None:
    async with runtime(tmp_path, FakeExecutor(), vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", ranges, main=main))
        with pytest.raises(ClientError, match=problem):
            await rt.submit(req("ov", definition="m", nodeOverrides=overrides))


async def test_other_submit_refusals(tmp_path: Path) -> None:
    async with runtime(tmp_path, FakeExecutor(), vcpus=4) as rt:
        await rt.register_job_definition(mnp("m", THREE))
        with pytest.raises(ClientError, match="nodeOverrides apply to multi-node"):
            await rt.submit(req("a", nodeOverrides={"numNodes": 2}))
        with pytest.raises(ClientError, match="can't be array jobs"):
            await rt.submit(req("a", definition="m", arrayProperties={"size": 2}))
        with pytest.raises(ClientError, match="nodePropertyOverrides instead"):
            await rt.submit(req("a", definition="m", containerOverrides={"command": ["x"]}))


@pytest.mark.parametrize(
    ("doc", "what"),
    [
        ({"computeResources": {"type": "SPOT", "maxvCpus": 4}}, "SPOT"),
        ({"computeResources": {"type": "FARGATE", "maxvCpus": 4}}, "FARGATE"),
        ({"computeResources": {"type": "FARGATE_SPOT", "maxvCpus": 4}}, "FARGATE_SPOT"),
        ({"type": "UNMANAGED", "unmanagedvCpus": 4, "computeResources": None}, "UNMANAGED"),
    ],
)
async def test_refused_on_spot_fargate_and_unmanaged(
    tmp_path: Path, doc: dict[str, Any], what: str
) -> None:
    async with runtime(tmp_path, FakeExecutor(), setup=False) as rt:
        await rt.put_compute_environment(ce("other", **doc))
        await rt.put_job_queue(jq("q", 1, ["other"]))
        await rt.register_job_definition(mnp("m", THREE))
        with pytest.raises(ClientError, match=f"compute environment 'other' is {what};"):
            await rt.submit(req("mnp", definition="m"))


# ---------------------------------------------------------------- running (real processes)

SERVER = """
import os, socket, sys
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", int(sys.argv[1])))
srv.listen(8)
print("main addr:", os.environ.get("AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS", "none"),
      flush=True)
for _ in range(int(os.environ["AWS_BATCH_JOB_NUM_NODES"]) - 1):
    conn, _ = srv.accept()
    print("received", conn.makefile().readline().strip(), flush=True)
    conn.close()
"""

CLIENT = """
import os, socket, sys, time
addr = os.environ["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"]
for _ in range(200):
    try:
        s = socket.create_connection((addr, int(sys.argv[1])), timeout=2)
    except OSError:
        time.sleep(0.05)
        continue
    s.sendall(("node-%s\\n" % os.environ["AWS_BATCH_JOB_NODE_INDEX"]).encode())
    s.close()
    break
time.sleep(30)  # still running when the main node exits: stopped with the job
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_three_processes_talk_to_the_main_node(tmp_path: Path) -> None:
    ranges = [("0", [PY, "-c", SERVER, "Ref::port"]), ("1:", [PY, "-c", CLIENT, "Ref::port"])]
    async with runtime(tmp_path, vcpus=4, grace=0.5) as rt:
        await rt.register_job_definition(mnp("tcp", ranges))
        job = await rt.submit(req("tcp", definition="tcp", parameters={"port": str(free_port())}))
        await wait_status(rt, [job], timeout=60)
        assert job.status is S.SUCCEEDED, job.status_reason
        log = rt.log_path(job.attempts[0].log_stream).read_text()
        assert "main addr: none" in log  # the main node has no main-node address
        assert "received node-1" in log and "received node-2" in log
        nodes = await nodes_of(rt, job)
        assert [n.status for n in nodes] == [S.SUCCEEDED] * 3
        assert [n.attempts[0].exit_code for n in nodes[1:]] == [143, 143]  # stopped


async def test_process_main_failure_retries_with_every_node(tmp_path: Path) -> None:
    main = 'import os,sys; sys.exit(0 if os.environ["AWS_BATCH_JOB_ATTEMPT"] == "2" else 4)'
    child = "echo child $AWS_BATCH_JOB_NODE_INDEX attempt $AWS_BATCH_JOB_ATTEMPT; sleep 30"
    ranges = [("0", [PY, "-c", main]), ("1:", ["sh", "-c", child])]
    async with runtime(tmp_path, vcpus=4, grace=0.5) as rt:
        await rt.register_job_definition(mnp("f", ranges, retryStrategy={"attempts": 2}))
        job = await rt.submit(req("f", definition="f"))
        await wait_status(rt, [job], timeout=60)
        assert job.status is S.SUCCEEDED
        assert [a.exit_code for a in job.attempts] == [4, 0]
        nodes = await nodes_of(rt, job)
        assert all(len(n.attempts) == 2 for n in nodes)


# ---------------------------------------------------------------- running (real containers)

# The main node runs a persistent busybox `nc` server (`-ll -e`): each connection's line is
# appended to a file and acknowledged with "ok"; the main node exits once it has a line from
# both children. A child retries until acknowledged. (Two `nc -l` in a row would lose a
# connection that lands in the backlog between them.)
MAIN_NC = (
    'echo "main addr: ${AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS:-none}"; '
    'printf "#!/bin/sh\\nread l; echo \\"\\$l\\" >> /tmp/got; echo ok\\n" > /tmp/h; '
    "chmod +x /tmp/h; touch /tmp/got; nc -ll -p 5000 -e /tmp/h & "
    "while [ $(sort -u /tmp/got | grep -c node-) -lt 2 ]; do sleep 0.1; done; "
    "sort -u /tmp/got | sed 's/^/received /'"
)
CHILD_NC = (
    "until echo node-$AWS_BATCH_JOB_NODE_INDEX | "
    "nc $AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS 5000 | grep -q ok; do sleep 0.2; done; "
    "sleep 60"
)


async def _networks(name: str) -> list[dict[str, Any]]:
    import aiodocker

    async with aiodocker.Docker() as docker:
        found: list[dict[str, Any]] = await docker.networks.list(filters={"name": [name]})
        return [n for n in found if n.get("Name") == name]


async def _docker_job(
    tmp_path: Path, ranges: list[tuple[str, list[str]]], check: Callable[..., Any], **kw: Any
) -> None:
    await build_busybox_image()
    async with runtime(tmp_path, setup=False, grace=1.0) as rt:
        await rt.put_compute_environment(ce("dock", vcpus=4, executor="docker"))
        await rt.put_job_queue(jq("q", 1, ["dock"]))
        await rt.register_job_definition(mnp("nc", ranges, image=BUSYBOX_IMAGE, **kw))
        job = await rt.submit(req("nc", definition="nc"))
        await check(rt, job)
        assert await _networks(network_name(job.job_id)) == []  # removed afterwards


@pytest.mark.docker
async def test_three_containers_talk_to_the_main_node(tmp_path: Path) -> None:
    async def check(rt: Runtime, job: JobRecord) -> None:
        await wait_status(rt, [job], S.RUNNING, timeout=60)
        assert await _networks(network_name(job.job_id)) != []
        await wait_status(rt, [job], timeout=90)
        assert job.status is S.SUCCEEDED, job.status_reason
        log = rt.log_path(job.attempts[0].log_stream).read_text()
        assert "main addr: none" in log
        assert "received node-1" in log and "received node-2" in log
        nodes = await nodes_of(rt, job)
        assert [n.status for n in nodes] == [S.SUCCEEDED] * 3

    await _docker_job(
        tmp_path, [("0", ["sh", "-c", MAIN_NC]), ("1:", ["sh", "-c", CHILD_NC])], check
    )


@pytest.mark.docker
async def test_container_job_terminated_and_network_removed(tmp_path: Path) -> None:
    async def check(rt: Runtime, job: JobRecord) -> None:
        nodes = rt.node_jobs[job.job_id]
        await wait_status(rt, nodes, S.RUNNING, timeout=60)
        await rt.terminate_job(job.job_id, "enough")
        await wait_status(rt, [job], timeout=60)
        assert (job.status, job.status_reason) == (S.FAILED, "enough")

    await _docker_job(tmp_path, [(":", ["sh", "-c", "trap '' TERM; sleep 300"])], check)


async def test_a_stopped_runtime_runs_the_job_again_after_a_restart(tmp_path: Path) -> None:
    fake = FakeExecutor(manual)
    async with runtime(tmp_path, fake, vcpus=4, grace=0.1) as rt:
        await rt.register_job_definition(mnp("m", THREE, retryStrategy={"attempts": 1}))
        job = await rt.submit(req("mnp", definition="m"))
        await until_started(rt, fake, job, 3)
        job_id = job.job_id
    # Stopped while it ran: requeued (the interrupted attempt does not count).
    again = FakeExecutor(manual)
    async with runtime(tmp_path, again, vcpus=4, setup=False) as rt:
        (job,) = await rt.get_jobs([job_id])
        await until_started(rt, again, job, 3)
        specs = started_nodes(again, job, 2)
        assert set(specs) == {0, 1, 2}
        again.finish(specs[0].key, 0)
        await wait_status(rt, [job])
        assert job.status is S.SUCCEEDED
        assert [n.status for n in await nodes_of(rt, job)] == [S.SUCCEEDED] * 3
