"""Helpers for tests that need a real Docker engine.

- ``docker_available()`` probes the engine once per test session (cached).
- ``require_docker()`` skips the calling test when there is no engine, or fails it when
  ``ABATCH_REQUIRE_DOCKER=1`` (CI sets that, so a broken engine cannot hide behind skips).
  ``tests/conftest.py`` calls it automatically for every test marked ``@pytest.mark.docker``.
- ``build_busybox_image()`` builds a tiny local image from the host's static busybox
  (Debian's ``busybox-static``): nothing can be pulled from a registry here.

Import it as ``from tests.docker_support import ...``: ``tests`` is a package (it has an
``__init__.py``), so pytest puts the repository root on ``sys.path``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import hashlib
import io
import os
import shutil
import struct
import tarfile
from pathlib import Path
from typing import Any

import aiodocker
import pytest

BUSYBOX_IMAGE = "abatch-test-busybox:latest"
"""Tag of the local test image: ``FROM scratch`` + static busybox with its applets in /bin."""

REQUIRE_DOCKER_ENV = "ABATCH_REQUIRE_DOCKER"
PROBE_TIMEOUT_S = 5.0
BUILD_TIMEOUT_S = 120.0

_BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
_SHA_LABEL = "org.abatch.test.busybox-sha256"


# --------------------------------------------------------------------------- engine probe


async def _probe_engine() -> None:
    async with aiodocker.Docker() as docker:
        await docker.version()


@functools.cache
def _probe() -> str | None:
    """Return None when an engine answers, else a short reason. Cached for the session."""

    def run() -> None:
        asyncio.run(asyncio.wait_for(_probe_engine(), PROBE_TIMEOUT_S))

    # A thread of its own, so this works even when called while an event loop is running.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(run).result(timeout=PROBE_TIMEOUT_S + 5)
        except Exception as exc:  # any failure means "no usable engine"
            return f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return None


def docker_available() -> bool:
    """True if a Docker engine answers within a few seconds (probed once, then cached)."""
    return _probe() is None


def docker_required() -> bool:
    """True when ``ABATCH_REQUIRE_DOCKER=1``: missing Docker is a failure, not a skip."""
    return os.environ.get(REQUIRE_DOCKER_ENV, "") == "1"


def require_docker() -> None:
    """Skip the current test without a Docker engine (fail it if ABATCH_REQUIRE_DOCKER=1)."""
    reason = _probe()
    if reason is None:
        return
    if docker_required():
        pytest.fail(
            f"{REQUIRE_DOCKER_ENV}=1 but no Docker engine answers ({reason})", pytrace=False
        )
    pytest.skip("no Docker engine")


# --------------------------------------------------------------------------- busybox image


def _is_static_elf(path: Path) -> bool:
    """True for an ELF executable with no program interpreter (PT_INTERP), i.e. static."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if data[:4] != b"\x7fELF":
        return False
    is64 = data[4] == 2
    endian = "<" if data[5] == 1 else ">"
    if is64:
        (phoff,) = struct.unpack_from(endian + "Q", data, 0x20)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(endian + "I", data, 0x1C)
        phentsize, phnum = struct.unpack_from(endian + "HH", data, 0x2A)
    pt_interp = 3
    for i in range(phnum):
        (p_type,) = struct.unpack_from(endian + "I", data, phoff + i * phentsize)
        if p_type == pt_interp:
            return False
    return True


def find_static_busybox() -> Path:
    """Path of a statically linked busybox on this host (Debian package ``busybox-static``)."""
    candidates = [Path(p) for p in _BUSYBOX_CANDIDATES]
    found = shutil.which("busybox")
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and _is_static_elf(candidate.resolve()):
            return candidate.resolve()
    raise RuntimeError(
        "no statically linked busybox found (looked at "
        + ", ".join(str(c) for c in candidates)
        + "); install Debian's busybox-static"
    )


_DOCKERFILE = b"""\
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN ["/bin/busybox", "mkdir", "-p", "-m", "1777", "/tmp"]
ENV PATH=/bin
CMD ["/bin/sh"]
"""


def _build_context(busybox: bytes, sha256: str) -> io.BytesIO:
    dockerfile = _DOCKERFILE + f'LABEL {_SHA_LABEL}="{sha256}"\n'.encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content, mode in (
            ("Dockerfile", dockerfile, 0o644),
            ("busybox", busybox, 0o755),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mode = mode
            tar.addfile(info, io.BytesIO(content))
    buf.seek(0)
    return buf


async def _image_label(docker: aiodocker.Docker, tag: str) -> str | None:
    """The image's busybox-sha256 label ("" if unlabelled), or None if there is no image."""
    try:
        info: dict[str, Any] = await docker.images.inspect(tag)
    except aiodocker.DockerError as exc:
        if exc.status == 404:
            return None
        raise
    labels = (info.get("Config") or {}).get("Labels") or {}
    return str(labels.get(_SHA_LABEL, ""))


async def build_busybox_image(
    tag: str = BUSYBOX_IMAGE, *, docker: aiodocker.Docker | None = None
) -> str:
    """Build (once) a ``FROM scratch`` image holding static busybox; return its tag.

    Idempotent: when an image with this tag already exists and was built from the same busybox
    binary, nothing is done. Uses ``docker`` when given, else a client of its own.
    """
    if docker is None:
        async with aiodocker.Docker() as own:
            return await build_busybox_image(tag, docker=own)

    busybox = find_static_busybox().read_bytes()
    sha256 = hashlib.sha256(busybox).hexdigest()
    if await _image_label(docker, tag) == sha256:
        return tag

    context = _build_context(busybox, sha256)
    log = await asyncio.wait_for(
        docker.images.build(
            fileobj=context, encoding="application/x-tar", tag=tag, rm=True, forcerm=True
        ),
        BUILD_TIMEOUT_S,
    )
    errors = [entry for entry in log if isinstance(entry, dict) and "error" in entry]
    if errors or await _image_label(docker, tag) != sha256:
        lines = "".join(str(entry.get("stream") or entry.get("error") or entry) for entry in log)
        raise RuntimeError(f"building {tag} failed:\n{lines}")
    return tag


if __name__ == "__main__":
    # `python -m tests.docker_support`: build the image for configs/docker.toml and the bench.
    print(asyncio.run(build_busybox_image()))
