"""The process supervisor: one daemon per state directory that owns every process attempt.

Why a daemon, and one for all attempts: process jobs must outlive the runtime (a crash, a
`kill -9`, an upgrade), so something that is not the runtime must hold each job's process
group, reap it and write down how it ended. A supervisor process per attempt would pay an
interpreter start (~100 ms of CPU for Python) per job, several times what running
`/bin/true` costs; one long-lived daemon pays it once per state directory and then costs a
line of JSON each way and a pipe per attempt. Measured on the 2-vCPU VM (README,
Benchmarks): 0.67-0.94 ms of daemon CPU plus 0.27-0.32 ms in the runtime per `/bin/true`
job, against 0.41-0.44 ms in the runtime before; the daemon works on the other core, and
`bench/core.py`'s paired ratios were unchanged within the noise (0.22-0.24 after, 0.20-0.27
before, same minutes).

How it runs:

- Started detached by `ProcessExecutor` (`main([_, HOME])` in a fresh interpreter; it forks
  once more so that no runtime ever has to reap it), in a session of its own, so neither
  Ctrl-C at the runtime's terminal nor the runtime's death reaches it or its jobs.
- It listens on an abstract unix socket named after its home directory, and holds a second
  name as its lock until it has exited: a second daemon for the same home finds it taken and
  leaves, and never reads a journal that a leaving daemon still writes. Connections from
  another user id are refused (SO_PEERCRED).
- Each attempt is spawned with `posix_spawn` in its own session (pgid == pid; the daemon
  changes into the job's working directory first, since 3.11's posix_spawn cannot, and
  every path it uses is absolute), with stdout and stderr on one
  pipe that the daemon copies into the attempt's log file, up to the log cap; past the cap
  the rest is read and dropped (the job keeps running and never blocks on a full pipe) and a
  marker line says where the log was cut and how much was dropped. Memory stays one 64 KiB
  read buffer, whatever the job writes.
- Exits are learnt from SIGCHLD (one handler for all, no descriptor per attempt): the
  daemon peeks at each exited child with `waitid(WNOWAIT)`, SIGKILLs what is left of the
  group while the unreaped leader still holds its id (AWS stops the container with its main
  process), reaps the leader, waits for the group to be gone and
  the pipe to drain, then appends the exit to the journal (see `journal`) and tells every
  connected runtime. Kills follow `plan_kill` here, in the daemon, so an escalation to
  SIGKILL still happens if the runtime dies during the grace period.
- With no runtime connected it keeps supervising and journalling; a runtime that connects
  later asks for each attempt (`adopt`): running, exited (with the journalled status), or
  unknown (never started here). It exits once no runtime is connected and nothing runs.
- If the daemon itself dies (`kill -9`), its jobs lose their log pipe and their reaper. The
  next daemon finds, in the journal, attempts started and never ended: it SIGKILLs each one's
  group (checking the leader's start time, since pids are reused) and journals the attempt as
  ended with `REASON_LOST`, so the runtime fails it with that reason instead of guessing.
  Re-parenting is not possible: only a parent (or a subreaper ancestor) learns an exit status.

Protocol: JSON lines. Requests get exactly one reply each, in order (`hello`, `start`,
`adopt`, `list`, `known`); `kill`, `forget` and `retain` get none; `exit` events are pushed to
every client. A `start` may carry `m`, the attempt as the runtime knows it (job id, attempt
number, compute environment, ...): it is journalled with the start and the exit and `known`
returns it, so a runtime that died before its store recorded an attempt takes it back instead
of starting the job again. That is what lets the runtime start an attempt without first
waiting for a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from abatch.executors.base import plan_kill
from abatch.executors.groups import (
    CANNOT_START,
    describe,
    environ_names,
    exit_result,
    live_pids_in_group,
    signal_group,
    spawn_error,
    start_ticks,
)
from abatch.executors.journal import Journal, JournalState, read_journal

__all__ = ["PROTOCOL", "REASON_LOST", "main", "socket_name"]

PROTOCOL = 2  # 2: `start` carries the attempt's identity (`m`); `known`
REASON_LOST = (
    "SupervisorLost: the abatch process supervisor died while the attempt ran; "
    "its process group was killed and its exit status is lost"
)
# The runtime's wording (abatch.runtime.attempts.NOTE_DISK_FULL) for a log that could not be
# written whole: the attempt fails with it, as the job's own writes would have failed had its
# output gone straight to the full disk.
LOG_DISK_FULL = "log incomplete: the disk holding the state directory is full"
_READ_CHUNK = 1 << 16
_READS_PER_WAKE = 16
# After the leader exits, how often and how long to wait for the rest of its group to die
# (and its output to drain) before reporting the exit anyway.
_REAP_POLL_S = 0.005
_REAP_LIMIT_S = 2.0
_IDLE_FIRST_S = 30.0  # a daemon no runtime ever connects to leaves after this
_LEAVE_AFTER_S = 0.05  # idle this long, the daemon stops listening and leaves
_COMPACT_AFTER = 20_000  # journal records, when most of them are no longer needed
# fdatasync at most this often: one sync covers every record written meanwhile, and a
# stream of syncs would compete with the jobs and the store for the disk.
_SYNC_EVERY_S = 0.05
_LOG_DIRS_REMEMBERED = 1024


def socket_name(home: Path) -> str:
    """The abstract socket name of the daemon for `home` (no file, no path length limit, gone
    with the daemon)."""
    digest = hashlib.sha1(str(home.resolve()).encode()).hexdigest()[:24]
    return f"\0abatch-supervisor-{digest}"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _still_ours(pid: int, rec: dict[str, Any]) -> bool:
    """Whether process `pid` (the leader of a journalled attempt) is still that attempt, or
    gone: then only the group's other members can carry its id (Linux never hands out a pid
    that is still a group id). Pids are reused: a record names its process by start time
    (`t`) or, for a runtime's attempt, by the job id and attempt number in its environment."""
    ticks = start_ticks(pid)
    if ticks is None:
        return True
    if "t" in rec:
        return bool(ticks == rec["t"])
    meta = rec.get("m")
    if not isinstance(meta, dict):
        return False
    return environ_names(pid, str(meta.get("job")), str(meta.get("n")))


