"""What a job runs: its command exactly as given, never through a shell it did not ask for;
and a container with no more privilege than its definition asks for.

Real processes and real Docker containers (the busybox test image), through the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiodocker
import pytest

from abatch.executors.docker_config import create_body
from abatch.model.enums import JobStatus
from abatch.model.runspec import RunSpec
from tests.docker_support import build_busybox_image
from tests.executors.docker_helpers import remove_all
from tests.runtime.helpers import ce, jd, jq, req, runtime, wait_status

IMAGE = "abatch-test-busybox:latest"


def hostile_args(marker: Path) -> list[str]:
    """Arguments a shell would act on: each would create `marker` (or a sibling) if a shell
    read the command line."""
    return [
        f"; touch {marker}",
        f"$(touch {marker}-subst)",
        f"`touch {marker}-backtick`",
        f"&& touch {marker}-and",
        f"| touch {marker}-pipe",
        f"> {marker}-redirect",
        "$HOME",
        "*",
    ]


def created(marker: Path) -> list[Path]:
    return sorted(marker.parent.glob(marker.name + "*"))


async def test_process_job_command_runs_without_a_shell(tmp_path: Path) -> None:
    """`echo` gets each hostile argument as one literal argv element, from the definition, an
    override and a `Ref::` parameter alike; nothing is created and nothing is expanded."""
    marker = tmp_path / "pwned"
    args = hostile_args(marker)
    async with runtime(tmp_path) as rt:
        await rt.register_job_definition(
            jd(
                "echoer",
                ["echo", *args, "Ref::p"],
                parameters={"p": "$(touch " + str(marker) + ")"},
            )
        )
        from_definition = await rt.submit(req("a", definition="echoer"))
        overridden = await rt.submit(
            req(
                "b",
                definition="echoer",
                containerOverrides={"command": ["echo", *args, "Ref::p"]},
                parameters={"p": f"; touch {marker}-param"},
            )
        )
        await wait_status(rt, [from_definition, overridden], timeout=60)
        for job, param in (
            (from_definition, f"$(touch {marker})"),
            (overridden, f"; touch {marker}-param"),
        ):
            assert job.status is JobStatus.SUCCEEDED, job.status_reason
            stream = job.attempts[-1].log_stream
            assert stream is not None
            text = rt.log_path(stream).read_text()
            assert text == " ".join([*args, param]) + "\n"
    assert created(marker) == []


async def test_a_command_that_asks_for_a_shell_gets_one(tmp_path: Path) -> None:
    """The other half of the rule: `sh -c` is the job's choice, and then the shell runs."""
    marker = tmp_path / "made-by-sh"
    async with runtime(tmp_path) as rt:
        await rt.register_job_definition(jd("sh", ["sh", "-c", f"touch {marker}"]))
        job = await rt.submit(req("a", definition="sh"))
        await wait_status(rt, [job], timeout=60)
        assert job.status is JobStatus.SUCCEEDED, job.status_reason
    assert marker.exists()


def spec(container: dict[str, Any]) -> RunSpec:
    return RunSpec(
        key="k",
        argv=("true",),
        env={},
        workdir=Path("/tmp"),
        log_path=Path("/tmp/log"),
        image=IMAGE,
        container=container,
    )


PRIVILEGE_KEYS = (
    "CapAdd",
    "SecurityOpt",
    "PidMode",
    "IpcMode",
    "UsernsMode",
    "CgroupnsMode",
    "Devices",
    "Binds",
    "DeviceRequests",
    "Mounts",
    "VolumesFrom",
)


def test_docker_create_body_is_unprivileged_by_default() -> None:
    host = create_body(spec({"image": IMAGE}), "rt")["HostConfig"]
    assert host["Privileged"] is False
    assert not any(key in host for key in PRIVILEGE_KEYS), host
    assert "NetworkMode" not in host  # Docker's default bridge, never the host network
    # What a definition may say that is not `privileged` grants no privilege either.
    asked = create_body(
        spec({"image": IMAGE, "privileged": False, "readonlyRootFilesystem": True, "user": "1"}),
        "rt",
    )
    assert asked["HostConfig"]["Privileged"] is False
    assert not any(key in asked["HostConfig"] for key in ("CapAdd", "SecurityOpt"))
    # Only a definition that asks is privileged, and only with exactly `true`.
    assert create_body(spec({"privileged": True}), "rt")["HostConfig"]["Privileged"] is True
    for truthy in ("true", 1, "yes", [True]):
        assert create_body(spec({"privileged": truthy}), "rt")["HostConfig"]["Privileged"] is False


@pytest.mark.docker
async def test_docker_job_command_and_privileges_in_a_real_container(tmp_path: Path) -> None:
    """In a real container: the hostile arguments reach `echo` literally (the image's shell
    never sees them), and the container as created is unprivileged, with no added
    capability, no security option changed, and neither the host's network nor its PIDs.
    (Privileged = true when a definition asks is the create-body test above: this CI's
    engine runs unprivileged itself and cannot start a privileged container.)"""
    await build_busybox_image()
    args = hostile_args(Path("/tmp/pwned"))
    async with runtime(tmp_path, setup=False) as rt:
        try:
            await rt.put_compute_environment(ce("dock", executor="docker", keep_containers=True))
            await rt.put_job_queue(jq("q", 1, ["dock"]))
            plain = jd("plain", ["echo", *args])
            assert plain.container_properties is not None
            plain.container_properties.image = IMAGE
            await rt.register_job_definition(plain)
            job = await rt.submit(req("a", definition="plain"))
            await wait_status(rt, [job], timeout=120)
            assert job.status is JobStatus.SUCCEEDED, job.status_reason
            stream = job.attempts[-1].log_stream
            assert stream is not None
            assert " ".join(args) in rt.log_path(stream).read_text()
            async with aiodocker.Docker() as docker:
                (container,) = await docker.containers.list(
                    all=True, filters={"label": [f"abatch.runtime={rt.runtime_id}"]}
                )
                info = await container.show()
            assert info["Config"]["Cmd"] == ["echo", *args]
            host = info["HostConfig"]
            assert host["Privileged"] is False
            assert not host.get("CapAdd")
            assert not host.get("SecurityOpt")
            assert host.get("NetworkMode") in ("default", "bridge")
            assert host.get("PidMode") in ("", None)
            assert not host.get("Binds")
            assert not host.get("Devices")
        finally:
            await remove_all(rt.runtime_id)
