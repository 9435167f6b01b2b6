"""Fixtures for the DockerExecutor tests: the local busybox image, a DockerExecutor with a
runtime id of its own (its containers are removed after the test, whatever happened), and a
RunSpec maker. Requested only by tests marked `docker`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from abatch.executors.docker import DockerExecutor
from abatch.model.runspec import RunSpec
from tests.docker_support import build_busybox_image, require_docker
from tests.executors.docker_helpers import remove_all


@pytest.fixture(scope="module")
def image() -> str:
    require_docker()  # a module fixture runs before the autouse marker check
    return asyncio.run(build_busybox_image())


@pytest.fixture
def runtime_id() -> str:
    return f"abatch-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def executor(runtime_id: str) -> AsyncIterator[DockerExecutor]:
    ex = DockerExecutor(runtime_id=runtime_id)
    try:
        yield ex
    finally:
        await ex.close()
        await remove_all(runtime_id)


@pytest.fixture
def make(tmp_path: Path, image: str) -> Callable[..., RunSpec]:
    """make(*argv, key=..., env=..., image=..., memory_mib=..., vcpus=..., container=...)"""

    def make(*argv: str, **kw: Any) -> RunSpec:
        key = kw.pop("key", uuid.uuid4().hex)
        return RunSpec(
            key=key,
            argv=argv,
            env=kw.pop("env", {}),
            workdir=tmp_path / "work" / key,
            log_path=tmp_path / "logs" / key,
            image=kw.pop("image", image),
            memory_mib=kw.pop("memory_mib", 128),
            vcpus=kw.pop("vcpus", 1.0),
            container=kw.pop("container", {}),
            **kw,
        )

    return make
