"""DockerExecutor against a real engine and the local busybox image: what runs inside
(environment, memory limit and OOM kill, CPU quota, ulimits, read-only root, user, mounts,
linuxParameters), start errors (pull, no engine, no command), kills, logs while running."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import aiodocker
import pytest

from abatch.executors.base import StartError
from abatch.executors.docker import DockerExecutor, EngineUnavailableError
from abatch.model.runspec import ExitResult, RunSpec
from tests.executors.docker_helpers import container_names, eventually, log_is, run

pytestmark = pytest.mark.docker

OOM = "OutOfMemoryError: Container killed due to memory usage"


# ---------------------------------------------------------------- what runs inside


async def test_exit_code_environment_and_marked_stderr(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    spec = make(
        "sh",
        "-c",
        'echo "$GREETING $AWS_BATCH_JOB_ID"; echo oops >&2; exit 3',
        env={"GREETING": "hello there", "AWS_BATCH_JOB_ID": "j-1"},
    )
    result, log = await run(executor, spec)
    assert result == ExitResult(3)
    # stdout and stderr are two pipes that the engine reads apart: no order between them.
    assert sorted(log.splitlines(keepends=True)) == ["[stderr] oops\n", "hello there j-1\n"]


async def test_no_image_is_refused(executor: DockerExecutor, make: Callable[..., RunSpec]) -> None:
    with pytest.raises(StartError) as err:
        await executor.start(make("true", image=None))
    assert err.value.reason == "CannotStartContainerError: no image given"


async def test_memory_limit_is_visible_and_oom_kill_has_the_aws_reason(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    limit = make(
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null"
        " || cat /sys/fs/cgroup/memory.max",
        memory_mib=64,
    )
    result, log = await run(executor, limit)
    assert result.exit_code == 0 and int(log) == 64 * 1024 * 1024

    hog = make(
        "sh",
        "-c",
        'x=$(head -c 300m /dev/zero | tr "\\0" a); echo survived',
        memory_mib=64,
        container={"linuxParameters": {"maxSwap": 0}},
    )
    result, log = await run(executor, hog)
    assert result.reason == OOM
    assert result.exit_code == 137
    assert "survived" not in log


async def test_cpu_quota_follows_vcpus(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    spec = make(
        "sh",
        "-c",
        "cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us"
        " 2>/dev/null || cat /sys/fs/cgroup/cpu.max",
        vcpus=0.5,
    )
    result, log = await run(executor, spec)
    quota, period = (int(n) for n in log.split())
    assert result.exit_code == 0 and quota / period == 0.5


async def test_read_only_root_user_and_ulimits(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    spec = make(
        "sh",
        "-c",
        "id -u; id -g; ulimit -n; touch /probe && echo wrote || echo refused",
        container={
            "readonlyRootFilesystem": True,
            "user": "1000:1000",
            "ulimits": [{"name": "nofile", "softLimit": 321, "hardLimit": 654}],
        },
    )
    result, log = await run(executor, spec)
    assert result.exit_code == 0
    lines = [line for line in log.splitlines() if not line.startswith("[stderr]")]
    assert lines == ["1000", "1000", "321", "refused"]


async def test_bind_mount_and_named_volume(
    executor: DockerExecutor, make: Callable[..., RunSpec], tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    (shared / "in.txt").write_text("from the host\n")
    volume = f"t{uuid.uuid4().hex[:10]}"
    container = {
        "volumes": [{"name": "data", "host": {"sourcePath": str(shared)}}, {"name": volume}],
        "mountPoints": [
            {"sourceVolume": "data", "containerPath": "/data"},
            {"sourceVolume": volume, "containerPath": "/scratch"},
            {"sourceVolume": "data", "containerPath": "/ro", "readOnly": True},
        ],
    }
    spec = make(
        "sh",
        "-c",
        "cat /data/in.txt; echo from the container > /data/out.txt;"
        " echo kept > /scratch/k; touch /ro/x 2>/dev/null && echo ro-writable || echo ro-refused",
        container=container,
    )
    try:
        result, log = await run(executor, spec)
        assert result.exit_code == 0
        assert log == "from the host\nro-refused\n"
        assert (shared / "out.txt").read_text() == "from the container\n"
        again, log = await run(executor, make("cat", "/scratch/k", container=container))
        assert again.exit_code == 0 and log == "kept\n"
    finally:
        async with aiodocker.Docker() as docker:
            await (await docker.volumes.get(f"abatch-{volume}")).delete()


async def test_linux_parameters_init_tmpfs_shm_device(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    spec = make(
        "sh",
        "-c",
        "cat /proc/1/comm; df -m /fast /dev/shm | tail -n +2 | awk '{print $2}';"
        " echo hi > /dev/mynull && echo device-ok",
        container={
            "linuxParameters": {
                "initProcessEnabled": True,
                "tmpfs": [{"containerPath": "/fast", "size": 16, "mountOptions": ["noexec"]}],
                "sharedMemorySize": 32,
                "devices": [{"hostPath": "/dev/null", "containerPath": "/dev/mynull"}],
            }
        },
    )
    result, log = await run(executor, spec)
    assert result.exit_code == 0, log
    comm, fast, shm, device = log.split()
    assert comm != "sh"  # an init process (docker-init / tini) is pid 1
    assert (fast, shm, device) == ("16", "32", "device-ok")


# ---------------------------------------------------------------- start errors


async def test_unknown_image_is_a_pull_error(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    with pytest.raises(StartError) as err:
        await executor.start(make("true", image=f"abatch-no-such-image-{uuid.uuid4().hex[:8]}"))
    assert err.value.reason.startswith("CannotPullContainerError: ")
    assert not isinstance(err.value, EngineUnavailableError)


async def test_unreachable_engine_fails_fast(make: Callable[..., RunSpec]) -> None:
    ex = DockerExecutor("unix:///nonexistent.sock")
    began = time.monotonic()
    try:
        with pytest.raises(EngineUnavailableError) as err:
            await ex.start(make("true"))
    finally:
        await ex.close()
    assert time.monotonic() - began < 5
    assert err.value.reason.startswith(
        "DockerTimeoutError: cannot reach the Docker engine at unix:///nonexistent.sock: "
    )
    assert isinstance(err.value, StartError)


# ---------------------------------------------------------------- kills


async def test_kill_escalates_when_sigterm_is_ignored(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    spec = make("sh", "-c", 'trap "" TERM; echo ready; sleep 300')
    handle = await executor.start(spec)
    await eventually(log_is(spec, "ready\n"))
    began = time.monotonic()
    await executor.kill(handle, 3.0)
    assert time.monotonic() - began < 2.5  # the grace period is not spent in kill()
    result = await asyncio.wait_for(executor.wait(handle), 30)
    assert result.exit_code == 137 and result.signal == 9 and result.reason is None
    assert 2.9 < time.monotonic() - began < 30
    await executor.kill(handle, 1.0)  # ended: a no-op


async def test_kill_running_container(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    handle = await executor.start(make("sleep", "300"))
    await executor.kill(handle, 2.0)
    result = await asyncio.wait_for(executor.wait(handle), 30)
    assert result.exit_code in (137, 143)


async def test_cancelled_waiter_loses_nothing(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    handle = await executor.start(make("sh", "-c", "sleep 1; exit 5"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(executor.wait(handle), 0.1)
    assert (await asyncio.wait_for(executor.wait(handle), 30)).exit_code == 5


# ---------------------------------------------------------------- logs


async def test_logs_are_written_while_the_container_runs(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    spec = make("sh", "-c", "echo first; sleep 3; echo second")
    handle = await executor.start(spec)
    await eventually(log_is(spec, "first\n"))
    assert not handle.future.done()
    result = await asyncio.wait_for(executor.wait(handle), 30)
    assert result.exit_code == 0
    assert spec.log_path.read_text() == "first\nsecond\n"


async def test_log_is_cut_at_the_cap(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    executor.max_log_bytes = 65536
    spec = make("sh", "-c", "head -c 2000000 /dev/zero | tr '\\0' x; echo; echo end")
    result, log = await run(executor, spec)
    assert result.exit_code == 0
    lines = log.splitlines()
    assert lines[0] == "x" * 65536  # a whole first line cut at the cap
    assert lines[1] == "[abatch] log cut at 65536 bytes; the rest is dropped"
    assert lines[2] == "[abatch] log cut at 65536 bytes; 1934469 more bytes dropped"
    assert len(lines) == 3


# ---------------------------------------------------------------- more start errors


async def test_a_command_that_cannot_start(
    executor: DockerExecutor, make: Callable[..., RunSpec], runtime_id: str
) -> None:
    with pytest.raises(StartError) as err:
        await executor.start(make("no-such-command"))
    assert err.value.reason.startswith("CannotStartContainerError: ")
    assert "no-such-command" in err.value.reason
    await eventually(lambda: not executor._chores)  # the failed container is removed
    assert await container_names(runtime_id) == []


async def test_more_vcpus_than_the_host_has_are_capped(
    executor: DockerExecutor, make: Callable[..., RunSpec]
) -> None:
    result, _ = await run(executor, make("true", vcpus=4096.0))
    assert result.exit_code == 0