class _Attempt:
    __slots__ = (
        "cap",
        "cut",
        "dropped",
        "escalation",
        "finished",
        "give_up",
        "key",
        "last",
        "log_error",
        "log_fd",
        "pid",
        "pipe",
        "reaped",
        "rec",
        "started_at",
        "status",
        "stopped_at",
        "timer",
        "written",
    )

    def __init__(self, key: str, pid: int, pipe: int, log_fd: int, cap: int) -> None:
        self.key = key
        self.rec: dict[str, Any] = {}  # the journal's start record
        self.pid = pid
        self.pipe: int | None = pipe
        self.log_fd = log_fd
        self.cap = cap
        self.written = 0
        self.dropped = 0
        self.cut = False
        self.last = b"\n"
        self.log_error: str | None = None  # why the log could not be written whole
        self.started_at = _now_ms()
        self.reaped = False
        self.finished = False
        self.status: int | None = None
        self.stopped_at = 0
        self.give_up = 0.0
        self.escalation: asyncio.TimerHandle | None = None
        self.timer: asyncio.TimerHandle | None = None


class _Refused(Exception):
    pass


class Supervisor:
    """The daemon's state and behaviour; `serve` runs it on an already bound socket."""

    def __init__(self, home: Path, state: JournalState) -> None:
        self.home = home
        self.journal = Journal(home)
        self.exits = state.exits
        self.running: dict[str, _Attempt] = {}
        self.by_pid: dict[int, _Attempt] = {}  # running leaders not reaped yet
        self.clients: set[_Client] = set()
        self.devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        self.log_dirs: set[Path] = set()
        self.uid = os.getuid()
        self.ever_connected = False
        self._syncing: asyncio.Future[None] | None = None
        self._server: asyncio.Server | None = None
        self._leave_timer: asyncio.TimerHandle | None = None
        self._sync_timer: asyncio.TimerHandle | None = None
        self._stopped: asyncio.Event | None = None

    # ------------------------------------------------------------------ start-up

    def reconcile(self, started: dict[str, dict[str, Any]]) -> None:
        """Attempts a previous daemon started and never saw end: it died. Kill what is left
        of each and journal it as lost."""
        records = []
        for key, rec in started.items():
            pid = rec.get("pid")
            if isinstance(pid, int) and pid > 1 and _still_ours(pid, rec):
                signal_group(pid, signal.SIGKILL)
            log = rec.get("log")
            if isinstance(log, str):
                with contextlib.suppress(OSError):
                    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
                    try:
                        os.write(fd, b"\n[abatch: supervisor died; the job was killed]\n")
                    finally:
                        os.close(fd)
            exit_rec: dict[str, Any] = {"k": key, "code": None, "sig": None}
            exit_rec.update(reason=REASON_LOST, at=_now_ms())
            if isinstance(rec.get("m"), dict):
                exit_rec.update(m=rec["m"], st=rec.get("at"))
            records.append(exit_rec)
            self.exits[key] = exit_rec
        if records:
            self.journal.append(*records)

    async def serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        loop.add_signal_handler(signal.SIGCHLD, self._on_sigchld)
        self._server = await loop.create_unix_server(lambda: _Client(self), sock=sock)
        loop.call_later(_IDLE_FIRST_S, self._idle_check)
        while True:
            await self._stopped.wait()
            # asyncio sets up an accepted connection one step after accepting it: one that
            # came just as the listener closed is served to its end before leaving.
            for _ in range(3):
                await asyncio.sleep(0)
            if not self.clients and not self.running:
                break
            self._stopped.clear()
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        while self._syncing is not None:
            # A finished future does not yield on await: sleep so that `_synced` runs.
            await asyncio.sleep(0.001)
        if not self.running:
            # Leaving with nothing running: keep only exits no runtime has stored yet, so an
            # empty journal tells the next runtime there is nothing to adopt or reconcile.
            with contextlib.suppress(OSError):
                self.journal.compact(self._state())
        self.journal.close()  # syncs what is left

    def _idle_check(self) -> None:
        if not self.ever_connected:
            self.ever_connected = True
            self.maybe_exit()

    def maybe_exit(self) -> None:
        """Idle (no runtime, nothing running): stop listening after a moment, then leave."""
        if not self.ever_connected or self.clients or self.running or self._stopped is None:
            return
        if self._server is None or not self._server.is_serving():
            self._stopped.set()
        elif self._leave_timer is None:
            loop = asyncio.get_running_loop()
            self._leave_timer = loop.call_later(_LEAVE_AFTER_S, self._leave_if_idle)

    def _leave_if_idle(self) -> None:
        self._leave_timer = None
        if self.clients or self.running or self._server is None or self._stopped is None:
            return
        self._server.close()  # no new runtime can connect now; the lock is held until exit
        self._stopped.set()

    # ------------------------------------------------------------------ requests

    def handle(self, msg: dict[str, Any]) -> dict[str, Any] | None:
        op = msg.get("op")
        if op == "start":
            return self.start(msg)
        if op == "kill":
            self.kill(str(msg["k"]), float(msg["grace"]))
            return None
        if op == "adopt":
            return self.adopt(str(msg["k"]))
        if op == "list":
            return {"op": "list", "keys": sorted(self.running)}
        if op == "known":
            return {
                "op": "known",
                "running": [a.rec for a in self.running.values()],
                "exited": list(self.exits.values()),
            }
        if op == "forget":
            self.forget([str(k) for k in msg["keys"]])
            return None
        if op == "retain":
            keep = {str(k) for k in msg["keys"]}
            gone = [k for k in self.exits if k not in keep]
            if gone:
                self.forget(gone)
            return None
        if op == "hello":
            return {"op": "hello", "v": PROTOCOL, "pid": os.getpid()}
        return {"op": "error", "reason": f"unknown operation {op!r}"}

    def start(self, msg: dict[str, Any]) -> dict[str, Any]:
        key = str(msg["k"])
        if key in self.running or key in self.exits:
            return {"op": "refused", "reason": f"{CANNOT_START}attempt {key} was already started"}
        argv = [str(a) for a in msg["argv"]]
        cwd = str(msg["cwd"])
        try:
            log_fd = self._open_log(Path(msg["log"]))
        except _Refused as exc:
            return {"op": "refused", "reason": str(exc)}
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            try:
                pid = self._spawn(argv, msg, w)
            except (FileNotFoundError, NotADirectoryError) as exc:
                # The runtime usually made the working directory ahead of time; make it here
                # only when the spawn says it is missing (saves a mkdir and a stat).
                if exc.filename is None or os.fspath(exc.filename) != cwd:
                    raise
                try:
                    Path(cwd).mkdir(mode=0o700, parents=True, exist_ok=True)
                except OSError as mk:
                    raise _Refused(
                        f'{CANNOT_START}cannot create working directory "{cwd}": {describe(mk)}'
                    ) from None
                pid = self._spawn(argv, msg, w)
        except _Refused as exc:
            return self._refuse(str(exc), r, log_fd)
        except OSError as exc:
            return self._refuse(spawn_error(exc, argv[0], Path(cwd)), r, log_fd)
        except ValueError as exc:  # e.g. NUL in argv or env
            return self._refuse(f"{CANNOT_START}{exc}", r, log_fd)
        finally:
            os.close(w)
        os.set_blocking(r, False)
        att = _Attempt(key, pid, r, log_fd, int(msg["cap"]))
        rec: dict[str, Any] = {"k": key, "pid": pid, "at": att.started_at, "log": msg["log"]}
        meta = msg.get("m")
        if isinstance(meta, dict):
            # Who the attempt is (job id, attempt number, ...): a runtime that died before
            # its store recorded the attempt takes it back from this record, and a daemon
            # that finds the group after a crash recognises it by the job's environment.
            rec["m"] = meta
        else:
            rec["t"] = start_ticks(pid)  # a /proc read: only when nothing else names it
        att.rec = rec
        # Journalled before anyone hears of it: a daemon that dies now leaves a record that
        # lets the next one find and stop this group.
        self.journal.append(rec)
        self.running[key] = att
        self.by_pid[pid] = att
        asyncio.get_running_loop().add_reader(r, self._pump, att)
        self._want_sync()
        return {"op": "started", "k": key, "pid": pid, "at": att.started_at}

    def _spawn(self, argv: list[str], msg: dict[str, Any], out: int) -> int:
        """posix_spawn in a new session; half the parent CPU of Popen's fork_exec. It cannot
        set the child's cwd in 3.11, so the daemon moves there first (it uses no relative
        path itself). Raises OSError (the chdir names the directory), ValueError."""
        os.chdir(str(msg["cwd"]))
        env = {str(k): str(v) for k, v in msg["env"].items()}
        return os.posix_spawn(
            str(msg["exe"]),
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, self.devnull, 0),
                (os.POSIX_SPAWN_DUP2, out, 1),
                (os.POSIX_SPAWN_DUP2, out, 2),
            ],
            setsid=True,
            # Python ignores SIGPIPE and SIGXFSZ; a job gets the defaults, as Popen gives.
            setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
        )

    def _refuse(self, reason: str, pipe: int, log_fd: int) -> dict[str, Any]:
        os.close(pipe)
        os.close(log_fd)
        return {"op": "refused", "reason": reason}

    def _open_log(self, path: Path) -> int:
        """Open (or create) the log. `log_dirs` remembers directories already made, saving a
        mkdir per job; one that has vanished since is made again."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        parent = path.parent
        try:
            if parent in self.log_dirs:
                try:
                    return os.open(path, flags, 0o600)
                except FileNotFoundError:
                    self.log_dirs.discard(parent)
            parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise _Refused(
                f'{CANNOT_START}cannot open log file "{path}": {describe(exc)}'
            ) from None
        if len(self.log_dirs) >= _LOG_DIRS_REMEMBERED:
            self.log_dirs.clear()
        self.log_dirs.add(parent)
        return fd

    def kill(self, key: str, grace: float) -> None:
        att = self.running.get(key)
        if att is None or att.reaped:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(grace, 0.0)
        pending = att.escalation
        plan = plan_kill(pending.when() if pending else None, deadline, grace)
        if plan.cancel_pending and pending is not None:
            pending.cancel()
            att.escalation = None
        signal_group(att.pid, plan.signum)
        if plan.arm:
            att.escalation = loop.call_at(deadline, self._escalate, att)

    def _escalate(self, att: _Attempt) -> None:
        att.escalation = None
        if not att.reaped:
            signal_group(att.pid, signal.SIGKILL)

    def adopt(self, key: str) -> dict[str, Any]:
        att = self.running.get(key)
        if att is not None:
            return {"op": "adopted", "k": key, "state": "running", "pid": att.pid,
                    "at": att.started_at}  # fmt: skip
        rec = self.exits.get(key)
        if rec is not None:
            return {**rec, "op": "adopted", "state": "exited"}
        return {"op": "adopted", "k": key, "state": "unknown"}

    def forget(self, keys: list[str]) -> None:
        """The runtime has stored these exits: drop them here and, now and then, from disk."""
        for key in keys:
            self.exits.pop(key, None)
        self.journal.append({"forget": keys})
        self._want_sync()

    # ------------------------------------------------------------------ output

    def _pump(self, att: _Attempt) -> None:
        for _ in range(_READS_PER_WAKE):
            fd = att.pipe
            if fd is None:
                return
            try:
                data = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_pipe(att)
                if att.reaped:
                    self._check_done(att)
                return
            self._write_log(att, data)

    def _write_log(self, att: _Attempt, data: bytes) -> None:
        if att.cut:
            att.dropped += len(data)
            return
        room = att.cap - att.written
        keep = data if len(data) <= room else data[:room]
        view = memoryview(keep)
        try:
            while view:
                view = view[os.write(att.log_fd, view) :]
        except OSError as exc:
            # A full disk, say: this piece is lost (later ones are tried again), the job
            # keeps running, and its exit says the log is incomplete.
            full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
            att.log_error = LOG_DISK_FULL if full else f"log incomplete: {describe(exc)}"
        written = len(keep) - len(view)
        att.written += written
        if written:
            att.last = keep[written - 1 : written]
        if len(keep) < len(data):
            att.cut = True
            att.dropped += len(data) - len(keep)
            self._mark(att, f"[abatch: log cut at {att.cap} bytes; the rest is dropped]")

    def _mark(self, att: _Attempt, text: str) -> None:
        line = ("" if att.last == b"\n" else "\n") + text + "\n"
        with contextlib.suppress(OSError):
            os.write(att.log_fd, line.encode())
        att.last = b"\n"

    def _close_pipe(self, att: _Attempt) -> None:
        if att.pipe is not None:
            asyncio.get_running_loop().remove_reader(att.pipe)
            os.close(att.pipe)
            att.pipe = None

    # ------------------------------------------------------------------ exits

    def _on_sigchld(self) -> None:
        """Reap every child that has exited, killing what is left of its group first."""
        while True:
            try:
                # Peek without reaping: while the leader is an unreaped zombie its pid (the
                # group id) cannot be reused, so signalling the group is safe.
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None:
                return
            att = self.by_pid.pop(info.si_pid, None)
            if att is not None:
                signal_group(att.pid, signal.SIGKILL)  # AWS stops the container with it
            try:
                _, status = os.waitpid(info.si_pid, 0)
            except ChildProcessError:
                continue
            if att is not None:
                self._leader_exited(att, status)

    def _leader_exited(self, att: _Attempt, status: int) -> None:
        loop = asyncio.get_running_loop()
        att.reaped = True
        att.status = status
        att.stopped_at = _now_ms()
        att.give_up = loop.time() + _REAP_LIMIT_S
        if att.escalation is not None:
            att.escalation.cancel()
            att.escalation = None
        self._check_done(att)

    def _check_done(self, att: _Attempt) -> None:
        if att.finished:
            return
        loop = asyncio.get_running_loop()
        try:
            os.killpg(att.pid, 0)
        except (ProcessLookupError, PermissionError):
            leftovers = False
        else:
            # Members remain (maybe only zombies that init has not reaped yet).
            leftovers = bool(live_pids_in_group(att.pid))
        now = loop.time()
        if leftovers and now < att.give_up:
            signal_group(att.pid, signal.SIGKILL)
            loop.call_later(_REAP_POLL_S, self._check_done, att)
            return
        if att.pipe is not None and not leftovers:
            # Usually the group is gone and the pipe is at EOF already: read it now rather
            # than on the next turn of the loop (EOF finishes the attempt from `_pump`).
            self._pump(att)
            if att.finished:
                return
        if att.pipe is not None and now < att.give_up:
            # Output is still draining (`_pump` calls again at EOF); a process that left the
            # group may hold the pipe open, so the wait has a limit.
            if att.timer is None:
                att.timer = loop.call_at(att.give_up, self._check_done, att)
            return
        self._finish(att)

    def _finish(self, att: _Attempt) -> None:
        att.finished = True
        if att.timer is not None:
            att.timer.cancel()
        if att.pipe is not None:
            self._pump(att)  # what is already in the pipe
            self._close_pipe(att)
        if att.dropped:
            self._mark(
                att, f"[abatch: log cut at {att.cap} bytes; {att.dropped} more bytes dropped]"
            )
        os.close(att.log_fd)
        reason: str | None
        if att.status is None:
            code, sig, reason = None, None, "exit status lost: reaped elsewhere"
        else:
            result = exit_result(att.status)
            code, sig, reason = result.exit_code, result.signal, att.log_error
        rec = {"k": att.key, "code": code, "sig": sig, "reason": reason, "at": att.stopped_at}
        meta = att.rec.get("m")
        if meta is not None:
            rec["m"] = meta  # the attempt, for a runtime that never recorded its start
            rec["st"] = att.started_at
        self.journal.append(rec)
        self.exits[att.key] = rec
        del self.running[att.key]
        event = {"op": "exit", "k": att.key, "code": code, "sig": sig, "reason": reason}
        event["at"] = att.stopped_at
        line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
        for client in self.clients:
            client.send(line)
        self._want_sync()
        self.maybe_exit()

    # ------------------------------------------------------------------ durability

    def _want_sync(self) -> None:
        if self._syncing is not None or self._sync_timer is not None or not self.journal.dirty:
            return
        if self._stopped is not None and self._stopped.is_set():
            return  # leaving: `serve` closes the journal, which syncs it
        loop = asyncio.get_running_loop()
        self._sync_timer = loop.call_later(_SYNC_EVERY_S, self._sync)

    def _sync(self) -> None:
        self._sync_timer = None
        loop = asyncio.get_running_loop()
        self._syncing = loop.run_in_executor(None, self.journal.sync)
        self._syncing.add_done_callback(self._synced)

    def _synced(self, fut: asyncio.Future[None]) -> None:
        self._syncing = None
        with contextlib.suppress(OSError):
            fut.result()
        live = len(self.running) + len(self.exits)
        if self.journal.records > max(_COMPACT_AFTER, 4 * live):
            with contextlib.suppress(OSError):
                self.journal.compact(self._state())
        self._want_sync()

    def _state(self) -> JournalState:
        started = {k: a.rec for k, a in self.running.items()}
        return JournalState(started=started, exits=dict(self.exits))


class _Client(asyncio.Protocol):
    """One runtime's connection: JSON lines in, replies (in order) and exit events out."""

    def __init__(self, sup: Supervisor) -> None:
        self.sup = sup
        self.transport: asyncio.Transport | None = None
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        sock = transport.get_extra_info("socket")
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        _, uid, _ = struct.unpack("3i", creds)
        if uid != self.sup.uid:
            transport.close()  # another user: never run anything for it
            return
        self.transport = transport
        self.sup.clients.add(self)
        self.sup.ever_connected = True

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        replies = []
        for line in lines:
            try:
                msg = json.loads(line)
                reply = self.sup.handle(msg)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                reply = {"op": "error", "reason": f"bad request: {exc!r}"}
            if reply is not None:
                replies.append(json.dumps(reply, separators=(",", ":")).encode() + b"\n")
        if replies:
            self.transport.write(b"".join(replies))

    def send(self, line: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(line)

    def connection_lost(self, exc: Exception | None) -> None:
        self.sup.clients.discard(self)
        self.transport = None
        self.sup.maybe_exit()


def main(argv: list[str]) -> int:
    """`main([_, HOME])`: detach, bind, say `ready PID` on stdout, serve until idle."""
    home = Path(argv[1]).resolve()
    if os.fork() > 0:
        os._exit(0)  # the runtime reaps this parent at once; the daemon belongs to init
    with contextlib.suppress(OSError):
        os.setsid()
    os.chdir("/")
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    # The lock is a second name, held until this process is gone: a daemon that is leaving
    # closes its listening socket first (no new client) and finishes its journal, and only
    # then may the next one bind the lock and read that journal.
    lock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        lock.bind(socket_name(home) + "-lock")
        sock.bind(socket_name(home))
    except OSError:
        print("busy", flush=True)  # another daemon serves this home, or is leaving
        return 0
    sock.listen(128)
    sock.setblocking(False)
    state = read_journal(home / "journal")
    sup = Supervisor(home, state)
    sup.reconcile(state.started)
    print(f"ready {os.getpid()}", flush=True)
    os.dup2(sup.devnull, 1)
    asyncio.run(sup.serve(sock))
    lock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
