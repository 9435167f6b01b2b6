"""DockerExecutor on an ssh:// host, through a stand-in for OpenSSH's `ssh` on PATH.

The stand-in does what `ssh -N -L LOCAL:REMOTE host` does, on this machine: it listens on the
local socket and forwards every connection to REMOTE (here the local engine's socket). So the
test covers abatch's side (the ssh command line, waiting for the socket, running containers
over it, restarting a dead tunnel, shutting it down), not OpenSSH itself.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from abatch.executors.docker import DockerExecutor, EngineUnavailableError
from abatch.executors.docker_engine import resolve_host
from abatch.model.runspec import RunSpec
from tests.executors.docker_helpers import eventually, log_is, remove_all

pytestmark = pytest.mark.docker

FAKE_SSH = """\
#!{python}
import asyncio, os, signal, sys

args = sys.argv[1:]
with open(os.environ["FAKE_SSH_LOG"], "a") as f:
    f.write(" ".join(args) + "\\n")
if os.environ.get("FAKE_SSH_FAIL"):
    print("me@example: Permission denied (publickey).", file=sys.stderr)
    sys.exit(255)
local, remote = args[args.index("-L") + 1].split(":", 1)


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def forward(reader, writer):
    try:
        far_reader, far_writer = await asyncio.open_unix_connection(remote)
    except OSError:
        writer.close()
        return
    await asyncio.gather(pipe(reader, far_writer), pipe(far_reader, writer))


async def main():
    await asyncio.start_unix_server(forward, local)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()


asyncio.run(main())
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    ssh = bindir / "ssh"
    ssh.write_text(FAKE_SSH.format(python=sys.executable))
    ssh.chmod(0o755)
    log = tmp_path / "ssh.log"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    yield log


def engine_socket() -> str:
    host = resolve_host(None)
    if host is None or not host.startswith("unix://"):
        pytest.skip("the local engine is not on a unix socket")
    return host[len("unix://") :]


async def test_containers_run_through_an_ssh_tunnel(
    fake_ssh: Path, tmp_path: Path, image: str
) -> None:
    runtime_id = f"abatch-test-{uuid.uuid4().hex[:12]}"
    ex = DockerExecutor(f"ssh://me@example:2222{engine_socket()}", runtime_id=runtime_id)
    try:
        spec = RunSpec(
            key=uuid.uuid4().hex,
            argv=("sh", "-c", "echo over ssh; exit 6"),
            env={},
            workdir=tmp_path,
            log_path=tmp_path / "log",
            image=image,
        )
        handle = await ex.start(spec)
        result = await asyncio.wait_for(ex.wait(handle), 30)
        assert result.exit_code == 6
        assert spec.log_path.read_text() == "over ssh\n"
        await ex.forget([spec.key])  # as the runtime does once its store holds the exit
        argv = fake_ssh.read_text().splitlines()[0].split()
        assert argv[0] == "-N" and argv[-2:] == ["--", "me@example"]
        assert "BatchMode=yes" in argv and argv[argv.index("-p") + 1] == "2222"
        assert argv[argv.index("-L") + 1].endswith(f"/docker.sock:{engine_socket()}")

        tunnel = ex._engine._tunnel
        assert tunnel is not None and tunnel.alive
        tunnel._proc.kill()  # type: ignore[union-attr]  # the connection dropped
        tunnel._proc.wait()  # type: ignore[union-attr]
        assert await ex.containers() == []  # the tunnel was started again
        assert len(fake_ssh.read_text().splitlines()) == 2
        socket_dir = tunnel.socket.parent
    finally:
        await ex.close()
        await remove_all(runtime_id)
    assert not socket_dir.exists()


async def test_a_dropped_tunnel_loses_no_exit_and_no_log_line(
    fake_ssh: Path, tmp_path: Path, image: str
) -> None:
    """The connection to the engine drops while a container runs: the watcher reconnects,
    gets the exit status, and the log carries on from its last line, with none twice."""
    runtime_id = f"abatch-test-{uuid.uuid4().hex[:12]}"
    ex = DockerExecutor(f"ssh://me@example{engine_socket()}", runtime_id=runtime_id)
    try:
        spec = RunSpec(
            key=uuid.uuid4().hex,
            argv=("sh", "-c", "echo a; sleep 2; echo b; echo c >&2; exit 5"),
            env={},
            workdir=tmp_path,
            log_path=tmp_path / "log",
            image=image,
        )
        handle = await ex.start(spec)
        await eventually(log_is(spec, "a\n"))
        tunnel = ex._engine._tunnel
        assert tunnel is not None and tunnel._proc is not None
        tunnel._proc.kill()  # every connection through it dies at once
        tunnel._proc.wait()
        result = await asyncio.wait_for(ex.wait(handle), 30)
        assert result.exit_code == 5
        assert sorted(spec.log_path.read_text().splitlines()) == ["[stderr] c", "a", "b"]
        assert len(fake_ssh.read_text().splitlines()) >= 2  # ssh was started again
    finally:
        await ex.close()
        await remove_all(runtime_id)


async def test_a_failing_ssh_is_an_unreachable_engine(
    fake_ssh: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FAKE_SSH_FAIL", "1")
    ex = DockerExecutor("ssh://me@example")
    spec = RunSpec(
        key="k", argv=("true",), env={}, workdir=tmp_path, log_path=tmp_path / "log", image="x"
    )
    try:
        with pytest.raises(EngineUnavailableError) as err:
            await ex.start(spec)
    finally:
        await ex.close()
    assert err.value.reason == (
        "DockerTimeoutError: cannot reach the Docker engine at ssh://me@example: ssh tunnel to"
        " me@example failed: me@example: Permission denied (publickey)."
    )
    assert "/var/run/docker.sock" in fake_ssh.read_text()
