"""`kill -9` of the runtime at random moments, again and again, while jobs are submitted,
placed and finish; then a last runtime runs everything to the end, and every job's history
is checked.

A real `abatch serve` on a real state directory, submissions through its API from three
threads (plain jobs, arrays, jobs depending on earlier ones), SIGKILL after a random delay,
restart, repeat five times. Then:

- the store passes `PRAGMA integrity_check`;
- every submission that was answered exists, exactly once (each has a unique name), and
  nothing exists that was never submitted; array parents have all their children;
- every job SUCCEEDED (every command exits 0; an attempt cut short by a crash is not
  counted as a retry); its history is a chain of legal moves (scheduler.transitions) in
  time order; its attempts are numbered 1..n, each started no later than it stopped, all
  but the last ended by a restart, the last one the job's success;
- no attempt number of a job was started twice (each job writes `job attempt` to a shared
  file when it starts), and every start is a recorded attempt; with process attempts that
  outlive the runtime (the supervisor adopts them), no job started twice at all;
- a job that depends on another was placed only after that one succeeded.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread

from abatch.client.http import ApiClient
from abatch.executors.process import ProcessExecutor
from abatch.model.enums import JobStatus
from abatch.model.job import JobRecord
from abatch.scheduler.transitions import can_transition
from abatch.store.sqlite import SqliteStore
from tests.cli.support import Abatch, ready_url, toml_str

CYCLES = 5
# Whether process attempts survive the runtime (a supervisor adopts them after a restart):
# then no job runs twice at all; else an attempt running at a crash is stopped and requeued.
ADOPTS_PROCESSES = hasattr(ProcessExecutor, "adopt")
SEED = int(os.environ.get("ABATCH_CRASH_SEED", "0")) or random.randrange(1, 1 << 30)

CONFIG = """
[runtime]
kill_grace_seconds = 1

[[compute_environment]]
name = "local"
executor = "process"
[compute_environment.compute_resources]
max_vcpus = 4

[[job_queue]]
name = "q"
priority = 1
compute_environment_order = [{{ order = 1, compute_environment = "local" }}]

[[job_definition]]
name = "mark"
parameters = {{ s = "0" }}
[job_definition.container_properties]
command = ["sh", "-c", {script}, "Ref::s"]
resource_requirements = [{{ type = "VCPU", value = "1" }}, {{ type = "MEMORY", value = "16" }}]
"""

ENDED_BY_RESTART = {
    "Runtime restarted; attempt abandoned and requeued",
    "Runtime stopped; attempt interrupted and requeued",
}


@dataclass
class Submitted:
    """What the submitters know: answered submissions, and those cut off by a crash."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)  # job id -> request
    names: set[str] = field(default_factory=set)  # every name sent, answered or not
    count: int = 0


def submitter(url: str, seed: int, out: Submitted, stop: threading.Event) -> None:
    rng = random.Random(seed)
    client = ApiClient(url, timeout=10)
    while not stop.is_set():
        with out.lock:
            out.count += 1
            name = f"j{seed}-{out.count}"
            out.names.add(name)
            earlier = list(out.acked)
        body: dict[str, Any] = {"parameters": {"s": rng.choice(["0", "0.02", "0.05"])}}
        kind = rng.random()
        if kind < 0.15:
            body["arrayProperties"] = {"size": rng.randint(2, 12)}
        elif kind < 0.35 and earlier:
            deps = rng.sample(earlier, min(len(earlier), rng.randint(1, 2)))
            body["dependsOn"] = [{"jobId": d} for d in deps]
        try:
            answer = client.submit_job(name, "q", "mark", **body)
        except Exception:  # the runtime died under this request: answered or not, unknown
            return
        with out.lock:
            out.acked[answer["jobId"]] = {"name": name, **body}


def crash_cycle(cfg: Path, state: Path, cwd: Path, rng: random.Random, out: Submitted) -> str:
    server = Abatch(["serve", str(cfg), "--state-dir", str(state), "--port", "0"], cwd)
    try:
        url = ready_url(server.wait_for(lambda line: line.startswith("ready:"), timeout=60))
        stop = threading.Event()
        threads = [
            threading.Thread(target=submitter, args=(url, rng.randrange(1 << 30), out, stop))
            for _ in range(3)
        ]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.2, 1.5))  # the crash comes at a random moment
        os.kill(server.pid, signal.SIGKILL)
        server.finish(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=20)
        assert "Traceback" not in server.output, server.output
        return server.output
    finally:
        server.kill()


def wait_all_finished(state: Path, deadline_s: float) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        conn = sqlite3.connect(f"file:{state / 'abatch.db'}?mode=ro", uri=True)
        try:
            left = conn.execute(
                "SELECT count(*) FROM jobs WHERE status NOT IN ('SUCCEEDED', 'FAILED')"
            ).fetchone()[0]
        finally:
            conn.close()
        if left == 0:
            return
        assert time.monotonic() < deadline, f"{left} jobs unfinished"
        time.sleep(0.3)


