"""Static checks as tests: ruff, mypy (strict, config in pyproject) and import-linter contracts.

They run the tools installed next to the current interpreter (the venv's bin dir), from the
repository root. Deselect them for a quick run with ``pytest -m "not quality"``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.quality, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
TOOL_TIMEOUT_S = 840


def run_tool(tool: str, *args: str) -> None:
    exe = BIN / tool
    assert exe.exists(), (
        f"{tool} is not installed next to {sys.executable}: pip install -e '.[test]'"
    )
    proc = subprocess.run(
        [str(exe), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        print(proc.stdout + proc.stderr)  # shown under "Captured stdout call"
        pytest.fail(
            f"`{' '.join([tool, *args])}` exited {proc.returncode}; its output is above",
            pytrace=False,
        )


def test_ruff() -> None:
    paths = [p for p in ("abatch", "tests", "bench") if (ROOT / p).exists()]
    run_tool("ruff", "check", *paths)


def test_mypy() -> None:
    run_tool("mypy")  # packages and strictness come from [tool.mypy] in pyproject.toml


def test_import_contracts() -> None:
    run_tool("lint-imports")  # contracts come from [tool.importlinter] in pyproject.toml
