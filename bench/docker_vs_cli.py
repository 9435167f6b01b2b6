"""Docker throughput: 50 short containers (`true`), 2 at a time, abatch against the docker CLI.

Not a test. Run with `python bench/docker_vs_cli.py [--jobs N] [--concurrency C] [--rounds R]`;
it needs a Docker engine and the local test image (built here if missing, as
`python -m tests.docker_support` would). Three ways, interleaved in each round so drift in
machine load hits all of them:

1. `docker run --rm IMAGE true` through `xargs -P C` (the practical ceiling of the CLI);
2. DockerExecutor alone: start + wait per container, C workers (what the runtime pays the
   executor per attempt: create, start, inspect, logs + wait, delete);
3. the whole runtime (`open_runtime`, a compute environment with `executor = "docker"` and
   C vCPUs, jobs of 1 vCPU submitted in one call, timed until every job is SUCCEEDED).

Prints seconds for each way (median over rounds) and the median of the paired ratios to the
CLI run of the same round; the target is abatch <= 1.1 x the CLI's time.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # for tests.docker_support (the image builder)

from abatch.executors.docker import DockerExecutor  # noqa: E402
from abatch.model.runspec import RunSpec  # noqa: E402


def cli(jobs: int, concurrency: int, image: str, root: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        ["xargs", "-P", str(concurrency), "-I{}", "docker", "run", "--rm", image, "true"],
        input="".join(f"{i}\n" for i in range(jobs)),
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - began


async def drive(jobs: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> float:
    todo = iter(range(jobs))

    async def worker() -> None:
        for i in todo:
            await one(i)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


async def executor_alone(jobs: int, concurrency: int, image: str, root: Path) -> float:
    ex = DockerExecutor(runtime_id="abatch-bench")
    try:
        await ex.containers()  # connect first: the CLI's start-up is not timed either

        async def one(i: int) -> None:
            spec = RunSpec(
                key=f"bench-{root.name}-{i}",
                argv=("true",),
                env={"AWS_BATCH_JOB_ID": f"job-{i}"},
                workdir=root / "work" / str(i),
                log_path=root / "logs" / str(i),
                image=image,
                memory_mib=64,
            )
            handle = await ex.start(spec)
            if (await ex.wait(handle)).exit_code != 0:
                raise RuntimeError("true failed in a container")

        return await drive(jobs, concurrency, one)
    finally:
        await ex.close()


async def whole_runtime(jobs: int, concurrency: int, image: str, root: Path) -> float:
    from abatch.config.settings import RuntimeSettings
    from abatch.model.enums import JobStatus
    from abatch.model.job import SubmitJobRequest
    from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue
    from abatch.runtime import open_runtime

    settings = RuntimeSettings(state_dir=root / "state")
    async with open_runtime(settings) as rt:
        await rt.put_compute_environment(
            ComputeEnvironment.model_validate(
                {
                    "computeEnvironmentName": "docker",
                    "computeResources": {"maxvCpus": concurrency},
                    "executor": "docker",
                    "memory": 4096,
                }
            )
        )
        await rt.put_job_queue(
            JobQueue.model_validate(
                {
                    "jobQueueName": "q",
                    "priority": 1,
                    "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "docker"}],
                }
            )
        )
        await rt.register_job_definition(
            JobDefinition.model_validate(
                {
                    "jobDefinitionName": "true",
                    "containerProperties": {
                        "image": image,
                        "command": ["true"],
                        "resourceRequirements": [
                            {"type": "VCPU", "value": "1"},
                            {"type": "MEMORY", "value": "64"},
                        ],
                    },
                }
            )
        )
        reqs = [
            SubmitJobRequest(job_name=f"t{i}", job_queue="q", job_definition="true")
            for i in range(jobs)
        ]
        began = time.perf_counter()
        submitted = await rt.submit_many(reqs)
        while not all(j.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) for j in submitted):
            await asyncio.sleep(0.01)
        took = time.perf_counter() - began
        failed = [j.job_name for j in submitted if j.status is JobStatus.FAILED]
        if failed:
            raise RuntimeError(f"{len(failed)} jobs failed, e.g. {failed[0]}")
        return took


async def build_image() -> str:
    from tests.docker_support import build_busybox_image

    return await build_busybox_image()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-runtime", action="store_true", help="bench the executor alone")
    args = ap.parse_args()
    image = asyncio.run(build_image())

    ways: dict[str, Callable[[int, int, str, Path], float]] = {
        "docker run --rm (xargs -P)": cli,
        "DockerExecutor start+wait": lambda *a: asyncio.run(executor_alone(*a)),
    }
    if not args.skip_runtime:
        ways["whole runtime (open_runtime)"] = lambda *a: asyncio.run(whole_runtime(*a))
    seconds: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            with tempfile.TemporaryDirectory(prefix="abatch-bench-") as tmp:
                seconds[name].append(way(args.jobs, args.concurrency, image, Path(tmp)))
    base = seconds["docker run --rm (xargs -P)"]
    print(
        f"{args.jobs} containers of `true`, {args.concurrency} at a time, image {image}, "
        f"median of {args.rounds} rounds"
    )
    for name, runs in seconds.items():
        ratios = [s / b for s, b in zip(runs, base, strict=True)]
        each = ", ".join(f"{s:.2f}" for s in runs)
        median = statistics.median(runs)
        line = f"  {name:30s} {median:6.2f} s  ({args.jobs / median:4.1f}/s; each: {each})"
        if runs is not base:
            line += f"  x CLI {statistics.median(ratios):.2f} (target <= 1.10)"
        print(line)


if __name__ == "__main__":
    main()
