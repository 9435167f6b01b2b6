"""Helpers for the CLI tests: small configs written into a directory, and `abatch` as a real
subprocess whose output lines can be awaited (with a deadline, never a fixed sleep)."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
[runtime]
state_dir = "state"
kill_grace_seconds = 1
log_tail_lines = 5
api_port = 0  # any free port: a test's runtime never collides with another on 8765

[[compute_environment]]
name = "local"
type = "MANAGED"
executor = "process"
[compute_environment.compute_resources]
type = "EC2"
max_vcpus = {max_vcpus}

[[job_queue]]
name = "high"
priority = 10
compute_environment_order = [{{ order = 1, compute_environment = "local" }}]

[[job_queue]]
name = "low"
priority = 1
compute_environment_order = [{{ order = 1, compute_environment = "local" }}]

[[job_definition]]
name = "sh"
type = "container"
[job_definition.container_properties]
image = "busybox"
command = ["sh", "-c", "echo hello from $AWS_BATCH_JOB_ID"]
resource_requirements = [{{ type = "VCPU", value = "1" }}, {{ type = "MEMORY", value = "64" }}]
"""


def toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(
    directory: Path,
    jobs: list[tuple[str, str, str]],
    *,
    max_vcpus: int = 2,
    name: str = "abatch.toml",
) -> Path:
    """A config with queues `high` and `low`, one 2-vCPU process CE by default, and `jobs`
    as (name, queue, shell script) run with `sh -c`."""
    parts = [HEADER.format(max_vcpus=max_vcpus)]
    for job_name, job_queue, script in jobs:
        parts.append(
            f'\n[[job]]\nname = "{job_name}"\njob_queue = "{job_queue}"\n'
            f'job_definition = "sh"\n'
            f'container_overrides = {{ command = ["sh", "-c", {toml_str(script)}] }}\n'
        )
    path = directory / name
    path.write_text("".join(parts))
    return path


class Abatch:
    """`python -m abatch ...` as a subprocess; stdout and stderr merged, read by a thread."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "ABATCH_STATE_DIR"}
        env["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "abatch", *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """The first new output line for which `predicate` holds; fails on exit or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no matching line within {timeout} s; output:\n{self.output}")
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self._queue.put(None)
                pytest.fail(f"abatch exited ({self.proc.wait()}) first; output:\n{self.output}")
            self.lines.append(line)
            if predicate(line):
                return line

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def finish(self, timeout: float = 30) -> int:
        """Wait for the exit; collect the rest of the output."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=5)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return code

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def run_abatch(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ABATCH_STATE_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "abatch", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ready_url(line: str) -> str:
    """The API's URL from a `ready:` line (`... API at http://127.0.0.1:PORT ...`)."""
    match = re.search(r"API at (http://\S+?)[;\s]", line)
    assert match is not None, line
    return match.group(1)
