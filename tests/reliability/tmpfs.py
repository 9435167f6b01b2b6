"""A small tmpfs mounted for one test (root only; the test is skipped where mounting is not
permitted), and a way to fill it up."""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def mounted_tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    try:
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        pytest.skip(f"cannot run mount: {exc}")
    if proc.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {proc.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(directory: Path, name: str = "filler") -> Path:
    """Write zeros into `directory/name` until the filesystem is full; return the file."""
    path = directory / name
    chunk = b"\0" * 65536
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                written = f.write(chunk)
                if not written:
                    break
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                if len(chunk) == 1:
                    break
                chunk = chunk[: len(chunk) // 2]
    with contextlib.suppress(OSError):
        os.sync()
    return path
