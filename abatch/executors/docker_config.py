"""Translate a RunSpec into the body of a Docker Engine `POST /containers/create`.

Pure: no I/O, so every mapping is tested from a table without an engine. Rules:

- `Cmd` is `spec.argv` as is (AWS passes `command` as the Docker CMD, never through a shell);
  an empty argv leaves `Cmd` out so the image's CMD runs. The image's ENTRYPOINT is kept.
- `Env` is exactly `spec.env`; Docker adds the image's own ENV (PATH and so on) underneath.
- Limits: `NanoCpus` from vCPUs (a CPU quota), `Memory` the hard limit; `linuxParameters.maxSwap`
  gives `MemorySwap` = memory + maxSwap (0 means no swap); without maxSwap Docker's default
  applies and `swappiness` is ignored, as AWS documents.
- Volumes: a `mountPoint` names a `volume`; a volume with `host.sourcePath` becomes a bind of
  that host path, one without a host becomes the named Docker volume `abatch-<name>` (created
  by Docker on first use and kept). `readOnly` is honoured. A mount point naming no volume, a
  relative host path or a path holding ':' is refused with CannotCreateContainerError.
- Nothing privileged unless asked: `Privileged` only when `privileged` is true.
- `spec.network` (the bridge network of a multi-node job) becomes `NetworkMode`.
- The AWS container dict is read defensively (it may come from the API or a config): a value
  of the wrong shape is refused with CannotCreateContainerError naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abatch.executors.base import StartError
from abatch.model.runspec import RunSpec

__all__ = [
    "CANNOT_CREATE",
    "KEY_LABEL",
    "LOG_LABEL",
    "RUNTIME_LABEL",
    "container_name",
    "create_body",
]

CANNOT_CREATE = "CannotCreateContainerError: "
KEY_LABEL = "abatch.key"
RUNTIME_LABEL = "abatch.runtime"
LOG_LABEL = "abatch.log-path"
"""Where the attempt's log goes, so that `adopt` after a restart can carry on writing it."""

MIB = 1024 * 1024
_DEVICE_PERMISSIONS = {"READ": "r", "WRITE": "w", "MKNOD": "m"}


def container_name(key: str) -> str:
    return f"abatch-{key}"


def _refuse(what: str) -> StartError:
    return StartError(f"{CANNOT_CREATE}{what}")


