"""ProcessExecutor: run attempts as local process groups under the state directory's supervisor.

The attempts are spawned, reaped and journalled by one supervisor daemon per state directory
(`supervisor`), so they outlive the runtime; this module is the runtime's side: it starts the
daemon when none runs, talks to it over its unix socket and turns its replies into handles and
ExitResults. Why a daemon and not a process per attempt is in `supervisor`'s docstring.

Rules this module (with the daemon) keeps:

- No thread per child and no process per attempt: the daemon learns exits from pidfds; the
  runtime waits on a future settled by the daemon's `exit` event.
- Output never passes through the runtime: stdout and stderr are one pipe (one ordered
  stream) into the daemon, which writes the log file up to `max_log_bytes` and marks the cut.
- The environment is exactly `spec.env`, plus PATH, HOME, LANG and TZ from the runtime's
  environment when the job does not set them, plus CUDA/NVIDIA_VISIBLE_DEVICES from
  `spec.gpu_ids` (unless the job sets them).
- argv is exec'd as is, never through a shell.
- An attempt is its whole process group: when the leader exits, whatever is left of the
  group is SIGKILLed (AWS stops the container when its main process exits); `kill` sends
  SIGTERM to the group and SIGKILL after the grace period (`plan_kill`, applied by the daemon
  so that it still happens if the runtime dies), without blocking the caller.
- `start` raises StartError with an AWS-style `CannotStartContainerError: ...` reason and
  never lets an OSError escape. An attempt key is started at most once, ever.
- `adopt(key)` finds an attempt again after a restart: still running (a handle whose `wait`
  reports the exit), ended meanwhile (a handle already settled, with `stopped_at`), or None
  (never started: the runtime may start it again).
- If the daemon dies, the attempts it held end with the supervisor's `REASON_LOST` (a new
  daemon kills what is left of them); `forget(keys)` tells the daemon that the runtime has
  stored those exits, so its journal does not grow without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from abatch.executors.base import Handle, StartError
from abatch.executors.groups import CANNOT_START, live_pids_in_group
from abatch.executors.supervisor import PROTOCOL, REASON_LOST, socket_name
from abatch.model.errors import AbatchError
from abatch.model.runspec import ExitResult, RunSpec

__all__ = [
    "DEFAULT_MAX_LOG_BYTES",
    "REASON_LOST",
    "AttemptDetachedError",
    "ProcessExecutor",
    "ProcessHandle",
    "build_env",
    "live_pids_in_group",
]

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
INHERITED_VARS = ("PATH", "HOME", "LANG", "TZ")
GPU_VARS = ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES")
DEFAULT_MAX_LOG_BYTES = 1 << 30
_LAUNCH_TIMEOUT_S = 30.0
_CONNECT_TRIES = 10
_RETRY_S = 0.05  # a daemon that is leaving holds its lock for a few more milliseconds
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
_DAEMON = "import sys; from abatch.executors.supervisor import main; sys.exit(main(sys.argv))"


class SupervisorError(Exception):
    """The supervisor daemon could not be started or reached."""


class AttemptDetachedError(AbatchError):
    """`wait` on an attempt whose executor was closed while it ran: the supervisor keeps it,
    and `adopt` finds it again."""


class ProcessHandle:
    """One attempt held by the supervisor: its process group and the future of its exit."""

    __slots__ = ("future", "key", "pgid", "pid", "started_at", "waiters")

    def __init__(
        self, key: str, pid: int | None, started_at: int | None, future: asyncio.Future[ExitResult]
    ) -> None:
        self.key = key
        self.pid = pid
        self.pgid = pid  # each attempt is a session of its own: the leader's pid is the group
        self.started_at = started_at  # epoch ms, from the supervisor
        self.future = future
        # One future per `wait` call, settled with `future`: a cancelled wait cancels only
        # its own (what asyncio.shield gives, one turn of the event loop sooner).
        self.waiters: list[asyncio.Future[ExitResult]] = []

    def settle(self, result: ExitResult | None, error: BaseException | None = None) -> None:
        """The exit is known (or `error` ends every wait): tell `future` and each waiter."""
        for fut in (self.future, *self.waiters):
            if fut.done():
                continue
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)  # type: ignore[arg-type]
        self.waiters.clear()

    @property
    def done(self) -> bool:
        """True once the exit is known; the group is never signalled after that."""
        return self.future.done()

    def __repr__(self) -> str:
        return f"ProcessHandle(key={self.key!r}, pid={self.pid}, done={self.done})"


def build_env(spec_env: Mapping[str, str], gpu_ids: tuple[str, ...] = ()) -> dict[str, str]:
    """The job's complete environment: `spec_env` plus the few inherited variables."""
    env = dict(spec_env)
    for name in INHERITED_VARS:
        if name not in env:
            value = os.environ.get(name)
            if value is not None:
                env[name] = value
    env.setdefault("PATH", DEFAULT_PATH)
    if gpu_ids:
        # The assignment wins over the job's own value: a job naming other devices would
        # reach GPUs that another running job holds.
        visible = ",".join(gpu_ids)
        for name in GPU_VARS:
            env[name] = visible
    return env


