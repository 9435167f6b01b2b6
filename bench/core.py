"""Core benchmark (issue: core). Prints figures; asserts nothing. Run:

    .venv/bin/python bench/core.py [--jobs 2000] [--submit 100000] [--rounds 3]

1. throughput: 2,000 `/bin/true` jobs (1 vCPU each) on a 2-vCPU compute environment through
   `abatch run` (a subprocess, timed from start to exit, every state change persisted), against
   the same 2,000 processes through a bare asyncio loop with 2 at a time (also a subprocess, so
   both pay interpreter start-up). Reports jobs/s for both and the ratio (target >= 0.8).
2. submission: 100,000 SubmitJob requests in one call into a running runtime (target < 5 s).
3. one scheduling decision with 100,000 jobs RUNNABLE (target < 1 ms), on a FIFO queue and on
   a fair-share queue with the 100,000 spread over 100 share identifiers (weights, a prefix
   entry, computeReservation, a 3600 s window).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import asyncio, sys
async def main(n):
    sem = asyncio.Semaphore(2)
    async def one():
        async with sem:
            p = await asyncio.create_subprocess_exec("/bin/true")
            await p.wait()
    await asyncio.gather(*(one() for _ in range(n)))
asyncio.run(main(int(sys.argv[1])))
"""

CONFIG = """
[runtime]
state_dir = "{state}"
[[compute_environment]]
name = "ce"
executor = "process"
memory = 4096
[compute_environment.compute_resources]
max_vcpus = 2
[[job_queue]]
name = "q"
priority = 1
compute_environment_order = [{{ order = 1, compute_environment = "ce" }}]
[[job_definition]]
name = "true"
[job_definition.container_properties]
image = "busybox"
command = ["/bin/true"]
resource_requirements = [{{ type = "VCPU", value = "1" }}, {{ type = "MEMORY", value = "16" }}]
"""


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def write_config(tmp: str, jobs: int) -> Path:
    cfg = Path(tmp) / f"bench-{jobs}.toml"
    text = CONFIG.format(state=f"{tmp}/state-{jobs}")
    text += "".join(
        f'[[job]]\nname = "t{i}"\njob_queue = "q"\njob_definition = "true"\n' for i in range(jobs)
    )
    cfg.write_text(text)
    return cfg


def throughput(jobs: int, rounds: int, where: str | None) -> None:
    # An installed abatch has its bytecode compiled (pip does it); a checkout run with
    # PYTHONDONTWRITEBYTECODE (as on these VMs) would compile ~100 modules on every start.
    package = Path(__file__).resolve().parents[1] / "abatch"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    bare_rates, abatch_rates, fixed, ceilings = [], [], [], []
    # Each round's state directory is removed only at the end: on an ext4 without a journal
    # (this VM's root) every file created in the minute after thousands were deleted costs
    # a scan past them (the kernel's recently_deleted check), so removing one round's 4,000
    # files would slow the next round's file creation, and that is the bench's doing.
    with contextlib.ExitStack() as rounds_dirs:
        for _ in range(rounds):
            tmp = rounds_dirs.enter_context(tempfile.TemporaryDirectory(dir=where))
            cfg, one = write_config(tmp, jobs), write_config(tmp, 1)
            # The fixed cost: one job each way (start-up, config, store, daemon, stop). First,
            # so that it does not follow the big run's stop and the files it removes.
            bare_one = timed([sys.executable, "-c", BARE, "1"])
            run_one = timed([sys.executable, "-m", "abatch", "run", str(one), "--json"])
            bare = timed([sys.executable, "-c", BARE, str(jobs)])
            run = timed([sys.executable, "-m", "abatch", "run", str(cfg), "--json"])
            bare_rates.append(jobs / bare)
            abatch_rates.append(jobs / run)
            fixed.append(run_one - bare_one)
            # The best ratio abatch could reach if each job after start-up cost it no more
            # than it costs the bare loop.
            ceilings.append(bare / (bare + run_one - bare_one))
    # These machines drift by +-25% from minute to minute: compare each abatch run with the
    # bare run just before it, and report the median of those paired ratios.
    ratios = [a / b for a, b in zip(abatch_rates, bare_rates, strict=True)]
    b, a = statistics.median(bare_rates), statistics.median(abatch_rates)
    place = where or tempfile.gettempdir()
    print(
        f"throughput ({jobs} x /bin/true, 2 at a time, whole commands, median of {rounds}, "
        f"state under {place})"
    )
    print(f"  bare asyncio loop : {b:8.0f} jobs/s")
    print(f"  abatch run        : {a:8.0f} jobs/s")
    print(
        f"  ratio             : {statistics.median(ratios):8.2f}   (median of paired runs; "
        f"each: {', '.join(f'{r:.2f}' for r in ratios)}; target >= 0.80)"
    )
    print(
        f"  fixed cost        : {statistics.median(fixed):8.2f} s (a 1-job abatch run minus a "
        f"1-job bare run); ceiling it leaves: {statistics.median(ceilings):.2f}"
    )


