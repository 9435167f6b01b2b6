"""DockerExecutor: run an attempt as a Docker container, through aiodocker.

Rules this module keeps:

- One container per attempt, named `abatch-<key>` and labelled `abatch.key`, `abatch.runtime`
  (this executor's runtime id) and `abatch.log-path`, so a runtime that restarts can find its
  containers again (`containers`, `adopt`). The create body comes from `docker_config`.
- Round trips per attempt: create, start, inspect (for the pid), then logs and wait (two long
  requests), then delete; an inspect after a non-zero exit to read `OOMKilled`; nothing else.
  An image that is not present is pulled once (`CannotPullContainerError` when that fails).
- Output is copied into `spec.log_path` while the container runs, stderr lines marked with
  `[stderr] `, up to `max_log_bytes` with the cut marked (see `docker_logs`).
- `start` raises StartError with an AWS container reason. When no engine answers it raises
  DockerUnavailableError, an `executors.base.EngineUnavailableError` (so a StartError) whose
  reason starts `DockerTimeoutError:`: nothing ran, and the runtime keeps the job waiting.
- After `start`, a watcher task owns the attempt: it waits for the exit, lets the log copy
  finish, reads OOMKilled and settles the handle's future; `wait` just awaits that future
  (shielded), so a cancelled waiter loses nothing.
- An ended container is the only durable record of its exit until the runtime's store has
  committed it, so it is removed only when the runtime says so (`forget(keys)`, promptly:
  `forget_batch = 1`), never on exit: a runtime killed between the exit and its commit finds
  the ended container on restart and records the exit instead of running the job again.
  With `keep_containers` nothing is removed.
- `kill` sends SIGTERM now and SIGKILL when the grace period ends, as `docker stop` would,
  without holding a request open for the grace period; it never raises for engine trouble
  (the runtime calls it from a task whose failure would stop everything).
- Multi-node jobs: `open_network` / `close_network` make and remove a bridge network that the
  job's containers join (`RunSpec.network`), `address` gives a container's IP on it.
- `close` ends the watchers (the containers keep running: `adopt` picks them up later), lets
  removals already asked for finish, and closes the client and any ssh tunnel.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Mapping
from pathlib import Path
from typing import Any

import aiodocker

from abatch.executors.base import EngineUnavailableError, Handle, StartError, plan_kill
from abatch.executors.docker_calls import (
    CANNOT_START,
    container_address,
    create_container,
    create_network,
    host_cpus,
    list_labelled,
    oom_killed,
    pid_of,
    reason,
    remove_container,
    remove_network,
    send_signal,
    start_container,
)
from abatch.executors.docker_config import (
    KEY_LABEL,
    LOG_LABEL,
    RUNTIME_LABEL,
    container_name,
    create_body,
)
from abatch.executors.docker_engine import (
    DockerUnavailableError,
    EngineClient,
    reachable,
    resolve_host,
)
from abatch.executors.docker_logs import LogWriter, since_of_file
from abatch.executors.docker_watch import run_to_exit
from abatch.model.errors import AbatchError
from abatch.model.runspec import ExitResult, RunSpec

__all__ = [
    "AttemptDetachedError",
    "DockerExecutor",
    "DockerHandle",
    "DockerUnavailableError",
    "EngineUnavailableError",  # re-exported from executors.base: what the runtime catches
]

OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
DRAIN_TIMEOUT_S = 5.0  # after the exit: for the log stream's last lines; for removals at close
ENGINE_LOST_S = 600.0  # how long a watcher waits for an engine that went away


class AttemptDetachedError(AbatchError):
    """`wait` on an attempt whose executor was closed while it ran; `adopt` it again."""


class DockerHandle:
    """One attempt's container, and the future its watcher settles."""

    __slots__ = ("_escalation", "_signalled", "container_id", "done", "future", "key", "pid")

    def __init__(
        self, key: str, container_id: str, pid: int | None, future: asyncio.Future[ExitResult]
    ) -> None:
        self.key = key
        self.container_id = container_id
        self.pid = pid
        self.future = future
        self.done = False  # the exit is known: nothing is sent to the container any more
        self._escalation: asyncio.TimerHandle | None = None
        self._signalled: set[int] = set()

    def __repr__(self) -> str:
        return f"DockerHandle(key={self.key!r}, id={self.container_id[:12]}, done={self.done})"


def _own(handle: Handle) -> DockerHandle:
    if not isinstance(handle, DockerHandle):
        raise TypeError(f"not a DockerExecutor handle: {handle!r}")
    return handle


