"""Smoke test for the Docker test setup: local busybox image + a container via aiodocker."""

from __future__ import annotations

import uuid

import aiodocker
import pytest

from tests.docker_support import build_busybox_image


@pytest.mark.docker
async def test_busybox_container_echoes_hello() -> None:
    async with aiodocker.Docker() as docker:
        image = await build_busybox_image(docker=docker)
        name = f"abatch-test-smoke-{uuid.uuid4().hex[:12]}"
        container = await docker.containers.create(
            config={"Image": image, "Cmd": ["echo", "hello"], "Labels": {"abatch.test": "1"}},
            name=name,
        )
        try:
            await container.start()
            result = await container.wait(timeout=60)
            assert result["StatusCode"] == 0, result
            logs = await container.log(stdout=True, stderr=True)
            assert "".join(logs) == "hello\n"
        finally:
            await container.delete(force=True)

        with pytest.raises(aiodocker.DockerError) as missing:
            await docker.containers.get(name)
        assert missing.value.status == 404