def _dicts(field: str, value: Any) -> list[Mapping[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise _refuse(f"{field} must be a list of objects")
    return value


def _host_path(path: Any, field: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise _refuse(f"{field} {path!r} must be an absolute path")
    if ":" in path:
        raise _refuse(f"{field} {path!r} may not contain ':'")
    return path


def _binds(container: Mapping[str, Any]) -> list[str]:
    volumes: dict[str, Mapping[str, Any]] = {}
    for entry in _dicts("volumes", container.get("volumes")):
        name = entry.get("name")
        if isinstance(name, str) and name:
            volumes[name] = entry
    binds: list[str] = []
    for mount in _dicts("mountPoints", container.get("mountPoints")):
        source = mount.get("sourceVolume")
        volume = volumes.get(source) if isinstance(source, str) else None
        if volume is None:
            raise _refuse(f"mount point source volume {source!r} is not among the volumes")
        target = _host_path(mount.get("containerPath"), "mountPoints.containerPath")
        if volume.get("efsVolumeConfiguration"):
            raise _refuse(f"volume {source!r}: EFS volumes are not supported here")
        host = volume.get("host") or {}
        sourcepath = host.get("sourcePath") if isinstance(host, Mapping) else None
        if sourcepath:
            origin = _host_path(sourcepath, f"volume {source!r} host.sourcePath")
        else:
            origin = f"abatch-{source}"
        binds.append(f"{origin}:{target}:{'ro' if mount.get('readOnly') else 'rw'}")
    return binds


def _ulimits(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for u in _dicts("ulimits", container.get("ulimits")):
        try:
            out.append(
                {"Name": str(u["name"]), "Soft": int(u["softLimit"]), "Hard": int(u["hardLimit"])}
            )
        except (KeyError, TypeError, ValueError):
            raise _refuse(f"ulimit {dict(u)!r} needs name, softLimit and hardLimit") from None
    return out


def _devices(linux: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for d in _dicts("linuxParameters.devices", linux.get("devices")):
        host = _host_path(d.get("hostPath"), "linuxParameters.devices.hostPath")
        inside = d.get("containerPath") or host
        permissions = d.get("permissions")
        if permissions:
            try:
                letters = "".join(_DEVICE_PERMISSIONS[p.upper()] for p in permissions)
            except (AttributeError, KeyError):
                raise _refuse(
                    f"device {host!r}: permissions must be READ, WRITE or MKNOD"
                ) from None
        else:
            letters = "rwm"
        out.append(
            {"PathOnHost": host, "PathInContainer": str(inside), "CgroupPermissions": letters}
        )
    return out


def _tmpfs(linux: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for t in _dicts("linuxParameters.tmpfs", linux.get("tmpfs")):
        path = _host_path(t.get("containerPath"), "linuxParameters.tmpfs.containerPath")
        try:
            options = [f"size={int(t['size'])}m", *(str(o) for o in t.get("mountOptions") or [])]
        except (KeyError, TypeError, ValueError):
            raise _refuse(f"tmpfs {path!r} needs a size in MiB") from None
        out[path] = ",".join(options)
    return out


def _host_config(spec: RunSpec, vcpus: float) -> dict[str, Any]:
    container = spec.container
    memory = spec.memory_mib * MIB
    host: dict[str, Any] = {
        "NanoCpus": int(vcpus * 1e9),
        "Memory": memory,
        "Privileged": container.get("privileged") is True,
        "ReadonlyRootfs": container.get("readonlyRootFilesystem") is True,
    }
    linux = container.get("linuxParameters") or {}
    if not isinstance(linux, Mapping):
        raise _refuse("linuxParameters must be an object")
    max_swap = linux.get("maxSwap")
    if max_swap is not None:
        host["MemorySwap"] = memory + int(max_swap) * MIB
        swappiness = linux.get("swappiness")
        if swappiness is not None:
            host["MemorySwappiness"] = int(swappiness)
    if spec.gpu_ids:
        host["DeviceRequests"] = [
            {"Driver": "nvidia", "DeviceIDs": list(spec.gpu_ids), "Capabilities": [["gpu"]]}
        ]
    binds = _binds(container)
    if binds:
        host["Binds"] = binds
    ulimits = _ulimits(container)
    if ulimits:
        host["Ulimits"] = ulimits
    devices = _devices(linux)
    if devices:
        host["Devices"] = devices
    if linux.get("initProcessEnabled") is True:
        host["Init"] = True
    shm = linux.get("sharedMemorySize")
    if shm is not None:
        host["ShmSize"] = int(shm) * MIB
    tmpfs = _tmpfs(linux)
    if tmpfs:
        host["Tmpfs"] = tmpfs
    return host


def create_body(
    spec: RunSpec, runtime_id: str, *, max_vcpus: float | None = None
) -> dict[str, Any]:
    """The create-container body for `spec`. `max_vcpus` caps the CPU quota at what the
    engine's host has (Docker refuses a larger one). Raises StartError."""
    if not spec.image:
        raise StartError("CannotStartContainerError: no image given")
    vcpus = spec.vcpus if max_vcpus is None else min(spec.vcpus, max_vcpus)
    labels = dict(spec.labels)
    labels[KEY_LABEL] = spec.key
    labels[RUNTIME_LABEL] = runtime_id
    labels[LOG_LABEL] = str(spec.log_path)
    body: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in spec.env.items()],
        "Labels": labels,
        "Tty": False,
        "OpenStdin": False,
        "AttachStdin": False,
        "AttachStdout": False,
        "AttachStderr": False,
        "HostConfig": _host_config(spec, vcpus),
    }
    if spec.network is not None:
        body["HostConfig"]["NetworkMode"] = spec.network
    if spec.argv:
        body["Cmd"] = list(spec.argv)
    user = spec.container.get("user")
    if user:
        body["User"] = str(user)
    return body
