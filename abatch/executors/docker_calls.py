"""The short engine calls DockerExecutor makes, each bounded in time, each turning what the
engine says into an AWS container reason.

- create: a missing image (404) is pulled once, then the create is tried again; a failed pull
  is `CannotPullContainerError: <engine message>`. A name already taken (409) by a container
  of this runtime and key that is not running (a create that timed out, say) is removed and
  the create tried again; any other conflict is refused.
- start: `CannotStartContainerError: <engine message>`.
- No engine at all: DockerUnavailableError (`DockerTimeoutError: ...`), from every call.
- aiodocker returns untyped dicts; what leaves this module is typed.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiodocker

from abatch.executors.base import StartError
from abatch.executors.docker_config import CANNOT_CREATE, KEY_LABEL, RUNTIME_LABEL
from abatch.executors.docker_engine import DockerUnavailableError, reachable

__all__ = [
    "CANNOT_PULL",
    "CANNOT_START",
    "container_address",
    "create_container",
    "create_network",
    "host_cpus",
    "list_labelled",
    "oom_killed",
    "pid_of",
    "reason",
    "remove_container",
    "remove_network",
    "send_signal",
    "start_container",
]

CANNOT_START = "CannotStartContainerError: "
CANNOT_PULL = "CannotPullContainerError: "
API_TIMEOUT_S = 60.0  # create, start, inspect, kill, delete: an engine this slow is stuck
PULL_TIMEOUT_S = 600.0
REASON_LIMIT = 255  # AWS caps container.reason at 255 characters


def reason(prefix: str, text: str) -> str:
    return (prefix + text)[:REASON_LIMIT]


def _message(exc: aiodocker.DockerError) -> str:
    return str(exc.message).strip() or f"the engine answered {exc.status}"


async def create_container(
    docker: aiodocker.Docker,
    body: dict[str, Any],
    name: str,
    *,
    key: str,
    runtime_id: str,
    url: str,
) -> str:
    """Create the container; return its id. Raises StartError, DockerUnavailableError."""
    pulled = cleared = False
    while True:
        try:
            with reachable(url):
                async with asyncio.timeout(API_TIMEOUT_S):
                    return str((await docker.containers.create(body, name=name)).id)
        except aiodocker.DockerError as exc:
            if exc.status == 404 and not pulled:
                await _pull(docker, str(body["Image"]), url)
                pulled = True
            elif exc.status == 409 and not cleared:
                await _clear_leftover(docker, name, key, runtime_id, url, exc)
                cleared = True
            else:
                raise StartError(reason(CANNOT_CREATE, _message(exc))) from None


async def _pull(docker: aiodocker.Docker, image: str, url: str) -> None:
    try:
        with reachable(url):
            async with asyncio.timeout(PULL_TIMEOUT_S):
                await docker.images.pull(image)
    except DockerUnavailableError as exc:
        if exc.why != "timed out":
            raise
        raise StartError(
            reason(CANNOT_PULL, f"pulling {image} timed out after {PULL_TIMEOUT_S:.0f} s")
        ) from None
    except aiodocker.DockerError as exc:
        raise StartError(reason(CANNOT_PULL, _message(exc))) from None


async def _clear_leftover(
    docker: aiodocker.Docker,
    name: str,
    key: str,
    runtime_id: str,
    url: str,
    conflict: aiodocker.DockerError,
) -> None:
    refusal = StartError(reason(CANNOT_CREATE, _message(conflict)))
    try:
        with reachable(url):
            async with asyncio.timeout(API_TIMEOUT_S):
                info: dict[str, Any] = await docker.containers.container(name).show()
    except aiodocker.DockerError:
        raise refusal from None
    labels = (info.get("Config") or {}).get("Labels") or {}
    running = bool((info.get("State") or {}).get("Running"))
    if running or labels.get(KEY_LABEL) != key or labels.get(RUNTIME_LABEL) != runtime_id:
        raise refusal
    await remove_container(docker, str(info["Id"]))


async def start_container(docker: aiodocker.Docker, container_id: str, url: str) -> None:
    """Start it. Raises StartError, DockerUnavailableError."""
    try:
        with reachable(url):
            async with asyncio.timeout(API_TIMEOUT_S):
                await docker.containers.container(container_id).start()
    except aiodocker.DockerError as exc:
        raise StartError(reason(CANNOT_START, _message(exc))) from None


async def pid_of(docker: aiodocker.Docker, container_id: str) -> int | None:
    """The host pid of the container's main process; None if not running or unknown."""
    try:
        async with asyncio.timeout(API_TIMEOUT_S):
            info: dict[str, Any] = await docker.containers.container(container_id).show()
    except Exception:  # the pid is a nicety; the attempt runs without it
        return None
    pid = (info.get("State") or {}).get("Pid")
    return int(pid) if pid else None


