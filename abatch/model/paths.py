"""Where an attempt's files live in the state directory.

Log files are named by the attempt's task id alone (`logs/<32 hex>`), whatever the AWS stream
name (`{definition}/default/{task id}`) says before it, so a stream name can never lead a
path outside the state directory, and the files can be made before the job is known.
"""

from __future__ import annotations

import re
from pathlib import Path

TASK_ID_RE = re.compile(r"^[0-9a-f]{32}$")


def task_id_of(stream: str) -> str:
    """The task id that ends a log stream name; ValueError for anything else."""
    task_id = stream.rsplit("/", 1)[-1]
    if not TASK_ID_RE.match(task_id):
        raise ValueError(f"{stream!r} is not an abatch log stream name")
    return task_id


def log_file(state_dir: Path, stream: str) -> Path:
    return state_dir / "logs" / task_id_of(stream)


def work_dir(state_dir: Path, task_id: str) -> Path:
    return state_dir / "work" / task_id
