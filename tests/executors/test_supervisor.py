"""The process supervisor on real processes: attempts outlive the executor that started them
(a runtime that died) and are adopted by the next one; an exit while nobody listened is kept
with its time; a key runs at most once; the supervisor's own death ends its attempts with a
clear reason and kills their groups; a flooding job's log is cut at the cap, marked, and
costs no memory; the journal's rules."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from abatch.executors import ProcessExecutor, StartError, live_pids_in_group
from abatch.executors.journal import Journal, read_journal
from abatch.executors.process import REASON_LOST, AttemptDetachedError
from abatch.model.runspec import ExitResult, RunSpec
from tests.executors.process_helpers import close_executors, new_executor

__all__ = ["close_executors"]  # the autouse fixture: every executor made here is closed

MIB = 1 << 20


def spec(tmp_path: Path, script: str, key: str = "a") -> RunSpec:
    return RunSpec(
        key=key,
        argv=("sh", "-c", script),
        env={},
        workdir=tmp_path / "work" / key,
        log_path=tmp_path / "logs" / key,
    )


async def eventually(predicate: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


async def test_attempt_outlives_its_executor_and_is_adopted(tmp_path: Path) -> None:
    go = tmp_path / "go"
    first = new_executor(tmp_path)
    s = spec(tmp_path, f"echo one; while [ ! -e {go} ]; do sleep 0.02; done; echo two; exit 4")
    handle = await first.start(s)
    await eventually(lambda: s.log_path.exists() and s.log_path.read_text() == "one\n")
    await first.close()  # the runtime is gone; the supervisor keeps the attempt
    with pytest.raises(AttemptDetachedError):
        await first.wait(handle)
    second = new_executor(tmp_path)
    adopted = await second.adopt("a")
    assert adopted is not None and adopted.pid == handle.pid
    assert adopted.started_at == handle.started_at and not adopted.done
    go.touch()
    assert await asyncio.wait_for(second.wait(adopted), 20) == ExitResult(exit_code=4)
    assert s.log_path.read_text() == "one\ntwo\n"


async def test_exit_while_no_runtime_listens_keeps_its_status_and_time(tmp_path: Path) -> None:
    go = tmp_path / "go"
    first = new_executor(tmp_path)
    await first.start(spec(tmp_path, f"while [ ! -e {go} ]; do sleep 0.02; done; kill -USR1 $$"))
    await first.close()
    go.touch()
    journal = tmp_path / "supervisor" / "journal"
    await eventually(lambda: '"sig":10' in journal.read_text())
    ended = json.loads(journal.read_text().splitlines()[-1])["at"]
    second = new_executor(tmp_path)
    adopted = await second.adopt("a")
    assert adopted is not None and adopted.done
    result = await second.wait(adopted)
    assert result == ExitResult(exit_code=138, signal=signal.SIGUSR1)
    assert result.stopped_at == ended
    assert await second.adopt("never-started") is None


async def test_a_key_is_started_at_most_once(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    handle = await executor.start(spec(tmp_path, "exit 0"))
    assert await executor.wait(handle) == ExitResult(exit_code=0)
    with pytest.raises(StartError, match="already started"):
        await executor.start(spec(tmp_path, "exit 0"))


async def test_supervisor_killed_ends_its_attempts_with_a_reason(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    s = spec(tmp_path, "sleep 1000 & sleep 1000 & echo started; wait")
    handle = await executor.start(s)
    assert handle.pgid is not None
    pgid = handle.pgid
    await eventually(lambda: len(live_pids_in_group(pgid)) == 3)
    daemon = executor.supervisor_pid
    assert daemon is not None
    os.kill(daemon, signal.SIGKILL)
    result = await asyncio.wait_for(executor.wait(handle), 30)
    assert result.exit_code is None and result.reason == REASON_LOST
    await eventually(lambda: live_pids_in_group(pgid) == [])
    assert "supervisor died" in s.log_path.read_text()
    # A new supervisor took over: the executor goes on working.
    assert executor.supervisor_pid != daemon
    again = await executor.start(spec(tmp_path, "exit 2", key="b"))
    assert await asyncio.wait_for(executor.wait(again), 20) == ExitResult(exit_code=2)


async def test_supervisor_killed_while_no_runtime_ran(tmp_path: Path) -> None:
    first = new_executor(tmp_path)
    handle = await first.start(spec(tmp_path, "exec sleep 1000"))
    daemon = first.supervisor_pid
    await first.close()
    assert daemon is not None and handle.pid is not None
    os.kill(daemon, signal.SIGKILL)
    second = new_executor(tmp_path)
    adopted = await second.adopt("a")  # starts a new supervisor, which finds the attempt lost
    assert adopted is not None
    result = await second.wait(adopted)
    assert result.exit_code is None and result.reason == REASON_LOST
    pid = handle.pid
    await eventually(lambda: live_pids_in_group(pid) == [])


async def test_flood_is_cut_at_the_cap_and_costs_no_memory(tmp_path: Path) -> None:
    executor = new_executor(tmp_path, max_log_bytes=MIB)
    me_before = status_kib(os.getpid(), "VmRSS")
    s = spec(tmp_path, "echo start; head -c 500000000 /dev/zero; echo; echo still-running; exit 0")
    handle = await executor.start(s)
    assert await asyncio.wait_for(executor.wait(handle), 120) == ExitResult(exit_code=0)
    daemon = executor.supervisor_pid
    assert daemon is not None
    # The supervisor's peak memory: the interpreter and one read buffer, not the output.
    assert status_kib(daemon, "VmHWM") < 100 * 1024
    assert status_kib(os.getpid(), "VmRSS") - me_before < 50 * 1024
    data = s.log_path.read_bytes()
    dropped = len("start\n") + 500_000_000 + len("\nstill-running\n") - MIB
    markers = (
        f"\n[abatch: log cut at {MIB} bytes; the rest is dropped]\n"
        f"[abatch: log cut at {MIB} bytes; {dropped} more bytes dropped]\n"
    ).encode()
    assert data[:6] == b"start\n"
    assert len(data) == MIB + len(markers)
    assert data[MIB:] == markers


async def test_output_below_the_cap_is_whole(tmp_path: Path) -> None:
    executor = new_executor(tmp_path, max_log_bytes=12)
    s = spec(tmp_path, "printf 0123456789; printf ab")
    handle = await executor.start(s)
    assert await executor.wait(handle) == ExitResult(exit_code=0)
    assert s.log_path.read_text() == "0123456789ab"


def test_journal_replay_skips_torn_lines_and_forgotten_exits(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append({"k": "a", "pid": 10, "t": 5, "at": 1})
    journal.append({"k": "b", "pid": 11, "t": 6, "at": 2})
    journal.append({"k": "a", "code": 0, "sig": None, "reason": None, "at": 3})
    journal.append({"k": "c", "code": 1, "sig": None, "reason": None, "at": 4})
    journal.append({"forget": ["c"]})
    journal.close()
    with open(tmp_path / "journal", "ab") as f:
        f.write(b'{"k": "d", "code": 0, "s')  # a machine crash mid-line
    state = read_journal(tmp_path / "journal")
    assert set(state.started) == {"b"}
    assert set(state.exits) == {"a"}
    again = Journal(tmp_path)
    again.compact(state)
    again.close()
    assert read_journal(tmp_path / "journal") == state


async def test_job_inherits_no_descriptor_but_its_three(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    s = spec(tmp_path, "ls /proc/$$/fd")
    assert await executor.wait(await executor.start(s)) == ExitResult(exit_code=0)
    assert s.log_path.read_text().split() == ["0", "1", "2"]


async def test_a_supervisor_leaving_idle_leaves_only_unstored_exits(tmp_path: Path) -> None:
    executor = ProcessExecutor(tmp_path / "supervisor")
    for key in ("a", "b"):
        assert await executor.wait(await executor.start(spec(tmp_path, "true", key))) == (
            ExitResult(exit_code=0)
        )
    await executor.forget(["a"])  # the runtime has stored a's exit, not b's
    daemon = executor.supervisor_pid
    await executor.close()
    await eventually(lambda: not os.path.exists(f"/proc/{daemon}"))
    state = read_journal(tmp_path / "supervisor" / "journal")
    assert not state.started and set(state.exits) == {"b"}
    again = ProcessExecutor(tmp_path / "supervisor")
    await again.forget(["b"])  # not connected: nothing to tell
    adopted = await again.adopt("b")
    assert adopted is not None and adopted.done
    await again.forget(["b"])
    daemon = again.supervisor_pid
    await again.close()
    await eventually(lambda: not os.path.exists(f"/proc/{daemon}"))
    assert (tmp_path / "supervisor" / "journal").stat().st_size == 0
    assert await again.containers() == []  # an empty journal: no supervisor is started
    assert again.supervisor_pid == daemon


async def test_retain_drops_the_exits_no_runtime_wants(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    for key in ("a", "b"):
        await executor.wait(await executor.start(spec(tmp_path, "true", key)))
    await executor.close()
    again = new_executor(tmp_path)
    kept = await again.adopt("b")  # connects
    assert kept is not None and kept.done
    await again.retain(["b"])  # a's exit was stored by a runtime that died before saying so
    assert await again.adopt("a") is None
    assert await again.adopt("b") is not None
