"""ProcessExecutor on real processes: exit codes, signals, environment, logs, working
directory, start errors, killing process trees, SIGTERM escalation, reaping. (Surviving the
runtime, the supervisor's death and the log cap: test_supervisor.py.)"""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from abatch.executors import Executor, ProcessExecutor, StartError, live_pids_in_group
from abatch.model.runspec import ExitResult, RunSpec
from tests.executors.process_helpers import close_executors, new_executor

__all__ = ["close_executors"]  # the autouse fixture: every executor made here is closed

PY = sys.executable


def make_spec(
    tmp_path: Path,
    *argv: str,
    key: str = "job-1",
    env: dict[str, str] | None = None,
    gpu_ids: tuple[str, ...] = (),
) -> RunSpec:
    return RunSpec(
        key=key,
        argv=argv,
        env=env if env is not None else {},
        workdir=tmp_path / "work" / key,
        log_path=tmp_path / "logs" / f"{key}.log",
        gpu_ids=gpu_ids,
    )


async def run(spec: RunSpec) -> ExitResult:
    executor = new_executor(spec.workdir.parent.parent)
    handle = await executor.start(spec)
    return await asyncio.wait_for(executor.wait(handle), 30)


async def eventually(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


def zombie_children() -> list[int]:
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            data = Path(f"/proc/{name}/stat").read_bytes()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()
        if fields[0] == b"Z" and int(fields[1]) == me:
            found.append(int(name))
    return found


def test_satisfies_protocol(tmp_path: Path) -> None:
    executor: Executor = ProcessExecutor(tmp_path)
    assert executor.kind == "process"


@pytest.mark.parametrize("code", [0, 1, 42])
async def test_exit_codes(tmp_path: Path, code: int) -> None:
    result = await run(make_spec(tmp_path, "sh", "-c", f"exit {code}"))
    assert result == ExitResult(exit_code=code)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGUSR1, signal.SIGTERM])
async def test_death_by_signal_maps_to_128_plus_n(tmp_path: Path, signum: int) -> None:
    result = await run(make_spec(tmp_path, "sh", "-c", f"kill -{int(signum)} $$"))
    assert result == ExitResult(exit_code=128 + signum, signal=signum)


async def test_environment_is_exactly_the_spec_plus_inherited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ABATCH_RUNTIME_SECRET", "leaked")
    monkeypatch.setenv("HOME", "/home/runtime")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    env = {"FOO": "bar baz", "AWS_BATCH_JOB_ID": "j-1"}
    spec = make_spec(tmp_path, "/usr/bin/env", "-0", env=env)
    assert await run(spec) == ExitResult(exit_code=0)
    lines = spec.log_path.read_bytes().decode().split("\0")
    seen = dict(line.split("=", 1) for line in lines if line)
    assert seen == {
        "FOO": "bar baz",
        "AWS_BATCH_JOB_ID": "j-1",
        "HOME": "/home/runtime",
        "LANG": "C.UTF-8",
        "TZ": "UTC",
        "PATH": "/usr/bin:/bin",
    }


async def test_job_env_wins_and_missing_vars_stay_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PATH", raising=False)
    monkeypatch.delenv("TZ", raising=False)
    monkeypatch.delenv("LANG", raising=False)
    monkeypatch.setenv("HOME", "/home/runtime")
    env = {"HOME": "/home/job"}
    spec = make_spec(tmp_path, "/usr/bin/env", "-0", env=env)
    assert await run(spec) == ExitResult(exit_code=0)
    seen = dict(line.split("=", 1) for line in spec.log_path.read_text().split("\0") if line)
    assert seen == {"HOME": "/home/job", "PATH": "/usr/local/bin:/usr/bin:/bin"}


async def test_gpu_ids_set_visible_devices_over_the_jobs_own(tmp_path: Path) -> None:
    """The assignment wins: a job (or an image's env copied into it) saying `all` would
    otherwise reach devices other running jobs hold. Without GPUs the job's value stays."""
    env = {"NVIDIA_VISIBLE_DEVICES": "all"}
    spec = make_spec(tmp_path, "/usr/bin/env", "-0", env=env, gpu_ids=("0", "2"))
    assert await run(spec) == ExitResult(exit_code=0)
    seen = dict(line.split("=", 1) for line in spec.log_path.read_text().split("\0") if line)
    assert seen["CUDA_VISIBLE_DEVICES"] == "0,2"
    assert seen["NVIDIA_VISIBLE_DEVICES"] == "0,2"
    plain = make_spec(tmp_path, "/usr/bin/env", "-0", key="job-2", env=env)
    assert await run(plain) == ExitResult(exit_code=0)
    seen = dict(line.split("=", 1) for line in plain.log_path.read_text().split("\0") if line)
    assert seen["NVIDIA_VISIBLE_DEVICES"] == "all" and "CUDA_VISIBLE_DEVICES" not in seen


