"""Memory benchmark (issue: reliability). Prints figures; asserts nothing. Run:

    .venv/bin/python bench/memory.py [--jobs 100000] [--wave 5000]

1. run-through: a runtime (fresh process, scripted executor whose attempts end at once, its
   bookkeeping cleared after every wave) runs `--jobs` jobs in waves of `--wave`; its RSS is
   printed after each fifth of them. Finished jobs leave memory (only the last 20,000 ids and
   statuses are kept, for submissions racing a dependency's end), so RSS stays flat.
2. restart: a new runtime process starts on that state directory (all `--jobs` SUCCEEDED):
   RSS after the imports, once started (it loads unfinished jobs only), after 3 s idle, and
   after reading the first page of SUCCEEDED jobs; the same for an empty state directory.

RSS is read from /proc/self/statm after gc.collect() and malloc_trim(0) (freed memory handed
back to the system, so the figure is what is held).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mib() -> float:
    gc.collect()
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _resources() -> tuple[object, object, object]:
    from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

    ce = ComputeEnvironment.model_validate(
        {"computeEnvironmentName": "ce", "computeResources": {"maxvCpus": 64}, "memory": 65536}
    )
    jq = JobQueue.model_validate(
        {
            "jobQueueName": "q",
            "priority": 1,
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}],
        }
    )
    jd = JobDefinition.model_validate(
        {
            "jobDefinitionName": "d",
            "containerProperties": {
                "image": "x",
                "command": ["sh", "-c", "echo Ref::n"],
                "resourceRequirements": [
                    {"type": "VCPU", "value": "1"},
                    {"type": "MEMORY", "value": "16"},
                ],
            },
        }
    )
    return ce, jq, jd


async def run_through(state: Path, jobs: int, wave: int) -> None:
    import anyio

    from abatch.config.settings import RuntimeSettings
    from abatch.executors.fake import FakeExecutor
    from abatch.model.enums import ExecutorKind
    from abatch.model.job import JobRecord, SubmitJobRequest
    from abatch.runtime import open_runtime

    fake = FakeExecutor()
    ce, jq, jd = _resources()
    print(f"run-through: {jobs:,} jobs in waves of {wave:,}, scripted executor")
    print(f"  after imports            {rss_mib():7.1f} MiB")
    settings = RuntimeSettings(state_dir=state)
    async with open_runtime(settings, {ExecutorKind.PROCESS: fake}) as rt:  # type: ignore[dict-item]
        await rt.put_compute_environment(ce)  # type: ignore[arg-type]
        await rt.put_job_queue(jq)  # type: ignore[arg-type]
        await rt.register_job_definition(jd)  # type: ignore[arg-type]
        print(f"  started                  {rss_mib():7.1f} MiB")
        done = 0
        left = 0
        finished = anyio.Event()

        def on_change(job: JobRecord) -> None:
            nonlocal left
            if job.status.is_terminal:
                left -= 1
                if left == 0:
                    finished.set()

        rt.bus.subscribe(on_change)
        t0 = time.perf_counter()
        while done < jobs:
            n = min(wave, jobs - done)
            finished = anyio.Event()
            left = n
            reqs = [
                SubmitJobRequest.model_validate(
                    {"jobName": f"j{done + i}", "jobQueue": "q", "jobDefinition": "d",
                     "parameters": {"n": str(done + i)}}
                )
                for i in range(n)
            ]  # fmt: skip
            await rt.submit_many(reqs)
            await finished.wait()
            fake.started.clear()  # the scripted executor's own history, not the runtime's
            fake.results.clear()
            done += n
            if done % max(jobs // 5, wave) == 0 or done == jobs:
                print(
                    f"  {done:7,} finished          {rss_mib():7.1f} MiB   "
                    f"({len(rt.jobs)} jobs in memory, {time.perf_counter() - t0:.0f} s)"
                )


async def restart(state: Path) -> None:
    from abatch.config.settings import RuntimeSettings
    from abatch.model.enums import JobStatus
    from abatch.runtime import open_runtime
    from abatch.runtime.view import PageFilter, job_page

    print(f"  after imports            {rss_mib():7.1f} MiB")
    async with open_runtime(RuntimeSettings(state_dir=state)) as rt:
        counts = await rt.store.count_by_status()
        print(
            f"  started                  {rss_mib():7.1f} MiB   "
            f"({sum(counts.values()):,} jobs in the store, {len(rt.jobs)} in memory)"
        )
        import anyio

        await anyio.sleep(3)
        print(f"  idle 3 s                 {rss_mib():7.1f} MiB")
        await job_page(rt, PageFilter(status=JobStatus.SUCCEEDED.value), 0, 100)
        print(f"  a page of jobs read      {rss_mib():7.1f} MiB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--wave", type=int, default=5_000)
    ap.add_argument("--phase", choices=["run", "restart"], help=argparse.SUPPRESS)
    ap.add_argument("--state", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase is not None:
        import anyio

        sys.path.insert(0, str(ROOT))
        state = Path(args.state)
        if args.phase == "run":
            anyio.run(run_through, state, args.jobs, args.wave)
        else:
            anyio.run(restart, state)
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    me = [sys.executable, __file__]
    with tempfile.TemporaryDirectory() as tmp:
        full, empty = Path(tmp) / "full", Path(tmp) / "empty"
        phase = ["--jobs", str(args.jobs), "--wave", str(args.wave)]
        subprocess.run([*me, "--phase", "run", "--state", str(full), *phase], check=True, env=env)
        print(f"restart on a store with {args.jobs:,} finished jobs:")
        subprocess.run([*me, "--phase", "restart", "--state", str(full)], check=True, env=env)
        print("restart on an empty store:")
        subprocess.run([*me, "--phase", "restart", "--state", str(empty)], check=True, env=env)


if __name__ == "__main__":
    main()
