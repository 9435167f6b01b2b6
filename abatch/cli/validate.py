"""`abatch validate CONFIG...`: every problem in each config, one per line, or "valid" with
counts.

Exit 0 when every config is valid, 1 when one has problems (the check itself worked), 2 for usage
errors. Problems go to stderr, one per line, as `file:line: dotted.key: what (did you mean)`.
A valid config whose compute environments on this machine promise more CPUs, memory or GPUs
than it has gets `warning: …` lines on stderr (scheduler.hostsafety); it is still valid.
"""

from __future__ import annotations

import argparse
import sys

from .common import EXIT_FAILED, EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def cmd_validate(args: argparse.Namespace) -> int:
    codes = [_validate_one(path) for path in args.config]
    return EXIT_FAILED if EXIT_FAILED in codes else EXIT_OK


def _validate_one(path: str) -> int:
    from abatch.config import ConfigError, load_config

    try:
        config = load_config(path)
    except ConfigError as err:
        for problem in err.problems:
            print(str(problem), file=sys.stderr)
        print(f"{path} is not valid: {_count(len(err.problems), 'problem')}", file=sys.stderr)
        return EXIT_FAILED
    parts = [
        _count(len(config.compute_environments), "compute environment"),
        _count(len(config.job_queues), "job queue"),
        _count(len(config.job_definitions), "job definition"),
        _count(len(config.jobs), "job"),
    ]
    if config.schedules:
        parts.append(_count(len(config.schedules), "schedule"))
    print(f"{path} is valid: {', '.join(parts)}")
    import anyio

    from abatch.runtime.host import warnings_for

    for line in anyio.run(warnings_for, config.compute_environments):
        print(f"warning: {line}", file=sys.stderr)
    return EXIT_OK
