"""Finished jobs leave the runtime's memory: RSS stays flat while thousands of jobs run
through it (the figure for 100,000 is bench/memory.py's)."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
from pathlib import Path

import anyio

from abatch.executors.fake import FakeExecutor
from abatch.model.job import JobRecord

from ..runtime.helpers import req, runtime

WAVES = 4
WAVE = 1000
# Measured: ~0.2 KB per finished job (the bounded RecentlyFinished ids), ~2.5 KB when the
# finished JobRecords are kept; the bound sits between, generously above the first.
MAX_BYTES_PER_JOB = 1024


def rss_bytes() -> int:
    gc.collect()
    with contextlib.suppress(OSError):  # hand freed memory back: RSS is what is held
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_rss_stays_flat_while_jobs_finish(tmp_path: Path) -> None:
    fake = FakeExecutor()
    async with runtime(tmp_path, fake, vcpus=64) as rt:
        left = 0
        finished = anyio.Event()

        def on_change(job: JobRecord) -> None:
            nonlocal left
            if job.status.is_terminal and job.job_name.startswith("w"):
                left -= 1
                if left == 0:
                    finished.set()

        rt.bus.subscribe(on_change)
        marks = []
        for wave in range(WAVES):
            finished = anyio.Event()
            left = WAVE
            await rt.submit_many([req(f"w{wave}-{i}") for i in range(WAVE)])
            with anyio.fail_after(120):
                await finished.wait()
            fake.started.clear()  # the scripted executor's own history, not the runtime's
            fake.results.clear()
            assert not rt.jobs and not rt.running
            marks.append(rss_bytes())
        # From the end of the first wave (everything warmed up) to the end of the last.
        per_job = (marks[-1] - marks[0]) / ((WAVES - 1) * WAVE)
        assert per_job < MAX_BYTES_PER_JOB, [m // 1024 for m in marks]
        assert not rt.graph.waits and not rt.graph.dependents and not rt.graph.arrays