async def host_cpus(docker: aiodocker.Docker, url: str) -> float | None:
    """How many CPUs the engine's host has (None if it does not say)."""
    with reachable(url):
        async with asyncio.timeout(API_TIMEOUT_S):
            info: dict[str, Any] = dict(await docker.system.info())
    return float(info.get("NCPU") or 0) or None


async def list_labelled(
    docker: aiodocker.Docker, labels: list[str], url: str
) -> list[dict[str, Any]]:
    """Summaries (Id, State, Labels, ...) of all containers, running or not, with `labels`."""
    with reachable(url):
        async with asyncio.timeout(API_TIMEOUT_S):
            found = await docker.containers.list(all=True, filters={"label": labels})
    return [dict(c._container) for c in found]


async def remove_container(docker: aiodocker.Docker, container_id: str) -> None:
    """Force-remove a container; quietly, since it may be gone already."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(API_TIMEOUT_S):
            await docker.containers.container(container_id).delete(force=True)


async def send_signal(docker: aiodocker.Docker, container_id: str, name: str) -> None:
    """Signal the container's main process; quietly (not running: 409, gone: 404)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(API_TIMEOUT_S):
            await docker.containers.container(container_id).kill(signal=name)


async def oom_killed(docker: aiodocker.Docker, container_id: str) -> bool:
    """Whether the engine says the container was killed for memory (False if it cannot)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(API_TIMEOUT_S):
            info: dict[str, Any] = await docker.containers.container(container_id).show()
        return bool((info.get("State") or {}).get("OOMKilled"))
    return False


async def create_network(
    docker: aiodocker.Docker, name: str, labels: dict[str, str], url: str
) -> None:
    """A bridge network `name`; one of the same name left by an earlier run (a crash) is
    removed first. Raises StartError, DockerUnavailableError."""
    try:
        with reachable(url):
            async with asyncio.timeout(API_TIMEOUT_S):
                for net in await docker.networks.list(filters={"name": [name]}):
                    if net.get("Name") == name:
                        await (await docker.networks.get(str(net["Id"]))).delete()
                await docker.networks.create(
                    {"Name": name, "Driver": "bridge", "Labels": labels, "CheckDuplicate": True}
                )
    except aiodocker.DockerError as exc:
        raise StartError(reason(CANNOT_CREATE, f"network {name}: {_message(exc)}")) from None


async def remove_network(docker: aiodocker.Docker, name: str) -> None:
    """Remove a network; quietly (gone already, or containers still attached)."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(API_TIMEOUT_S):
            await (await docker.networks.get(name)).delete()


async def container_address(
    docker: aiodocker.Docker, container_id: str, network: str
) -> str | None:
    """The container's IPv4 address on `network`, None if the engine does not say."""
    with contextlib.suppress(Exception):
        async with asyncio.timeout(API_TIMEOUT_S):
            info: dict[str, Any] = await docker.containers.container(container_id).show()
        nets = (info.get("NetworkSettings") or {}).get("Networks") or {}
        address = (nets.get(network) or {}).get("IPAddress")
        return str(address) if address else None
    return None
