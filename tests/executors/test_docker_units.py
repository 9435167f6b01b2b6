"""The Docker executor's pure parts, without an engine: the create body built from a RunSpec,
the log file's marking and timestamps, and what counts as an unreachable engine.

Not marked `docker`: nothing here talks to an engine, so these run everywhere."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import aiodocker
import aiohttp
import pytest

from abatch.executors.base import StartError
from abatch.executors.docker_config import create_body
from abatch.executors.docker_engine import SshTunnel, unreachable_why
from abatch.executors.docker_logs import LogWriter, since_after, since_of_file, split_timestamp
from abatch.model.runspec import RunSpec

MIB = 1024 * 1024


def body(tmp_path: Path, container: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
    spec = RunSpec(
        key="k1",
        argv=kw.pop("argv", ("echo", "hi")),
        env=kw.pop("env", {"A": "1"}),
        workdir=tmp_path,
        log_path=tmp_path / "log",
        image=kw.pop("image", "img:1"),
        container=container or {},
        labels={"abatch.job-id": "j", "abatch.runtime": "from-spec"},
        **kw,
    )
    return create_body(spec, "rt")


def test_create_body_defaults(tmp_path: Path) -> None:
    b = body(tmp_path, vcpus=1.5, memory_mib=256)
    assert b["Image"] == "img:1" and b["Cmd"] == ["echo", "hi"] and b["Env"] == ["A=1"]
    assert "Entrypoint" not in b and "WorkingDir" not in b and "User" not in b
    assert b["Labels"] == {
        "abatch.job-id": "j",
        "abatch.key": "k1",
        "abatch.runtime": "rt",  # the executor's id wins over the spec's label
        "abatch.log-path": str(tmp_path / "log"),
    }
    assert b["HostConfig"] == {
        "NanoCpus": 1_500_000_000,
        "Memory": 256 * MIB,
        "Privileged": False,
        "ReadonlyRootfs": False,
    }


def test_empty_argv_keeps_the_image_cmd(tmp_path: Path) -> None:
    assert "Cmd" not in body(tmp_path, argv=())


def test_vcpus_capped(tmp_path: Path) -> None:
    spec = RunSpec(
        key="k", argv=(), env={}, workdir=tmp_path, log_path=tmp_path, image="i", vcpus=8
    )
    assert create_body(spec, "rt", max_vcpus=2)["HostConfig"]["NanoCpus"] == 2_000_000_000


def test_every_container_property(tmp_path: Path) -> None:
    b = body(
        tmp_path,
        {
            "user": "1000:1000",
            "privileged": True,
            "readonlyRootFilesystem": True,
            "ulimits": [{"name": "nofile", "softLimit": 10, "hardLimit": 20}],
            "volumes": [{"name": "h", "host": {"sourcePath": "/srv/h"}}, {"name": "v"}],
            "mountPoints": [
                {"sourceVolume": "h", "containerPath": "/h", "readOnly": True},
                {"sourceVolume": "v", "containerPath": "/v"},
            ],
            "linuxParameters": {
                "devices": [
                    {"hostPath": "/dev/fuse", "permissions": ["READ", "write"]},
                    {"hostPath": "/dev/null", "containerPath": "/dev/n"},
                ],
                "initProcessEnabled": True,
                "sharedMemorySize": 64,
                "tmpfs": [{"containerPath": "/t", "size": 10, "mountOptions": ["noexec", "rw"]}],
                "maxSwap": 100,
                "swappiness": 10,
            },
        },
        memory_mib=200,
        gpu_ids=("0", "3"),
    )
    assert b["User"] == "1000:1000"
    assert b["HostConfig"] == {
        "NanoCpus": 1_000_000_000,
        "Memory": 200 * MIB,
        "MemorySwap": 300 * MIB,
        "MemorySwappiness": 10,
        "Privileged": True,
        "ReadonlyRootfs": True,
        "DeviceRequests": [
            {"Driver": "nvidia", "DeviceIDs": ["0", "3"], "Capabilities": [["gpu"]]}
        ],
        "Binds": ["/srv/h:/h:ro", "abatch-v:/v:rw"],
        "Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20}],
        "Devices": [
            {"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rw"},
            {"PathOnHost": "/dev/null", "PathInContainer": "/dev/n", "CgroupPermissions": "rwm"},
        ],
        "Init": True,
        "ShmSize": 64 * MIB,
        "Tmpfs": {"/t": "size=10m,noexec,rw"},
    }


def test_swap(tmp_path: Path) -> None:
    none = body(tmp_path, {"linuxParameters": {"maxSwap": 0, "swappiness": 5}}, memory_mib=64)
    assert none["HostConfig"]["MemorySwap"] == 64 * MIB
    ignored = body(tmp_path, {"linuxParameters": {"swappiness": 5}})["HostConfig"]
    assert "MemorySwap" not in ignored and "MemorySwappiness" not in ignored


@pytest.mark.parametrize(
    ("container", "message"),
    [
        ({"mountPoints": [{"sourceVolume": "x", "containerPath": "/x"}]}, "is not among"),
        (
            {
                "volumes": [{"name": "x", "host": {"sourcePath": "rel/path"}}],
                "mountPoints": [{"sourceVolume": "x", "containerPath": "/x"}],
            },
            "must be an absolute path",
        ),
        (
            {
                "volumes": [{"name": "x", "host": {"sourcePath": "/a:b"}}],
                "mountPoints": [{"sourceVolume": "x", "containerPath": "/x"}],
            },
            "may not contain ':'",
        ),
        ({"ulimits": [{"name": "nofile"}]}, "needs name, softLimit and hardLimit"),
        ({"ulimits": "nofile"}, "ulimits must be a list of objects"),
        ({"linuxParameters": {"devices": [{"hostPath": "/d", "permissions": ["RUN"]}]}}, "READ"),
        ({"linuxParameters": {"tmpfs": [{"containerPath": "/t"}]}}, "needs a size"),
    ],
)
def test_bad_container_properties(tmp_path: Path, container: dict[str, Any], message: str) -> None:
    with pytest.raises(StartError) as err:
        body(tmp_path, container)
    assert err.value.reason.startswith("CannotCreateContainerError: ")
    assert message in err.value.reason


def test_no_image(tmp_path: Path) -> None:
    with pytest.raises(StartError, match="CannotStartContainerError: no image given"):
        body(tmp_path, image=None)


# ---------------------------------------------------------------- log file


def test_log_marks_stderr_and_splits_mixed_partial_lines(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path / "sub" / "log")
    writer.write(1, b"out 1\n")
    writer.write(2, b"err 1\nerr 2\n")
    writer.write(1, b"partial ")
    writer.write(1, b"still out\n")
    writer.write(2, b"half an err")
    writer.write(1, b"out 2\n")  # another stream mid-line: starts a new line
    writer.write(2, b"err 3 ")
    writer.write(2, b"continued\n")
    writer.write(3, b"engine trouble\n")
    writer.note("a note")
    writer.close()
    writer.write(1, b"ignored after close\n")
    assert (tmp_path / "sub" / "log").read_text() == (
        "out 1\n[stderr] err 1\n[stderr] err 2\npartial still out\n[stderr] half an err\n"
        "out 2\n[stderr] err 3 continued\n[abatch] engine trouble\n[abatch] a note\n"
    )


def test_log_mtime_is_the_engine_time_of_the_last_frame(tmp_path: Path) -> None:
    path = tmp_path / "log"
    assert since_of_file(path) is None
    writer = LogWriter(path)
    assert since_of_file(path) is None  # empty: everything
    writer.write(1, b"a\n", 1_700_000_000_123_456_789)
    writer.note("a note keeps the mtime")
    assert os.stat(path).st_mtime_ns == 1_700_000_000_123_456_789
    assert since_of_file(path) == "1700000000.123456790"
    writer.close()
    # Opened again after a restart, mid-line: the next stream's line starts afresh.
    with open(path, "ab") as f:
        f.write(b"cut")
    os.utime(path, ns=(5 * 10**9, 5 * 10**9))
    again = LogWriter(path)
    assert again.last_ns == 5 * 10**9
    again.write(2, b"e\n")
    again.close()
    assert path.read_text().endswith("cut\n[stderr] e\n")


def test_log_is_cut_at_the_cap_and_the_cut_marked(tmp_path: Path) -> None:
    path = tmp_path / "log"
    writer = LogWriter(path, cap=10)
    writer.write(1, b"12345\n", 1_000)
    writer.write(2, b"abcdef\n", 2_000)  # "[stderr] abcdef\n" does not fit: cut inside it
    writer.write(1, b"more\n", 3_000)
    writer.close()
    assert path.read_text() == (
        "12345\n[std\n"
        "[abatch] log cut at 10 bytes; the rest is dropped\n"
        "[abatch] log cut at 10 bytes; 17 more bytes dropped\n"
    )
    assert os.stat(path).st_mtime_ns == 3_000  # a follower after a restart skips what was cut
    exact = LogWriter(tmp_path / "exact", cap=4)
    exact.write(1, b"abcd")  # fills the cap to the byte, mid-line
    exact.write(1, b"ef\n")
    exact.close()
    assert (tmp_path / "exact").read_text() == (
        "abcd\n[abatch] log cut at 4 bytes; the rest is dropped\n"
        "[abatch] log cut at 4 bytes; 3 more bytes dropped\n"
    )
    again = LogWriter(path, cap=10)  # past the cap already: stays cut
    again.write(1, b"x\n")
    again.close()
    assert path.read_text().endswith("[abatch] log cut at 10 bytes; 2 more bytes dropped\n")


@pytest.mark.parametrize(
    ("frame", "ns", "rest"),
    [
        (b"2024-05-01T12:34:56.123456789Z hello\n", 1714566896_123456789, b"hello\n"),
        (b"2024-05-01T12:34:56.5Z x", 1714566896_500000000, b"x"),
        (b"2024-05-01T12:34:56Z x", 1714566896_000000000, b"x"),
        (b"2024-05-01T14:34:56.000000001+02:00 x", 1714566896_000000001, b"x"),
        (b"no timestamp here\n", None, b"no timestamp here\n"),
        (b"2024-13-01T12:34:56Z bad month", None, b"2024-13-01T12:34:56Z bad month"),
    ],
)
def test_split_timestamp(frame: bytes, ns: int | None, rest: bytes) -> None:
    assert split_timestamp(frame) == (ns, rest)


def test_since_after_carries() -> None:
    assert since_after(1_999_999_999) == "2.000000000"


# ---------------------------------------------------------------- engine


def test_unreachable_why() -> None:
    refused = aiodocker.DockerError(
        900,
        "Cannot connect to Docker Engine via unix:///x.sock [Cannot connect to unix socket"
        " /x.sock ssl:default [Connection refused]]",
    )
    assert unreachable_why(refused) == "cannot connect to unix socket /x.sock: Connection refused"
    assert unreachable_why(TimeoutError()) == "timed out"
    assert unreachable_why(aiohttp.ServerDisconnectedError()) is not None
    assert unreachable_why(aiodocker.DockerError(404, "No such image")) is None
    assert unreachable_why(ValueError("x")) is None


async def test_ssh_argv() -> None:
    tunnel = SshTunnel("ssh://alice@build.example:2200")
    try:
        argv = tunnel.argv()
        assert argv[-2:] == ["--", "alice@build.example"]
        assert argv[argv.index("-p") + 1] == "2200"
        assert argv[argv.index("-L") + 1] == f"{tunnel.socket}:/var/run/docker.sock"
    finally:
        await tunnel.close()
    assert not tunnel.socket.parent.exists()
    bare = SshTunnel("ssh://host/run/user/1000/docker.sock")
    try:
        argv = bare.argv()
        assert "-p" not in argv and argv[-1] == "host"
        assert argv[argv.index("-L") + 1].endswith(":/run/user/1000/docker.sock")
    finally:
        await bare.close()
