"""Fixtures for the CLI tests: `spawn` starts `python -m abatch ...` and kills what is left."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .support import Abatch


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Abatch]]:
    started: list[Abatch] = []

    def start(*args: str, cwd: Path | None = None) -> Abatch:
        proc = Abatch(list(args), cwd or tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.kill()
