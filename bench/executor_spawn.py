"""Spawn throughput: 2,000 `/bin/true` at 2 at a time, ProcessExecutor against bare asyncio.

Not a test. Run with `python bench/executor_spawn.py [--jobs N] [--concurrency C]
[--rounds R] [--root DIR]`; it prints jobs/s for each way, best and median over the rounds. The
ProcessExecutor figures include what the runtime would pay per attempt: a fresh working
directory and log file for every job, created under --root (default: the system temp
directory). On a disk where creating files is slow, that costs more than the spawn itself:
compare with `--root /dev/shm`.

It also prints the CPU that each ProcessExecutor job costs the runtime's process and the
supervisor daemon (which spawns, reaps and journals; see abatch/executors/supervisor.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from abatch.executors import ProcessExecutor
from abatch.model.runspec import RunSpec


async def drive(jobs: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    """Run `one(i)` for i in range(jobs), `concurrency` at a time; return jobs per second."""
    todo = iter(range(jobs))

    async def worker() -> None:
        for i in todo:
            await one(i)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return jobs / (time.perf_counter() - began)


async def bare_asyncio(jobs: int, concurrency: int, root: Path) -> float:
    async def one(i: int) -> None:
        proc = await asyncio.create_subprocess_exec(
            "/bin/true",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if await proc.wait() != 0:
            raise RuntimeError("/bin/true failed")

    return await drive(jobs, concurrency, one)


CPU_MS: dict[str, list[float]] = {"runtime": [], "supervisor": []}


def _cpu_s(pid: int) -> float:
    """utime + stime of process `pid`, in seconds."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        fields = f.read().rsplit(b")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def process_executor(jobs: int, concurrency: int, root: Path) -> float:
    executor = ProcessExecutor(root / "supervisor")  # its supervisor starts with the first job
    warm = RunSpec(key="warm", argv=("/bin/true",), env={}, workdir=root, log_path=root / "w")
    await executor.wait(await executor.start(warm))
    assert executor.supervisor_pid is not None
    me, daemon = os.getpid(), executor.supervisor_pid
    before = _cpu_s(me), _cpu_s(daemon)

    async def one(i: int) -> None:
        spec = RunSpec(
            key=f"job-{i}",
            argv=("/bin/true",),
            env={"AWS_BATCH_JOB_ID": f"job-{i}"},
            workdir=root / "work" / f"job-{i}",
            log_path=root / "logs" / f"job-{i}.log",
        )
        handle = await executor.start(spec)
        if (await executor.wait(handle)).exit_code != 0:
            raise RuntimeError("/bin/true failed")

    try:
        rate = await drive(jobs, concurrency, one)
        CPU_MS["runtime"].append((_cpu_s(me) - before[0]) / jobs * 1e3)
        CPU_MS["supervisor"].append((_cpu_s(daemon) - before[1]) / jobs * 1e3)
        return rate
    finally:
        await executor.close()


async def main(jobs: int, concurrency: int, rounds: int, root: str | None) -> None:
    ways = {
        "bare asyncio create_subprocess_exec": bare_asyncio,
        "ProcessExecutor": process_executor,
    }
    figures: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():  # interleaved, so drift in machine load hits both
            with tempfile.TemporaryDirectory(prefix="abatch-bench-", dir=root) as tmp:
                figures[name].append(await way(jobs, concurrency, Path(tmp)))
    for name, per_s in figures.items():
        print(
            f"{name:40s} median {statistics.median(per_s):7.0f} jobs/s"
            f"  best {max(per_s):7.0f}  ({jobs} jobs, {concurrency} at a time, {rounds} rounds)"
        )
    ratio = statistics.median(figures["ProcessExecutor"]) / statistics.median(
        figures["bare asyncio create_subprocess_exec"]
    )
    print(f"ProcessExecutor / bare asyncio: {ratio:.2f}x")
    print(
        f"CPU per ProcessExecutor job: runtime {statistics.median(CPU_MS['runtime']):.2f} ms, "
        f"supervisor {statistics.median(CPU_MS['supervisor']):.2f} ms (medians)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--root", default=None, help="where job directories and logs go")
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.concurrency, args.rounds, args.root))