async def load(state: Path) -> tuple[str, dict[str, JobRecord]]:
    conn = sqlite3.connect(state / "abatch.db")
    try:
        integrity = str(conn.execute("PRAGMA integrity_check").fetchone()[0])
        ids = [r[0] for r in conn.execute("SELECT job_id FROM jobs")]
    finally:
        conn.close()
    store = await SqliteStore.open(state, read_only=True)
    try:
        jobs = {j.job_id: j for j in await store.get_jobs(ids)}
    finally:
        await store.close()
    return integrity, jobs


def check_job(job: JobRecord, started: Counter[tuple[str, str]], why: str) -> None:
    """One job's history and attempts (see the module docstring)."""
    where = (why, job.job_id)
    assert job.status is JobStatus.SUCCEEDED, (*where, job.status, job.status_reason)
    assert job.history[0][0] is JobStatus.SUBMITTED, (*where, job.history)
    for (a, at_a), (b, at_b) in zip(job.history, job.history[1:], strict=False):
        assert can_transition(a, b) and at_a <= at_b, (*where, job.history)
    if "size" in (job.spec.get("arrayProperties") or {}):
        assert not job.attempts, where  # an array parent never runs itself
        return
    tries = job.attempts
    assert [a.number for a in tries] == list(range(1, len(tries) + 1)), (*where, tries)
    assert tries, where
    for a in tries:
        if a.started_at is not None and a.stopped_at is not None:
            assert a.started_at <= a.stopped_at, (*where, a)
    for a in tries[:-1]:
        assert a.status_reason in ENDED_BY_RESTART, (*where, tries)
    assert tries[-1].exit_code == 0, (*where, tries)
    assert started[(job.job_id, str(tries[-1].number))] == 1, (*where, tries)
    if ADOPTS_PROCESSES:
        # Attempts outlive the runtime and are adopted: whatever the crashes, a job ran once.
        runs = sum(n for (jid, _), n in started.items() if jid == job.job_id)
        assert runs == 1, (*where, tries)


async def test_kill_minus_9_in_a_loop_loses_nothing_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    rng = random.Random(SEED)
    starts = tmp_path / "starts.txt"
    cfg = tmp_path / "crash.toml"
    script = f'echo "$AWS_BATCH_JOB_ID $AWS_BATCH_JOB_ATTEMPT" >> {starts}; sleep "$0"'
    cfg.write_text(CONFIG.format(script=toml_str(script)))
    state = tmp_path / "state"
    out = Submitted()
    for _ in range(CYCLES):
        await anyio.to_thread.run_sync(crash_cycle, cfg, state, tmp_path, rng, out)

    final = Abatch(["serve", str(cfg), "--state-dir", str(state), "--port", "0"], tmp_path)
    try:
        final.wait_for(lambda line: line.startswith("ready:"), timeout=60)
        await anyio.to_thread.run_sync(wait_all_finished, state, 120.0)
        final.signal(signal.SIGTERM)
        assert final.finish(timeout=30) == 0
    finally:
        final.kill()
    assert "Traceback" not in final.output

    integrity, jobs = await load(state)
    why = f"seed {SEED} (ABATCH_CRASH_SEED={SEED} repeats it)"
    assert integrity == "ok", why
    assert len(out.acked) >= CYCLES, why  # the loop did submit

    # Every answered submission is there, once; nothing else is.
    tops = {i: j for i, j in jobs.items() if ":" not in i}
    names = Counter(j.job_name for j in tops.values())
    assert all(n == 1 for n in names.values()), (why, [n for n, c in names.items() if c > 1])
    assert set(out.acked) <= set(tops), why
    assert set(names) <= out.names, why
    for job_id, request in out.acked.items():
        assert tops[job_id].job_name == request["name"], why
        size = int(request.get("arrayProperties", {}).get("size", 0))
        children = {i for i in jobs if i.startswith(job_id + ":")}
        assert children == {f"{job_id}:{k}" for k in range(size)}, (why, job_id)

    # Every job ended well, by legal moves, with a consistent list of attempts.
    started = Counter(tuple(line.split()) for line in starts.read_text().splitlines())
    for job in jobs.values():
        check_job(job, started, why)  # type: ignore[arg-type]

    # Every start is a recorded attempt, and no attempt number started twice.
    for (job_id, number), times in started.items():
        assert times == 1, (why, job_id, number, times)
        assert any(str(a.number) == number for a in jobs[job_id].attempts), (why, job_id)

    interrupted = sum(1 for j in jobs.values() for a in j.attempts[:-1])
    print(
        f"{why}: {len(out.acked)} submissions answered of {len(out.names)} sent, "
        f"{len(jobs)} jobs, {sum(started.values())} starts, {interrupted} attempts ended by a "
        "restart"
    )

    # A dependent was placed only once its dependencies had succeeded.
    for job_id, request in out.acked.items():
        for dep in request.get("dependsOn", []):
            first = jobs[job_id].attempts[0]
            stopped = jobs[dep["jobId"]].stopped_at
            assert stopped is not None and first.created_at >= stopped, (why, job_id, dep)
