"""This machine's GPUs, as `nvidia-smi` lists them.

`detect_gpus()` runs `nvidia-smi --query-gpu=index,uuid,name --format=csv,noheader` once and
returns the devices it lists, by index (the ids jobs get in CUDA_VISIBLE_DEVICES /
NVIDIA_VISIBLE_DEVICES, with CUDA_DEVICE_ORDER=PCI_BUS_ID so CUDA numbers them as
nvidia-smi does). No `nvidia-smi` on PATH means no GPUs; one that fails, hangs past the
timeout or prints something that is not that CSV also means no GPUs, with a note saying why
(shown as a warning by `abatch validate` and at start), never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from dataclasses import dataclass

QUERY = ("--query-gpu=index,uuid,name", "--format=csv,noheader")
DETECT_TIMEOUT_S = 10.0


@dataclass(slots=True, frozen=True)
class GpuDevice:
    index: str
    uuid: str
    name: str


@dataclass(slots=True, frozen=True)
class GpuDetection:
    devices: tuple[GpuDevice, ...] = ()
    note: str | None = None  # why nvidia-smi gave nothing usable, when it was there

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(d.index for d in self.devices)


def parse_gpu_csv(text: str) -> tuple[GpuDevice, ...]:
    """The devices in nvidia-smi's `index, uuid, name` CSV; ValueError on anything else."""
    devices: list[GpuDevice] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",", 2)]
        if len(parts) != 3 or not parts[0].isdigit() or not parts[1]:
            raise ValueError(f"line {n} is not 'index, uuid, name': {line[:80]!r}")
        devices.append(GpuDevice(parts[0], parts[1], parts[2]))
    if len({d.index for d in devices}) != len(devices):
        raise ValueError("the same GPU index is listed twice")
    return tuple(devices)


async def detect_gpus(timeout: float = DETECT_TIMEOUT_S) -> GpuDetection:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return GpuDetection()
    try:
        proc = await asyncio.create_subprocess_exec(
            exe,
            *QUERY,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        return GpuDetection(note=f"nvidia-smi could not be run: {exc.strerror or exc}")
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return GpuDetection(note=f"nvidia-smi did not answer within {timeout:g} s")
    if proc.returncode != 0:
        first = (err or out).decode(errors="replace").strip().splitlines()
        why = first[0][:200] if first else "no message"
        return GpuDetection(note=f"nvidia-smi failed (exit {proc.returncode}): {why}")
    try:
        return GpuDetection(parse_gpu_csv(out.decode(errors="replace")))
    except ValueError as exc:
        return GpuDetection(note=f"nvidia-smi output not understood: {exc}")
