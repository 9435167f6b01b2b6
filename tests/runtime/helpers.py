"""Shared setup for runtime tests: a runtime with one CE, two queues and a definition."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from abatch.config.settings import RuntimeSettings
from abatch.executors.base import Executor
from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue
from abatch.runtime import Runtime, open_runtime


def ce(name: str = "ce", vcpus: int = 2, memory: int = 4096, **kw: Any) -> ComputeEnvironment:
    return ComputeEnvironment.model_validate(
        {
            "computeEnvironmentName": name,
            "computeResources": {"maxvCpus": vcpus},
            "memory": memory,
            **kw,
        }
    )


def jq(name: str, priority: int, ces: Iterable[str] = ("ce",), **kw: Any) -> JobQueue:
    order = [{"order": i, "computeEnvironment": c} for i, c in enumerate(ces)]
    return JobQueue.model_validate(
        {"jobQueueName": name, "priority": priority, "computeEnvironmentOrder": order, **kw}
    )


def jd(
    name: str = "d", command: list[str] | None = None, vcpus: int = 1, memory: int = 64, **kw: Any
) -> JobDefinition:
    return JobDefinition.model_validate(
        {
            "jobDefinitionName": name,
            "containerProperties": {
                "image": "busybox",
                "command": command or ["true"],
                "resourceRequirements": [
                    {"type": "VCPU", "value": str(vcpus)},
                    {"type": "MEMORY", "value": str(memory)},
                ],
            },
            **kw,
        }
    )


def req(name: str, queue: str = "q", definition: str = "d", **kw: Any) -> SubmitJobRequest:
    return SubmitJobRequest.model_validate(
        {"jobName": name, "jobQueue": queue, "jobDefinition": definition, **kw}
    )


def settings(tmp: Path, **kw: Any) -> RuntimeSettings:
    return RuntimeSettings(state_dir=tmp / "state", kill_grace_seconds=kw.pop("grace", 1.0), **kw)


@asynccontextmanager
async def runtime(
    tmp: Path,
    executor: Executor | None = None,
    *,
    vcpus: int = 2,
    setup: bool = True,
    clock: Callable[[], float] | None = None,
    **kw: Any,
) -> AsyncIterator[Runtime]:
    executors = {ExecutorKind.PROCESS: executor} if executor is not None else None
    async with open_runtime(
        settings(tmp, **kw),
        executors,  # type: ignore[arg-type]
        clock=clock,
    ) as rt:
        if setup:
            await rt.put_compute_environment(ce(vcpus=vcpus))
            await rt.put_job_queue(jq("q", 1))
            await rt.put_job_queue(jq("high", 10))
            await rt.register_job_definition(jd())
        yield rt


class FakeClock:
    """A clock a test moves by hand (seconds since the epoch, as time.time)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t


async def wait_for(rt: Runtime, predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Wait, driven by the runtime's events, until `predicate()` holds."""
    changed = anyio.Event()

    def on_change(_: JobRecord) -> None:
        changed.set()

    unsubscribe = rt.bus.subscribe(on_change)
    try:
        with anyio.fail_after(timeout):
            while not predicate():
                await changed.wait()
                changed = anyio.Event()
    finally:
        unsubscribe()


async def wait_status(
    rt: Runtime, jobs: Iterable[JobRecord], status: JobStatus | None = None, timeout: float = 30.0
) -> None:
    """Until every job is in `status` (default: any terminal status)."""
    jobs = list(jobs)

    def ok(j: JobRecord) -> bool:
        return j.status.is_terminal if status is None else j.status is status

    await wait_for(rt, lambda: all(ok(j) for j in jobs), timeout)


def alive(pid: int) -> bool:
    """Whether process `pid` exists and has not exited (a zombie counts as gone)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return data[data.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


async def until_instances(
    rt: Runtime, predicate: Callable[[], bool], timeout: float = 20.0
) -> None:
    """Wait, event by event, until `predicate` holds of the runtime's instances."""
    with anyio.fail_after(timeout):
        while not predicate():
            await rt.instances_changed()
