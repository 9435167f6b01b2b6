"""The `abatch` command line: parse arguments, run one command, turn errors into messages.

This is the only layer that prints. Importing it is cheap (argparse and this package only);
each command imports what it needs (config models, the store, the runtime) when it runs, so
`abatch --help` answers at once. Bad input of every kind ends here as one line per problem
on stderr and exit code 2, never a traceback; see `parser.EXIT_CODES`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from .common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_USAGE, CliError, leaf_errors
from .parser import build_parser

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


def _command(name: str) -> Command:
    if name == "run":
        from .run import cmd_run

        return cmd_run
    if name == "serve":
        from .serve import cmd_serve

        return cmd_serve
    if name == "tui":
        from .tui import cmd_tui

        return cmd_tui
    if name == "validate":
        from .validate import cmd_validate

        return cmd_validate
    if name in ("submit", "cancel", "terminate"):
        from . import jobctl

        return {
            "submit": jobctl.cmd_submit,
            "cancel": jobctl.cmd_cancel,
            "terminate": jobctl.cmd_terminate,
        }[name]
    if name in ("queues", "ce", "definitions", "instances", "reclaim"):
        from . import resources

        return {
            "queues": resources.cmd_queues,
            "ce": resources.cmd_ce,
            "definitions": resources.cmd_definitions,
            "instances": resources.cmd_instances,
            "reclaim": resources.cmd_reclaim,
        }[name]
    from . import read

    commands: dict[str, Command] = {
        "jobs": read.cmd_jobs,
        "describe": read.cmd_describe,
        "logs": read.cmd_logs,
    }
    return commands[name]


def main(argv: Sequence[str] | None = None) -> int:
    """Run `abatch` with `argv` (default: sys.argv[1:]); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error (already printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    prog = f"abatch {args.command}"
    try:
        return _command(args.command)(args)
    except KeyboardInterrupt:
        # Only before the signal receiver is installed or after it is removed.
        print(f"\n{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Output piped into a command that stopped reading (`| head`): not an error of ours.
        _silence_stdout()
        return EXIT_FAILED
    except BaseException as exc:
        messages = error_messages(exc, prog)
        if messages is None:
            raise
        for line in messages:
            print(line, file=sys.stderr)
        return EXIT_USAGE


def error_messages(exc: BaseException, prog: str = "abatch") -> list[str] | None:
    """The lines to print for an expected error (possibly inside exception groups), or None
    for a bug, which keeps its traceback. Config problems print as themselves (they name
    their file and line); other messages are prefixed with `prog`."""
    from abatch.model.errors import AbatchError

    leaves = leaf_errors(exc)
    if not leaves or not all(isinstance(e, CliError | AbatchError) for e in leaves):
        return None
    lines: list[str] = []
    for err in leaves:
        problems = getattr(err, "problems", None)
        if problems is not None:  # ConfigError: every problem, then a count
            lines += [str(p) for p in problems]
            lines.append(f"the config has {len(problems)} problem(s); nothing was applied")
        else:
            text = [line for line in str(err).splitlines() if line.strip()] or [repr(err)]
            lines += [f"{prog}: {line}" for line in text]
    return lines


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