def _resolve(argv0: str, env: Mapping[str, str]) -> str:
    """argv[0] as exec will see it: a bare name is looked up on the job's own PATH."""
    if "/" in argv0:
        return argv0
    found = shutil.which(argv0, path=env.get("PATH", DEFAULT_PATH))
    if found is None:
        raise StartError(f'{CANNOT_START}exec: "{argv0}": executable file not found in $PATH')
    return found


def _absolute(path: Path) -> str:
    text = os.fspath(path)
    return text if text.startswith("/") else os.path.abspath(text)


def _own(handle: Handle) -> ProcessHandle:
    if not isinstance(handle, ProcessHandle):
        raise TypeError(f"not a ProcessExecutor handle: {handle!r}")
    return handle


def _result(msg: dict[str, Any]) -> ExitResult:
    """An exit from the supervisor, with the time the supervisor saw it (as a handle's
    `started_at` is the time it spawned the attempt: a runtime learns of both a little later,
    or, after a restart, much later)."""
    return ExitResult(
        exit_code=msg.get("code"),
        reason=msg.get("reason"),
        signal=msg.get("sig"),
        stopped_at=msg.get("at"),
    )


def _launch(home: Path) -> bool:
    """Start the daemon for `home` and wait until it listens (blocking: run in a thread).
    False when another daemon holds the home (serving it, or leaving)."""
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    env = dict(os.environ)
    path = env.get("PYTHONPATH")
    env["PYTHONPATH"] = _PACKAGE_ROOT + (os.pathsep + path if path else "")
    with open(home / "supervisor.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", _DAEMON, str(home)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    assert proc.stdout is not None
    with proc.stdout:
        deadline = time.monotonic() + _LAUNCH_TIMEOUT_S
        line = b""
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                break
            chunk = os.read(proc.stdout.fileno(), 256)
            if not chunk:
                break
            line += chunk
    proc.wait()  # the daemon forked away from this process at once
    if not (line.startswith(b"ready") or line.startswith(b"busy")):
        raise SupervisorError(
            f"the process supervisor did not start (see {home / 'supervisor.log'})"
        )
    return line.startswith(b"ready")


# Daemons being started ahead of the first connection (`prelaunch`), by home directory.
_PRELAUNCHED: dict[str, threading.Thread] = {}


def prelaunch(home: Path) -> None:
    """Start the supervisor of `home` in the background, so that the interpreter start it
    costs (~0.1 s) overlaps with whatever the caller does next (`abatch run`: the runtime's
    imports, the config's apply and submission) instead of delaying the first job. The
    executor's first connection waits for it. A daemon nobody connects to leaves after
    supervisor._IDLE_FIRST_S."""
    key = os.path.abspath(home)
    if key in _PRELAUNCHED:
        return

    def launch() -> None:
        with contextlib.suppress(Exception):  # the executor's own connect reports errors
            _launch(Path(key))

    thread = threading.Thread(target=launch, name="abatch-supervisor-launch", daemon=True)
    _PRELAUNCHED[key] = thread
    thread.start()


class _Connection(asyncio.Protocol):
    """The runtime's end of the daemon's socket: requests out, replies matched in order."""

    def __init__(self, executor: ProcessExecutor) -> None:
        self.executor = executor
        self.transport: asyncio.Transport | None = None
        self.replies: deque[asyncio.Future[dict[str, Any]]] = deque()
        self.buf = b""
        self.closing = False
        self.lost = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            msg = json.loads(line)
            if msg.get("op") == "exit":
                self.executor._on_exit(msg)
            elif self.replies:
                fut = self.replies.popleft()
                if not fut.done():
                    fut.set_result(msg)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.lost.set()
        while self.replies:
            fut = self.replies.popleft()
            if not fut.done():
                fut.set_exception(SupervisorError("the process supervisor went away"))
        if not self.closing:
            self.executor._on_lost(self)

    def send(self, msg: dict[str, Any]) -> None:
        if self.transport is None:
            raise SupervisorError("the process supervisor went away")
        self.transport.write(json.dumps(msg, separators=(",", ":")).encode() + b"\n")

    async def ask(self, msg: dict[str, Any]) -> dict[str, Any]:
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.send(msg)
        self.replies.append(fut)
        return await fut


class ProcessExecutor:
    """Runs each attempt as a local process group under the supervisor daemon of `home`
    (`<state dir>/supervisor`). See the module docstring for the rules."""

    kind = "process"
    # Each start is journalled by the supervisor with the attempt's identity (`spec.record`),
    # and `known` returns it: the runtime need not commit an attempt before starting it.
    journals_starts = True
    # The supervisor writes the logs and says in an exit's reason when the disk cut one
    # short (supervisor.LOG_DISK_FULL): the runtime need not check the disk itself.
    reports_full_disk = True

    def __init__(self, home: Path, *, max_log_bytes: int = DEFAULT_MAX_LOG_BYTES) -> None:
        self.home = Path(os.path.abspath(home))
        self.max_log_bytes = max_log_bytes
        self._running: dict[str, ProcessHandle] = {}
        self._conn: _Connection | None = None
        self._connecting: asyncio.Lock | None = None
        self._recovering: asyncio.Task[None] | None = None
        self._closed = False
        self.supervisor_pid: int | None = None  # the daemon's pid, once connected

    @property
    def running(self) -> Mapping[str, ProcessHandle]:
        """Attempts started or adopted here whose exit is not known yet."""
        return self._running

    # ------------------------------------------------------------------ connection

    async def _connection(self, *, launch: bool = True) -> _Connection | None:
        if self._conn is not None and self._conn.transport is not None:
            return self._conn
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._conn is not None and self._conn.transport is not None:
                return self._conn
            self._conn = await self._connect(launch)
            return self._conn

    async def _connect(self, launch: bool) -> _Connection | None:
        loop = asyncio.get_running_loop()
        name = socket_name(self.home)
        for _ in range(_CONNECT_TRIES):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
            sock.setblocking(False)
            try:
                await loop.sock_connect(sock, name)
            except OSError:
                sock.close()
                early = _PRELAUNCHED.pop(str(self.home), None)
                if early is not None:
                    await asyncio.to_thread(early.join, _LAUNCH_TIMEOUT_S)
                    continue  # it is listening now (or failed: then launch it here)
                if not launch:
                    return None
                if not await asyncio.to_thread(_launch, self.home):
                    await asyncio.sleep(_RETRY_S)
                continue
            _, conn = await loop.create_unix_connection(lambda: _Connection(self), sock=sock)
            try:
                hello = await conn.ask({"op": "hello"})
            except SupervisorError:
                await asyncio.sleep(_RETRY_S)
                continue  # it was leaving as we came: start another
            if hello.get("v") != PROTOCOL:
                conn.closing = True
                if conn.transport is not None:
                    conn.transport.close()
                raise SupervisorError(
                    f"the process supervisor (pid {hello.get('pid')}) speaks protocol "
                    f"{hello.get('v')}, this runtime {PROTOCOL}: stop it and start again"
                )
            self.supervisor_pid = hello.get("pid")
            return conn
        raise SupervisorError(f"cannot reach the process supervisor of {self.home}")

    def _on_lost(self, conn: _Connection) -> None:
        """The daemon died: a new one journals what it held as lost; collect those exits."""
        if conn is self._conn:
            self._conn = None
        if self._running and self._recovering is None and not self._closed:
            self._recovering = asyncio.get_running_loop().create_task(self._recover())

    async def _recover(self) -> None:
        try:
            while self._running:
                try:
                    conn = await self._connection()
                    assert conn is not None
                    for key, handle in list(self._running.items()):
                        reply = await conn.ask({"op": "adopt", "k": key})
                        if reply["state"] == "exited":
                            self._settle(handle, _result(reply))
                        elif reply["state"] == "unknown":
                            self._settle(handle, ExitResult(None, REASON_LOST))
                    return
                except (SupervisorError, OSError) as exc:
                    for handle in list(self._running.values()):
                        self._settle(handle, ExitResult(None, f"{REASON_LOST} ({exc})"))
        finally:
            self._recovering = None

    def _on_exit(self, msg: dict[str, Any]) -> None:
        handle = self._running.get(msg["k"])
        if handle is not None:
            self._settle(handle, _result(msg))

    def _settle(self, handle: ProcessHandle, result: ExitResult) -> None:
        self._running.pop(handle.key, None)
        handle.settle(result)

    # ------------------------------------------------------------------ the protocol

    async def start(self, spec: RunSpec) -> ProcessHandle:
        if not spec.argv:
            raise StartError(f"{CANNOT_START}no command given")
        env = build_env(spec.env, spec.gpu_ids)
        executable = _resolve(spec.argv[0], env)
        msg = {
            "op": "start",
            "k": spec.key,
            "argv": list(spec.argv),
            "exe": executable,
            "env": env,
            "cwd": _absolute(spec.workdir),
            "log": _absolute(spec.log_path),
            "cap": self.max_log_bytes,
        }
        if spec.record:
            msg["m"] = spec.record
        # Listed before the request: its exit event may arrive in the same read as the reply.
        handle = ProcessHandle(spec.key, None, None, asyncio.get_running_loop().create_future())
        self._running[spec.key] = handle
        try:
            conn = await self._connection()
            assert conn is not None
            reply = await conn.ask(msg)
        except (SupervisorError, OSError) as exc:
            self._running.pop(spec.key, None)
            raise StartError(f"{CANNOT_START}process supervisor: {exc}") from None
        if reply.get("op") != "started":
            self._running.pop(spec.key, None)
            raise StartError(str(reply.get("reason") or f"{CANNOT_START}{reply}"))
        handle.pid = handle.pgid = reply["pid"]
        handle.started_at = reply["at"]
        return handle

    async def wait(self, handle: Handle) -> ExitResult:
        own = _own(handle)
        if own.future.done():
            return own.future.result()
        waiter: asyncio.Future[ExitResult] = asyncio.get_running_loop().create_future()
        own.waiters.append(waiter)
        try:
            return await waiter
        finally:
            if waiter in own.waiters:
                own.waiters.remove(waiter)

    async def kill(self, handle: Handle, grace_seconds: float) -> None:
        own = _own(handle)
        if own.done or self._conn is None:
            return  # no connection: the daemon is gone and `_recover` settles the handle
        with contextlib.suppress(SupervisorError):
            self._conn.send({"op": "kill", "k": own.key, "grace": grace_seconds})

    async def adopt(self, key: str) -> ProcessHandle | None:
        """The attempt `key` as the supervisor knows it: running, ended while no runtime
        watched (a settled handle), or None when it never started there."""
        known = self._running.get(key)
        if known is not None:
            return known
        try:
            conn = await self._connection()
            assert conn is not None
            reply = await conn.ask({"op": "adopt", "k": key})
        except (SupervisorError, OSError) as exc:
            raise StartError(f"{CANNOT_START}process supervisor: {exc}") from None
        state = reply.get("state")
        if state == "unknown":
            return None
        future: asyncio.Future[ExitResult] = asyncio.get_running_loop().create_future()
        handle = ProcessHandle(key, reply.get("pid"), reply.get("at"), future)
        if state == "exited":
            future.set_result(_result(reply))
        else:
            self._running[key] = handle
        return handle

    async def containers(self) -> list[str]:
        """Keys of the attempts the supervisor holds running (for the runtime's start-up
        sweep). Starts no supervisor unless a journal is left to reconcile."""
        try:
            conn = await self._connection(launch=self._journal_left())
            if conn is None:
                return []
            reply = await conn.ask({"op": "list"})
        except (SupervisorError, OSError):
            return []
        return [str(k) for k in reply.get("keys", [])]

    def _journal_left(self) -> bool:
        """Whether a supervisor journal with records is left (one to replay or reconcile)."""
        try:
            return (self.home / "journal").stat().st_size > 0
        except FileNotFoundError:
            return False

    async def known(self) -> list[dict[str, Any]]:
        """Every attempt the supervisor holds, running or exited and not yet forgotten, as
        journalled: `k`, `m` (the `record` it was started with, if any), `state` ("running"
        or "exited") and, for an exit, `code`, `sig`, `reason`, `at` and `st`. Starts no
        supervisor unless a journal is left to replay."""
        if not self._journal_left():
            return []
        try:
            conn = await self._connection()
            assert conn is not None
            reply = await conn.ask({"op": "known"})
        except (SupervisorError, OSError):
            return []
        out = [{**rec, "state": "running"} for rec in reply.get("running", [])]
        out += [{**rec, "state": "exited"} for rec in reply.get("exited", [])]
        return out

    async def retain(self, keys: list[str]) -> None:
        """Only the exits of `keys` are still wanted (a runtime starting: what it adopted or
        still runs); the supervisor drops the rest, left by a runtime that died before it
        said it had stored them."""
        if self._conn is None:
            return
        with contextlib.suppress(SupervisorError):
            self._conn.send({"op": "retain", "keys": keys})

    async def forget(self, keys: list[str]) -> None:
        """The runtime has stored the exits of `keys`: the supervisor may drop them."""
        if not keys or self._conn is None:
            return
        with contextlib.suppress(SupervisorError):
            self._conn.send({"op": "forget", "keys": keys})

    async def close(self) -> None:
        """Disconnect; attempts still running stay with the supervisor (`adopt` finds them),
        and their waits end with AttemptDetachedError."""
        self._closed = True
        detached, self._running = self._running, {}
        for handle in detached.values():
            if not handle.future.done():
                handle.settle(
                    None, AttemptDetachedError(f"attempt {handle.key} is left to the supervisor")
                )
                handle.future.exception()  # nobody need be waiting: not an unseen error
        if self._recovering is not None:
            self._recovering.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovering
        conn, self._conn = self._conn, None
        if conn is not None and conn.transport is not None:
            conn.closing = True
            conn.transport.close()
            await conn.lost.wait()  # the socket is closed once this is set