class DockerExecutor:
    """Runs each attempt as a Docker container. See the module docstring for the rules.

    `host`: `unix:///path`, `tcp://host:port`, `ssh://[user@]host[:port][/remote/socket]`, or
    None for DOCKER_HOST, else the local socket (see `docker_engine`); connected on first use.
    `keep_containers`: leave ended containers for inspection instead of removing them.
    `runtime_id`: the `abatch.runtime` label; `containers` and `adopt` see only containers
    carrying this executor's id.
    """

    kind = "docker"
    forget_batch = 1  # ended containers wait for `forget`: release them promptly

    def __init__(
        self,
        host: str | None = None,
        *,
        keep_containers: bool = False,
        runtime_id: str = "abatch",
        max_log_bytes: int | None = None,
    ) -> None:
        self.keep_containers = keep_containers
        self.max_log_bytes = max_log_bytes
        self.runtime_id = runtime_id
        self._engine = EngineClient(resolve_host(host))
        self._running: dict[str, DockerHandle] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self._chores: set[asyncio.Task[None]] = set()
        self._host_cpus: float | None = None
        self._ended: dict[str, str] = {}  # key -> container id: exited, not yet forgotten

    @property
    def url(self) -> str:
        """The engine endpoint, as reasons name it."""
        return self._engine.url

    @property
    def running(self) -> Mapping[str, DockerHandle]:
        """Attempts watched by this executor whose exit is not known yet."""
        return self._running

    # ------------------------------------------------------------------ the protocol

    async def start(self, spec: RunSpec) -> DockerHandle:
        if not spec.image:
            raise StartError(f"{CANNOT_START}no image given")
        docker = await self._client()
        max_vcpus = None
        if spec.vcpus > 1:  # Docker refuses a CPU quota above the host's CPU count
            if self._host_cpus is None:
                self._host_cpus = await host_cpus(docker, self.url)
            max_vcpus = self._host_cpus
        body = create_body(spec, self.runtime_id, max_vcpus=max_vcpus)
        try:
            writer = LogWriter(spec.log_path, self.max_log_bytes)
        except OSError as exc:
            why = (exc.strerror or str(exc)).lower()
            raise StartError(
                reason(CANNOT_START, f'cannot open log file "{spec.log_path}": {why}')
            ) from None
        try:
            container_id = await create_container(
                docker,
                body,
                container_name(spec.key),
                key=spec.key,
                runtime_id=self.runtime_id,
                url=self.url,
            )
            try:
                await start_container(docker, container_id, self.url)
                pid = await pid_of(docker, container_id)
            except BaseException:  # failed, or cancelled: nobody would ever stop it
                self._chore(remove_container(docker, container_id))
                raise
        except BaseException:
            writer.close()
            raise
        future = asyncio.get_running_loop().create_future()
        handle = DockerHandle(spec.key, container_id, pid, future)
        self._watch(handle, writer, since=None)
        return handle

    async def wait(self, handle: Handle) -> ExitResult:
        # shield: a cancelled waiter must not cancel the result others may still await.
        return await asyncio.shield(_own(handle).future)

    async def kill(self, handle: Handle, grace_seconds: float) -> None:
        own = _own(handle)
        if own.done:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(grace_seconds, 0.0)
        pending = own._escalation
        plan = plan_kill(pending.when() if pending else None, deadline, grace_seconds)
        if plan.cancel_pending and pending is not None:
            pending.cancel()
            own._escalation = None
        await self._signal(own, plan.signum)
        if plan.arm and not own.done:
            own._escalation = loop.call_at(deadline, self._escalate, own)

    async def close(self) -> None:
        """Stop watching (the containers keep running), finish removals already asked for
        (a few seconds at most), close the client and any ssh tunnel. A `wait` on an attempt
        still running raises AttemptDetachedError. The executor may be used again after."""
        watchers = list(self._watchers)
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        chores = list(self._chores)
        if chores:
            _, late = await asyncio.wait(chores, timeout=DRAIN_TIMEOUT_S)
            for task in late:
                task.cancel()
            await asyncio.gather(*chores, return_exceptions=True)
        await self._engine.close()

    async def forget(self, keys: list[str]) -> None:
        """The runtime has committed these attempts' exits: remove their containers (unless
        `keep_containers`). A key this executor did not see end (an earlier runtime's) is
        looked up by label. Quietly: what is left is removed by the next start-up sweep."""
        if self.keep_containers:
            for key in keys:
                self._ended.pop(key, None)
            return
        with contextlib.suppress(Exception):
            docker = await self._engine.get()
            for key in keys:
                container_id = self._ended.pop(key, None)
                if container_id is None:
                    labels = [f"{KEY_LABEL}={key}", f"{RUNTIME_LABEL}={self.runtime_id}"]
                    found = await list_labelled(docker, labels, self.url)
                    if not found or found[0].get("State") == "running":
                        continue
                    container_id = str(found[0]["Id"])
                await remove_container(docker, container_id)

    # ------------------------------------------------------------------ multi-node jobs

    async def open_network(self, name: str) -> None:
        """Create the bridge network `name` for the containers of one multi-node job.
        Raises StartError, DockerUnavailableError."""
        docker = await self._client()
        await create_network(docker, name, {RUNTIME_LABEL: self.runtime_id}, self.url)

    async def close_network(self, name: str) -> None:
        """Remove the network `name` (its containers are gone by then); quietly."""
        await remove_network(await self._engine.get(), name)

    async def address(self, handle: Handle, network: str) -> str | None:
        """The IPv4 address of the attempt's container on `network`."""
        return await container_address(await self._engine.get(), _own(handle).container_id, network)

    # ------------------------------------------------------------------ after a restart

    async def containers(self) -> list[str]:
        """Keys of every container (running or not) labelled with this runtime id.
        Raises EngineUnavailableError."""
        docker = await self._client()
        found = await list_labelled(docker, [f"{RUNTIME_LABEL}={self.runtime_id}"], self.url)
        return sorted({str((c.get("Labels") or {}).get(KEY_LABEL, "")) for c in found} - {""})

    async def adopt(self, key: str) -> DockerHandle | None:
        """Take over the container of attempt `key` that an earlier executor left: a handle
        whose `wait` reports its exit (at once if it has ended; `forget` removes it), its log
        carrying on where the earlier one stopped. None when there is no such container; one
        that was created but never started is removed and None returned. Raises
        EngineUnavailableError."""
        known = self._running.get(key)
        if known is not None:
            return known
        docker = await self._client()
        labels = [f"{KEY_LABEL}={key}", f"{RUNTIME_LABEL}={self.runtime_id}"]
        found = await list_labelled(docker, labels, self.url)
        if not found:
            return None
        summary = found[0]
        container_id = str(summary["Id"])
        state = summary.get("State")
        if state == "created":
            await remove_container(docker, container_id)
            return None
        pid = await pid_of(docker, container_id) if state == "running" else None
        log_path = (summary.get("Labels") or {}).get(LOG_LABEL)
        writer: LogWriter | None = None
        since: str | None = None
        if log_path:
            since = since_of_file(Path(log_path))
            with contextlib.suppress(OSError):  # no log then, but still the exit status
                writer = LogWriter(Path(log_path), self.max_log_bytes)
        future = asyncio.get_running_loop().create_future()
        handle = DockerHandle(key, container_id, pid, future)
        self._watch(handle, writer, since=since)
        return handle

    # ------------------------------------------------------------------ helpers

    async def _client(self) -> aiodocker.Docker:
        with reachable(self.url):
            return await self._engine.get()

    async def _signal(self, handle: DockerHandle, signum: int) -> None:
        if handle.done:
            return
        handle._signalled.add(signum)
        with contextlib.suppress(Exception):  # no engine: nothing better to do than carry on
            docker = await self._engine.get()
            await send_signal(docker, handle.container_id, signal.Signals(signum).name)

    def _escalate(self, handle: DockerHandle) -> None:
        handle._escalation = None
        if not handle.done:
            self._chore(self._signal(handle, signal.SIGKILL))

    def _chore(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    # ------------------------------------------------------------------ watching

    def _watch(self, handle: DockerHandle, writer: LogWriter | None, since: str | None) -> None:
        self._running[handle.key] = handle
        task = asyncio.get_running_loop().create_task(self._supervise(handle, writer, since))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _supervise(
        self, handle: DockerHandle, writer: LogWriter | None, since: str | None
    ) -> None:
        try:
            code, problem = await run_to_exit(
                self._engine,
                handle.container_id,
                writer,
                since,
                drain_s=DRAIN_TIMEOUT_S,
                lost_after_s=ENGINE_LOST_S,
            )
            handle.done = True
            result = await self._exit_result(handle, code, problem)
            self._ended[handle.key] = handle.container_id
        except asyncio.CancelledError:
            self._settle(handle, None)
            raise
        except Exception as exc:  # an answer nobody expected: report it rather than hang
            result = ExitResult(None, reason("CannotInspectContainerError: ", repr(exc)))
        self._settle(handle, result)

    async def _exit_result(
        self, handle: DockerHandle, code: int | None, problem: str | None
    ) -> ExitResult:
        if code is None:
            return ExitResult(None, problem)
        if code == 0:
            return ExitResult(0)
        if await oom_killed(await self._engine.get(), handle.container_id):
            return ExitResult(code, OOM_REASON, signal=int(signal.SIGKILL))
        # Docker reports 128+N for a main process killed by signal N; name N only when this
        # executor sent it (an exit(137) looks the same).
        if code > 128 and code - 128 in handle._signalled:
            return ExitResult(code, signal=code - 128)
        return ExitResult(code)

    def _settle(self, handle: DockerHandle, result: ExitResult | None) -> None:
        """Record the outcome; None means the executor was closed while the attempt ran."""
        handle.done = True
        if handle._escalation is not None:
            handle._escalation.cancel()
            handle._escalation = None
        if self._running.get(handle.key) is handle:
            del self._running[handle.key]
        if handle.future.done():
            return
        if result is not None:
            handle.future.set_result(result)
            return
        handle.future.set_exception(
            AttemptDetachedError(
                f"executor closed while container {handle.container_id[:12]} ran; adopt it"
            )
        )
        handle.future.exception()  # mark it retrieved: nobody need be waiting