async def submission_and_decision(
    count: int, instance_types: list[str] | None = None, identifiers: int = 0
) -> None:
    """`identifiers` > 0: the queue has a fair-share policy and the jobs are spread over
    that many share identifiers."""
    from abatch.config.settings import RuntimeSettings
    from abatch.executors.fake import FakeExecutor, FakeOutcome
    from abatch.model.enums import ExecutorKind, JobStatus
    from abatch.model.job import SubmitJobRequest
    from abatch.model.policy import SchedulingPolicy
    from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue
    from abatch.runtime import open_runtime

    with tempfile.TemporaryDirectory() as tmp:
        settings = RuntimeSettings(state_dir=Path(tmp) / "state")
        fake = FakeExecutor(lambda spec: FakeOutcome(duration=None))
        async with open_runtime(settings, {ExecutorKind.PROCESS: fake}) as rt:  # type: ignore[dict-item]
            # With instance types: a fleet of virtual instances (one c5.large holds 2 jobs).
            resources: dict[str, object] = {"maxvCpus": 1}
            if instance_types:
                resources = {"maxvCpus": 2, "instanceTypes": instance_types}
            await rt.put_compute_environment(
                ComputeEnvironment.model_validate(
                    {"computeEnvironmentName": "ce", "computeResources": resources}
                )
            )
            queue: dict[str, object] = {
                "jobQueueName": "q",
                "priority": 1,
                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}],
            }
            if identifiers:
                fairshare = {
                    "shareDecaySeconds": 3600,
                    "computeReservation": 10,
                    "shareDistribution": [
                        {"shareIdentifier": "u1*", "weightFactor": 0.5},
                        {"shareIdentifier": "u2", "weightFactor": 0.25},
                    ],
                }
                policy = SchedulingPolicy.model_validate(
                    {"name": "fs", "fairsharePolicy": fairshare}
                )
                await rt.create_scheduling_policy(policy)
                queue["schedulingPolicyArn"] = policy.arn
            await rt.put_job_queue(JobQueue.model_validate(queue))
            await rt.register_job_definition(
                JobDefinition.model_validate(
                    {
                        "jobDefinitionName": "d",
                        "containerProperties": {"image": "x", "command": ["true"]},
                    }
                )
            )
            reqs = [
                SubmitJobRequest(
                    job_name=f"j{i}",
                    job_queue="q",
                    job_definition="d",
                    share_identifier=f"u{i % identifiers}" if identifiers else None,
                )
                for i in range(count)
            ]
            t0 = time.perf_counter()
            await rt.submit_many(reqs)
            submit_s = time.perf_counter() - t0
            # A bulk submission holds the garbage collector off (runtime/bulk.py); what it
            # deferred is paid afterwards. A full collection now bounds that cost.
            t0 = time.perf_counter()
            gc.collect()
            deferred_s = time.perf_counter() - t0
            # Let the loop move every job to RUNNABLE (one runs, the rest wait).
            busy = 2 if instance_types else 1
            while sum(1 for j in rt.jobs.values() if j.status is JobStatus.RUNNABLE) < count - busy:
                await asyncio.sleep(0.05)
            samples = []
            for _ in range(1000):
                t = time.perf_counter()
                rt.schedule_once()
                samples.append(time.perf_counter() - t)
            runnable = sum(1 for j in rt.jobs.values() if j.status is JobStatus.RUNNABLE)
    kind = f"fair share, {identifiers} share identifiers" if identifiers else "FIFO"
    print(
        f"submission ({kind}): {count} jobs in one call: {submit_s:.2f} s "
        f"({count / submit_s:,.0f}/s, target < 5 s); a full collection right after: "
        f"{deferred_s:.2f} s"
    )
    where = f" (instances of {', '.join(instance_types)})" if instance_types else ""
    print(
        f"one scheduling decision ({kind}) with {runnable:,} RUNNABLE{where}: "
        f"median {statistics.median(samples) * 1e3:.3f} ms, "
        f"p99 {sorted(samples)[989] * 1e3:.3f} ms (target < 1 ms)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--submit", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--identifiers", type=int, default=100, help="for the fair-share decision")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument(
        "--instance-types",
        default=None,
        help="comma-separated instanceTypes (e.g. c5): the decision on a fleet of instances",
    )
    ap.add_argument(
        "--dir",
        default=None,
        help="where the state directory goes (default: the system temp dir); file creation "
        "costs differ a lot between filesystems, and abatch creates two per attempt",
    )
    args = ap.parse_args()
    if not args.skip_throughput:
        throughput(args.jobs, args.rounds, args.dir)
    types = args.instance_types.split(",") if args.instance_types else None
    asyncio.run(submission_and_decision(args.submit, types))
    asyncio.run(submission_and_decision(args.submit, types, args.identifiers))


if __name__ == "__main__":
    main()
