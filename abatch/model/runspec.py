"""What an executor runs: a fully resolved attempt, with no AWS or queue concepts left in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(slots=True, frozen=True)
class RunSpec:
    """One attempt, resolved.

    `key` is unique per attempt and safe as a file or container name component.
    `env` is the complete environment for the job (user variables plus AWS_BATCH_*); the
    process executor adds nothing from the runtime's own environment except PATH, HOME,
    LANG and TZ when the job does not set them.
    `container` carries the effective AWS containerProperties for executors that can use
    more of them (Docker); the process executor ignores it, and `network` too (its processes
    share the host's network).
    """

    key: str
    argv: tuple[str, ...]
    env: dict[str, str]
    workdir: Path
    log_path: Path
    vcpus: float = 1.0
    memory_mib: int = 2048
    gpu_ids: tuple[str, ...] = ()
    image: str | None = None
    container: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    network: str | None = None  # a network to join (Docker: the bridge of a multi-node job)
    # The attempt as the runtime records it (job id, number, compute environment, log stream,
    # ...): an executor that keeps it with the attempt (the process supervisor's journal) lets
    # a runtime that died before storing the attempt take it back (RecoveryMixin).
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class ExitResult:
    """How an attempt ended.

    `exit_code` follows the shell convention: 128+N when killed by signal N.
    `reason` is the container-level reason AWS would report (e.g.
    `OutOfMemoryError: Container killed due to memory usage`), or None for a plain exit.
    `stopped_at` (epoch milliseconds) is when it ended, where the executor knows better than
    the moment it reports (an exit recorded while no runtime was watching); not compared.
    """

    exit_code: int | None
    reason: str | None = None
    signal: int | None = None
    stopped_at: int | None = field(default=None, compare=False)