async def test_bare_name_is_found_on_the_jobs_path(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "mytool"
    tool.write_text("#!/bin/sh\necho from-mytool\n")
    tool.chmod(0o755)
    spec = make_spec(tmp_path, "mytool", env={"PATH": f"{bindir}:/usr/bin:/bin"})
    assert await run(spec) == ExitResult(exit_code=0)
    assert spec.log_path.read_text() == "from-mytool\n"


async def test_argv_zero_is_passed_as_given(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "cat", "/proc/self/cmdline")
    assert await run(spec) == ExitResult(exit_code=0)
    assert spec.log_path.read_bytes() == b"cat\0/proc/self/cmdline\0"


async def test_stdout_and_stderr_land_in_the_log_in_order(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "sh", "-c", "echo one; echo two >&2; echo three; echo four >&2")
    spec.log_path.parent.mkdir(parents=True)
    spec.log_path.write_text("earlier attempt\n")
    assert await run(spec) == ExitResult(exit_code=0)
    assert spec.log_path.read_text() == "earlier attempt\none\ntwo\nthree\nfour\n"


async def test_log_file_and_working_directory_are_the_owners_only(tmp_path: Path) -> None:
    """Made by the supervisor when the runtime did not make them ahead: the same modes as
    runtime.prepared's (a job's output may hold its secrets), whatever the umask."""
    old = os.umask(0o022)
    try:
        spec = make_spec(tmp_path, "true")
        assert await run(spec) == ExitResult(exit_code=0)
    finally:
        os.umask(old)
    assert stat.S_IMODE(spec.log_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spec.workdir.stat().st_mode) == 0o700


async def test_working_directory_is_created_and_used(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, PY, "-c", "import os; print(os.getcwd())")
    assert not spec.workdir.exists()
    assert await run(spec) == ExitResult(exit_code=0)
    assert spec.log_path.read_text().strip() == os.path.realpath(spec.workdir)


async def test_argv_is_not_interpreted_by_a_shell(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "printf", "%s|", "$HOME; echo pwned", "*", "`id`")
    assert await run(spec) == ExitResult(exit_code=0)
    assert spec.log_path.read_text() == "$HOME; echo pwned|*|`id`|"


async def test_missing_binary(tmp_path: Path) -> None:
    with pytest.raises(StartError) as info:
        await new_executor(tmp_path).start(make_spec(tmp_path, "no-such-binary-abatch"))
    assert info.value.reason == (
        'CannotStartContainerError: exec: "no-such-binary-abatch": '
        "executable file not found in $PATH"
    )


async def test_missing_path(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(StartError) as info:
        await new_executor(tmp_path).start(make_spec(tmp_path, missing))
    assert info.value.reason == (
        f'CannotStartContainerError: exec: "{missing}": stat {missing}: no such file or directory'
    )


async def test_permission_denied(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o644)
    with pytest.raises(StartError) as info:
        await new_executor(tmp_path).start(make_spec(tmp_path, str(script)))
    assert info.value.reason == f'CannotStartContainerError: exec: "{script}": permission denied'


async def test_empty_argv(tmp_path: Path) -> None:
    with pytest.raises(StartError, match="no command given"):
        await new_executor(tmp_path).start(make_spec(tmp_path))


async def test_unusable_workdir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    spec = RunSpec(
        key="k", argv=("true",), env={}, workdir=blocker / "sub", log_path=tmp_path / "k.log"
    )
    with pytest.raises(StartError) as info:
        await new_executor(tmp_path).start(spec)
    assert info.value.reason.startswith("CannotStartContainerError: ")
    assert "working directory" in info.value.reason


async def test_kill_takes_down_the_whole_tree(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    handle = await executor.start(make_spec(tmp_path, "sh", "-c", "sleep 1000 & sleep 1000 & wait"))
    assert handle.pgid == handle.pid
    await eventually(lambda: len(live_pids_in_group(handle.pgid)) == 3)
    await executor.kill(handle, grace_seconds=10)
    result = await asyncio.wait_for(executor.wait(handle), 10)
    assert result == ExitResult(exit_code=143, signal=signal.SIGTERM)
    assert live_pids_in_group(handle.pgid) == []
    assert not executor.running


async def test_sigterm_ignoring_job_is_killed_after_grace(tmp_path: Path) -> None:
    code = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\n"
        "time.sleep(1000)\n"
    )
    spec = make_spec(tmp_path, PY, "-c", code)
    executor = new_executor(tmp_path)
    handle = await executor.start(spec)
    await eventually(lambda: spec.log_path.read_text() == "ready\n")
    began = time.monotonic()
    await executor.kill(handle, grace_seconds=3.0)
    # Wide margins both ways: a busy CI may take a while to hand the kill to the supervisor.
    assert time.monotonic() - began < 2.5, "kill must not block for the grace period"
    result = await asyncio.wait_for(executor.wait(handle), 30)
    assert time.monotonic() - began >= 2.9
    assert result == ExitResult(exit_code=137, signal=signal.SIGKILL)


async def test_kill_with_no_grace_is_sigkill(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    handle = await executor.start(make_spec(tmp_path, "sleep", "1000"))
    await executor.kill(handle, grace_seconds=0)
    assert await executor.wait(handle) == ExitResult(exit_code=137, signal=signal.SIGKILL)


async def test_kill_after_exit_is_a_no_op(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    handle = await executor.start(make_spec(tmp_path, "true"))
    assert await executor.wait(handle) == ExitResult(exit_code=0)
    await executor.kill(handle, grace_seconds=0)
    await executor.kill(handle, grace_seconds=1)
    assert await executor.wait(handle) == ExitResult(exit_code=0)


async def test_grandchild_is_killed_when_the_leader_exits(tmp_path: Path) -> None:
    spec = make_spec(tmp_path, "sh", "-c", "sleep 1000 & echo $!")
    executor = new_executor(tmp_path)
    handle = await executor.start(spec)
    assert await asyncio.wait_for(executor.wait(handle), 10) == ExitResult(exit_code=0)
    grandchild = int(spec.log_path.read_text())
    assert live_pids_in_group(handle.pgid) == []
    stat_path = Path(f"/proc/{grandchild}/stat")
    if stat_path.exists():  # an orphan zombie that init has not reaped is dead all the same
        data = stat_path.read_bytes()
        assert data[data.rfind(b")") + 2 :].split()[0] in (b"Z", b"X")


async def test_cancelled_wait_does_not_lose_the_result(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    handle = await executor.start(make_spec(tmp_path, "sh", "-c", "sleep 0.2; exit 3"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(executor.wait(handle), 0.01)
    assert await asyncio.wait_for(executor.wait(handle), 10) == ExitResult(exit_code=3)


async def test_fifty_concurrent_jobs_are_all_reaped(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    fds_before = len(os.listdir("/proc/self/fd"))

    async def one(i: int) -> ExitResult:
        handle = await executor.start(make_spec(tmp_path, "true", key=f"job-{i}"))
        return await executor.wait(handle)

    results = await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(50))), 30)
    assert results == [ExitResult(exit_code=0)] * 50
    assert not executor.running
    assert zombie_children() == []
    await executor.close()  # releases the connection to the supervisor
    assert len(os.listdir("/proc/self/fd")) == fds_before


def test_works_under_anyio_run(tmp_path: Path) -> None:
    async def main() -> ExitResult:
        executor = new_executor(tmp_path)
        handle = await executor.start(make_spec(tmp_path, "sh", "-c", "exit 7"))
        with anyio.fail_after(10):
            try:
                return await executor.wait(handle)
            finally:
                await executor.close()

    assert anyio.run(main, backend="asyncio") == ExitResult(exit_code=7)


def test_live_pids_in_group_sees_this_process() -> None:
    assert os.getpid() in live_pids_in_group(os.getpgid(0))
    assert live_pids_in_group(2**22 + 12345) == []


async def test_log_directory_removed_between_jobs_is_made_again(tmp_path: Path) -> None:
    executor = new_executor(tmp_path)
    first = make_spec(tmp_path, "echo", "first", key="a")
    assert await executor.wait(await executor.start(first)) == ExitResult(exit_code=0)
    first.log_path.unlink()
    first.log_path.parent.rmdir()
    second = make_spec(tmp_path, "echo", "second", key="b")
    assert await executor.wait(await executor.start(second)) == ExitResult(exit_code=0)
    assert second.log_path.read_text() == "second\n"


async def test_exec_format_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(b"\x00\x01\x02 not a program")
    junk.chmod(0o755)
    with pytest.raises(StartError) as info:
        await new_executor(tmp_path).start(make_spec(tmp_path, str(junk)))
    assert info.value.reason == f'CannotStartContainerError: exec: "{junk}": exec format error'


async def test_nul_byte_in_argv_is_a_start_error(tmp_path: Path) -> None:
    with pytest.raises(StartError, match=r"^CannotStartContainerError: "):
        await new_executor(tmp_path).start(make_spec(tmp_path, "echo", "a\0b"))
