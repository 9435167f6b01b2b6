"""GPU detection with `nvidia-smi`: real subprocesses, with stand-in `nvidia-smi` scripts on
PATH (this machine has no GPU): one that lists devices, one that fails, one that prints
garbage, one that hangs, and none at all."""

from __future__ import annotations

from pathlib import Path

import pytest

from abatch.executors.gpus import GpuDevice, detect_gpus, parse_gpu_csv

LISTING = (
    "0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA A100-SXM4-80GB\n"
    "1, GPU-66666666-7777-8888-9999-000000000000, NVIDIA A100-SXM4-80GB\n"
)


def fake_smi(directory: Path, body: str) -> Path:
    """An executable `nvidia-smi` in `directory` running the shell `body`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "nvidia-smi"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


def only_on_path(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """PATH = `directory` plus the system directories (for `sh`), nothing else."""
    monkeypatch.setenv("PATH", f"{directory}:/usr/bin:/bin")


async def test_devices_listed_by_nvidia_smi(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    args = tmp_path / "args"
    fake_smi(tmp_path / "bin", f'echo "$@" > {args}\ncat <<EOF\n{LISTING}EOF')
    only_on_path(monkeypatch, tmp_path / "bin")
    found = await detect_gpus()
    assert found.note is None
    assert found.ids == ("0", "1")
    assert found.devices[1] == GpuDevice(
        "1", "GPU-66666666-7777-8888-9999-000000000000", "NVIDIA A100-SXM4-80GB"
    )
    assert args.read_text().split() == ["--query-gpu=index,uuid,name", "--format=csv,noheader"]


async def test_no_nvidia_smi_means_no_gpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    only_on_path(monkeypatch, tmp_path / "empty")
    found = await detect_gpus()
    assert found.devices == () and found.note is None


@pytest.mark.parametrize(
    ("body", "note"),
    [
        (
            "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA "
            "driver.' >&2; exit 9",
            "nvidia-smi failed (exit 9): NVIDIA-SMI has failed because it could not",
        ),
        ("echo 'this is not csv'", "nvidia-smi output not understood: line 1"),
        ("printf '0, GPU-a, x\\n0, GPU-b, y\\n'", "the same GPU index is listed twice"),
        ("exec sleep 30", "nvidia-smi did not answer within 0.5 s"),
    ],
)
async def test_a_broken_nvidia_smi_means_no_gpus_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str, note: str
) -> None:
    fake_smi(tmp_path / "bin", body)
    only_on_path(monkeypatch, tmp_path / "bin")
    # Only the hanging one needs a short limit; the others may be slow to start on a busy CI.
    found = await detect_gpus(timeout=0.5 if "sleep" in body else 10.0)
    assert found.devices == ()
    assert found.note is not None and note in found.note


def test_parse_gpu_csv() -> None:
    assert parse_gpu_csv("") == ()
    assert parse_gpu_csv("3, GPU-x, Tesla T4, rev b\n\n") == (
        GpuDevice("3", "GPU-x", "Tesla T4, rev b"),
    )
    with pytest.raises(ValueError, match="line 2"):
        parse_gpu_csv("0, GPU-x, T4\n[N/A], GPU-y, T4\n")
