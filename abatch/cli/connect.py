"""Finding the runtime that serves a state directory, for the commands that talk to its API.

A serving runtime writes `<state dir>/api.json` (its URL, pid, whether requests must be
signed) and removes it when it stops; `ApiClient.for_state_dir` reads it. When there is none,
the message says whether no runtime runs at all or one runs without an API (`abatch run`
without --keep-running), found from the pid in the state directory's lock file, read
without taking the lock.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .common import CliError

if TYPE_CHECKING:
    from abatch.client import ApiClient


def connect(state_dir: Path) -> ApiClient:
    """A client of the runtime serving `state_dir`; CliError (exit 2) when none does."""
    from abatch.client import ApiClient

    client = ApiClient.for_state_dir(state_dir)
    if client is not None:
        return client
    pid = runtime_pid(state_dir)
    if pid is not None:
        raise CliError(
            f"the abatch runtime with pid {pid} on {state_dir} serves no API (`abatch run` "
            "serves one only with --keep-running); wait for it to finish, or use `abatch "
            "serve` or `abatch run --keep-running`"
        )
    raise CliError(f"no abatch runtime is running on {state_dir}; start one with `abatch serve`")


def runtime_pid(state_dir: Path) -> int | None:
    """The pid of a live runtime holding `state_dir`, from its lock file, or None."""
    from abatch.store.lock import read_holder

    pid = read_holder(state_dir)
    if pid is None:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None  # a runtime killed with -9 leaves its pid behind
    except PermissionError:
        pass  # alive, another user's
    return pid
