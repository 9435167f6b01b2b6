"""DockerExecutor against a real engine: removal after wait (or not), leftovers of the same
key, adoption after a restart (running or ended meanwhile), many at once, and the example
config configs/docker.toml through `abatch run`."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiodocker
import pytest

from abatch.executors.base import StartError
from abatch.executors.docker import AttemptDetachedError, DockerExecutor
from abatch.model.runspec import ExitResult, RunSpec
from tests.executors.docker_helpers import (
    container_names,
    eventually,
    log_is,
    remove_all,
    run,
)

pytestmark = pytest.mark.docker


# ---------------------------------------------------------------- removal, adoption


async def test_containers_removed_when_forgotten_unless_kept(
    executor: DockerExecutor, make: Callable[..., RunSpec], runtime_id: str
) -> None:
    spec = make("true")
    await run(executor, spec, forget=False)
    # The ended container is the record of the exit until the runtime has committed it.
    assert await container_names(runtime_id) == [f"abatch-{spec.key}"]
    await executor.forget([spec.key])
    assert await container_names(runtime_id) == []

    # A container an earlier executor saw end is found by its label.
    other = make("true")
    await run(executor, other, forget=False)
    fresh = DockerExecutor(runtime_id=runtime_id)
    try:
        await fresh.forget([other.key, "never-existed"])
    finally:
        await fresh.close()
    assert await container_names(runtime_id) == []

    keeper = DockerExecutor(keep_containers=True, runtime_id=runtime_id)
    try:
        kept = make("true")
        result, _ = await run(keeper, kept, forget=False)
        assert result.exit_code == 0
        assert await container_names(runtime_id) == [f"abatch-{kept.key}"]
        assert await keeper.containers() == [kept.key]
        await keeper.forget([kept.key])
        assert await keeper.containers() == [kept.key]
    finally:
        await keeper.close()


async def test_adopt_a_running_container_after_a_restart(
    make: Callable[..., RunSpec], runtime_id: str
) -> None:
    spec = make("sh", "-c", "echo one; sleep 2; echo two >&2; sleep 1; echo three; exit 7")
    first = DockerExecutor(runtime_id=runtime_id)
    second = DockerExecutor(runtime_id=runtime_id)
    try:
        handle = await first.start(spec)
        await eventually(log_is(spec, "one\n"))
        await first.close()  # the runtime stops; the container carries on
        with pytest.raises(AttemptDetachedError):
            await first.wait(handle)

        assert spec.key in await second.containers()
        adopted = await second.adopt(spec.key)
        assert adopted is not None and adopted.container_id == handle.container_id
        assert adopted.pid is not None
        assert await second.adopt(spec.key) is adopted
        await eventually(lambda: "two" in spec.log_path.read_text())
        assert not adopted.future.done()  # the log grows while it runs
        result = await asyncio.wait_for(second.wait(adopted), 30)
        assert result == ExitResult(7)
        assert spec.log_path.read_text() == "one\n[stderr] two\nthree\n"  # no line twice
        # (one second apart, so the order between stdout and stderr is not in doubt)
        assert await container_names(runtime_id) == [f"abatch-{spec.key}"]  # until forgotten
        await second.forget([spec.key])
        assert await container_names(runtime_id) == []
        assert await second.adopt(spec.key) is None
    finally:
        await first.close()
        await second.close()
        await remove_all(runtime_id)


async def test_adopt_a_container_that_ended_meanwhile(
    make: Callable[..., RunSpec], runtime_id: str
) -> None:
    spec = make("sh", "-c", "echo early; sleep 1; echo late; exit 4")
    first = DockerExecutor(runtime_id=runtime_id)
    second = DockerExecutor(runtime_id=runtime_id)
    try:
        handle = await first.start(spec)
        await eventually(log_is(spec, "early\n"))
        await first.close()
        async with aiodocker.Docker() as docker:
            await docker.containers.container(handle.container_id).wait()
        adopted = await second.adopt(spec.key)
        assert adopted is not None and adopted.pid is None
        result = await asyncio.wait_for(second.wait(adopted), 10)
        assert result == ExitResult(4)
        assert spec.log_path.read_text() == "early\nlate\n"
        assert await second.containers() == [spec.key]  # the record of the exit, until
        await second.forget([spec.key])  # the runtime has committed it
        assert await second.containers() == []
    finally:
        await second.close()
        await remove_all(runtime_id)


async def test_adopt_unknown_key(executor: DockerExecutor) -> None:
    assert await executor.adopt("no-such-key") is None


async def test_many_at_once(executor: DockerExecutor, make: Callable[..., RunSpec]) -> None:
    specs = [make("sh", "-c", f"echo {i}; exit {i % 3}") for i in range(8)]
    handles = await asyncio.gather(*(executor.start(s) for s in specs))
    results = await asyncio.gather(*(executor.wait(h) for h in handles))
    assert [r.exit_code for r in results] == [i % 3 for i in range(8)]
    assert [s.log_path.read_text() for s in specs] == [f"{i}\n" for i in range(8)]


async def test_a_leftover_of_the_same_key_is_replaced_unless_it_runs(
    make: Callable[..., RunSpec], runtime_id: str
) -> None:
    keeper = DockerExecutor(keep_containers=True, runtime_id=runtime_id)
    try:
        spec = make("sh", "-c", "exit 2")
        assert (await run(keeper, spec))[0].exit_code == 2  # kept: the name stays taken
        result, _ = await run(keeper, make("true", key=spec.key))
        assert result.exit_code == 0

        busy = make("sleep", "300")
        handle = await keeper.start(busy)
        with pytest.raises(StartError) as err:
            await keeper.start(make("true", key=busy.key))
        assert err.value.reason.startswith("CannotCreateContainerError: ")
        await keeper.kill(handle, 0)
        assert (await asyncio.wait_for(keeper.wait(handle), 30)).exit_code == 137
    finally:
        await keeper.close()
        await remove_all(runtime_id)


async def test_adopt_removes_a_container_that_never_started(
    executor: DockerExecutor, image: str, runtime_id: str
) -> None:
    async with aiodocker.Docker() as docker:
        await docker.containers.create(
            {
                "Image": image,
                "Cmd": ["true"],
                "Labels": {"abatch.key": "half-made", "abatch.runtime": runtime_id},
            },
            name=f"abatch-half-made-{runtime_id}",
        )
    assert await executor.containers() == ["half-made"]
    assert await executor.adopt("half-made") is None
    assert await executor.containers() == []


def test_the_example_config_runs_as_described(image: str, tmp_path: Path) -> None:
    """configs/docker.toml, through `abatch run`: what its comments promise."""
    config = Path(__file__).resolve().parents[2] / "configs" / "docker.toml"
    shutil.copy(config, tmp_path / "docker.toml")  # its state directory goes next to it
    proc = subprocess.run(
        [sys.executable, "-m", "abatch", "run", "docker.toml", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr  # two jobs are meant to fail
    jobs = {j["jobName"]: j for j in json.loads(proc.stdout)["jobs"]}
    assert {name: j["status"] for name, j in jobs.items()} == {
        "hello": "SUCCEEDED",
        "hello-bonjour": "SUCCEEDED",
        "limits": "SUCCEEDED",
        "no-such-image": "FAILED",
        "memory-hog": "FAILED",
        "flaky": "SUCCEEDED",
    }
    assert (jobs["no-such-image"]["attempts"], jobs["memory-hog"]["attempts"]) == (1, 1)
    assert jobs["flaky"]["attempts"] == 2
    assert jobs["memory-hog"]["exitCode"] == 137
