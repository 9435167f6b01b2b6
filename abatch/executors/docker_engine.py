"""Reaching a Docker engine: endpoints, the ssh tunnel, and telling "unreachable" apart.

- An endpoint is `unix:///path`, `tcp://host:port` (or http/https), `ssh://[user@]host[:port]
  [/remote/socket]`, or None: `DOCKER_HOST`, else the first of /run/docker.sock,
  /var/run/docker.sock and ~/.docker/run/docker.sock that exists, else aiodocker's own
  choice (the current Docker context).
- ssh: aiodocker's own ssh support needs asyncssh (not a dependency) and runs
  `docker system dial-stdio` on the far side. abatch instead runs the system's OpenSSH client,
  `ssh -N -L <private dir>/docker.sock:<remote socket> [-p port] [user@]host`, and talks to the
  local end of that forward. Authentication is whatever ssh would do by itself (keys, agent,
  ~/.ssh/config); BatchMode is on, so a password prompt fails at once instead of hanging. The
  remote socket is the URL's path, else `/var/run/docker.sock`. A tunnel whose ssh has died is
  started again on the next request, on the same local path.
- `unreachable_why(exc)` says whether an exception means "no engine answers" (refused, socket
  missing, timed out, connection dropped) rather than "the engine said no"; `reachable(url)`
  turns the former into DockerUnavailableError (an `executors.base.EngineUnavailableError`,
  so a StartError) whose reason starts `DockerTimeoutError:`; the runtime keeps such a job
  waiting instead of failing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aiodocker
import aiohttp

from abatch.executors.base import EngineUnavailableError

__all__ = [
    "DockerUnavailableError",
    "EndpointError",
    "EngineClient",
    "SshTunnel",
    "reachable",
    "resolve_host",
    "unreachable_why",
]

DEFAULT_REMOTE_SOCKET = "/var/run/docker.sock"
DEFAULT_SOCKETS = ("/run/docker.sock", "/var/run/docker.sock")
CONNECT_TIMEOUT_S = 10.0
SSH_START_TIMEOUT_S = 20.0
_SSH_POLL_S = 0.02
_SSH_STOP_S = 2.0
_WHY_LIMIT = 160


def resolve_host(host: str | None) -> str | None:
    """The endpoint to use: `host`, else DOCKER_HOST, else the first Docker socket found,
    else None (left to aiodocker, which looks at the current Docker context)."""
    if host:
        return host
    from_env = os.environ.get("DOCKER_HOST")
    if from_env:
        return from_env
    for path in (*DEFAULT_SOCKETS, str(Path.home() / ".docker/run/docker.sock")):
        if Path(path).is_socket():
            return f"unix://{path}"
    return None


def unreachable_why(exc: BaseException) -> str | None:
    """A short reason when `exc` means the engine could not be reached, else None."""
    if isinstance(exc, aiodocker.DockerError):
        if exc.status != 900:  # aiodocker's code for "could not connect"
            return None
        # "Cannot connect to Docker Engine via X [Cannot connect to unix socket P ssl:default
        # [No such file or directory]]" -> "cannot connect to unix socket P: no such file ..."
        message = str(exc.message)
        if message.endswith("]") and "[" in message:
            message = message[message.index("[") + 1 : -1]
        message = message.replace(" ssl:default", "").replace(" ssl:None", "")
        message = re.sub(r" \[(.*)\]$", r": \1", message)
        return message[:1].lower() + message[1:_WHY_LIMIT]
    if isinstance(exc, TimeoutError):  # asyncio.TimeoutError is TimeoutError on 3.11
        return "timed out"
    dropped = aiohttp.ClientConnectionError | aiohttp.ClientPayloadError | ConnectionError
    if isinstance(exc, dropped | EndpointError):
        return (str(exc) or type(exc).__name__)[:_WHY_LIMIT]
    return None


class DockerUnavailableError(EngineUnavailableError):
    """No Docker engine answered at `url` (`why` says how it failed): the attempt did not
    start, and may be started later. The runtime catches the base class."""

    def __init__(self, url: str, why: str) -> None:
        reason = f"DockerTimeoutError: cannot reach the Docker engine at {url}: {why}"
        super().__init__(reason[:255])  # AWS caps container reasons at 255 characters
        self.url = url
        self.why = why


@contextlib.contextmanager
def reachable(url: str) -> Iterator[None]:
    """Turn "no engine answers" into DockerUnavailableError; let every other error through."""
    try:
        yield
    except EngineUnavailableError:
        raise
    except Exception as exc:
        why = unreachable_why(exc)
        if why is None:
            raise
        raise DockerUnavailableError(url, why) from None


class EndpointError(Exception):
    """No client could be set up for the endpoint (the ssh tunnel failed, no socket found);
    the message says why (ssh's own words if any)."""


class SshTunnel:
    """A local unix socket forwarded by `ssh -N -L` to the remote engine's socket."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname:
            raise EndpointError(f"not an ssh://[user@]host[:port] URL: {url!r}")
        self.url = url
        self._target = f"{parts.username}@{parts.hostname}" if parts.username else parts.hostname
        self._port = parts.port
        self._remote = parts.path if parts.path not in ("", "/") else DEFAULT_REMOTE_SOCKET
        self._dir = Path(tempfile.mkdtemp(prefix="abatch-ssh-"))
        self.socket = self._dir / "docker.sock"
        self._proc: subprocess.Popen[bytes] | None = None
        self._starting = asyncio.Lock()  # the watcher and the log follower may both ask

    @property
    def local_url(self) -> str:
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        ssh = shutil.which("ssh") or "ssh"
        argv = [ssh, "-N", "-o", "BatchMode=yes", "-o", "ExitOnForwardFailure=yes"]
        argv += ["-o", "StreamLocalBindUnlink=yes", "-o", "ServerAliveInterval=15"]
        argv += ["-o", f"ConnectTimeout={int(SSH_START_TIMEOUT_S)}"]
        if self._port is not None:
            argv += ["-p", str(self._port)]
        argv += ["-L", f"{self.socket}:{self._remote}", "--", self._target]
        return argv

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    async def ensure(self) -> None:
        """Start ssh unless it is running; return once the local socket accepts connections.
        Raises EndpointError."""
        if self.alive:
            return
        async with self._starting:
            if not self.alive:
                await self._start()

    async def _start(self) -> None:
        self._reap()
        with contextlib.suppress(FileNotFoundError):
            self.socket.unlink()
        errors = self._dir / "ssh.err"
        try:
            with open(errors, "wb") as err:
                self._proc = subprocess.Popen(
                    self.argv(),
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    start_new_session=True,  # a Ctrl-C on the terminal is for abatch, not ssh
                )
        except OSError as exc:
            raise EndpointError(f"cannot run ssh: {exc.strerror or exc}") from None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SSH_START_TIMEOUT_S
        while not self.socket.is_socket():
            if self._proc.poll() is not None or loop.time() > deadline:
                why = errors.read_text(errors="replace").strip().splitlines()
                await self.close(keep_dir=True)
                detail = why[-1] if why else "no local socket appeared"
                raise EndpointError(f"ssh tunnel to {self._target} failed: {detail}")
            await asyncio.sleep(_SSH_POLL_S)

    async def close(self, *, keep_dir: bool = False) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            loop = asyncio.get_running_loop()
            deadline = loop.time() + _SSH_STOP_S
            while proc.poll() is None and loop.time() < deadline:
                await asyncio.sleep(_SSH_POLL_S)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if not keep_dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    def _reap(self) -> None:
        if self._proc is not None:
            self._proc.poll()
            self._proc = None


class EngineClient:
    """One aiodocker client on one endpoint, plus the ssh tunnel under it, if any.

    For unix sockets, plain tcp and ssh the aiohttp connector is made here with no connection
    limit: every running container holds two long requests (wait, logs), and aiohttp's default
    of 100 connections would stall new requests once 50 containers run. TLS endpoints
    (https://, DOCKER_TLS_VERIFY=1) and Docker contexts are left to aiodocker (limit 100).
    """

    def __init__(self, host: str | None) -> None:
        self.url = host or "the default Docker endpoint"
        self._host = host
        self._tunnel: SshTunnel | None = None
        self._connector: aiohttp.BaseConnector | None = None
        self._docker: aiodocker.Docker | None = None

    async def get(self) -> aiodocker.Docker:
        """The client, made on first use; the tunnel is (re)started when needed.
        Raises EndpointError when no endpoint can be set up."""
        if self._tunnel is not None:
            await self._tunnel.ensure()
        if self._docker is None:
            self._docker = await self._open()
        return self._docker

    async def _open(self) -> aiodocker.Docker:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S)
        host = self._host
        if host is not None and host.startswith("ssh://"):
            if self._tunnel is None:
                self._tunnel = SshTunnel(host)
            await self._tunnel.ensure()
            host = self._tunnel.local_url
        tls = os.environ.get("DOCKER_TLS_VERIFY", "0") == "1"
        if host is not None and host.startswith("unix://"):
            self._connector = aiohttp.UnixConnector(host[len("unix://") :], limit=0)
            url = "unix://localhost"  # aiohttp needs a host to build URLs; the socket is fixed
        elif host is not None and host.startswith(("tcp://", "http://")) and not tls:
            self._connector = aiohttp.TCPConnector(limit=0)
            url = "http://" + host.split("://", 1)[1]
        else:
            try:
                return aiodocker.Docker(url=host, timeout=timeout)
            except (AssertionError, ValueError, aiodocker.DockerError) as exc:
                # aiodocker asserts when DOCKER_HOST is unset and no socket exists.
                raise EndpointError(f"no usable Docker endpoint ({exc or 'none found'})") from None
        return aiodocker.Docker(url=url, connector=self._connector, timeout=timeout)

    async def close(self) -> None:
        docker, self._docker = self._docker, None
        connector, self._connector = self._connector, None
        tunnel, self._tunnel = self._tunnel, None
        if docker is not None:
            await docker.close()
        if connector is not None:
            await connector.close()
        if tunnel is not None:
            await tunnel.close()
