"""What the commands share: exit codes, the state directory rule, config loading, signals.

Rules: bad input is raised as `CliError` (or the model's `AbatchError`s) and turned into
a message by `abatch.cli.main`, never printed here. This module imports nothing heavy at
import time: `abatch.cli` imports it before knowing which command runs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from abatch.config import LoadedConfig

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
STATE_DIR_ENV = "ABATCH_STATE_DIR"


class CliError(Exception):
    """Bad input found by the CLI itself; `main` prints the message and exits with `code`."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def resolve_state_dir(option: str | None, from_config: Path | None = None) -> Path:
    """--state-dir wins, then the config's [runtime] state_dir, then $ABATCH_STATE_DIR,
    then ./.abatch; always made absolute against the current directory."""
    if option:
        return Path(os.path.abspath(option))
    if from_config is not None:
        return from_config
    return Path(os.path.abspath(os.environ.get(STATE_DIR_ENV) or ".abatch"))


def load_config_file(path: str | Path) -> LoadedConfig:
    """Load a config; `ConfigError` (every problem) propagates to `main`."""
    from abatch.config import load_config

    return load_config(path)


def local_time(ms: int | None, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """Epoch milliseconds as local time, or "-"."""
    if ms is None:
        return "-"
    return time.strftime(fmt, time.localtime(ms / 1000))


def seconds_between(start_ms: int | None, stop_ms: int | None) -> float | None:
    if start_ms is None or stop_ms is None:
        return None
    return max(stop_ms - start_ms, 0) / 1000


def leaf_errors(exc: BaseException) -> list[BaseException]:
    """The exceptions inside (nested) exception groups, as task groups wrap them."""
    if isinstance(exc, BaseExceptionGroup):
        out: list[BaseException] = []
        for inner in exc.exceptions:
            out.extend(leaf_errors(inner))
        return out
    return [exc]
