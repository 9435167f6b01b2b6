"""The argument parser of the `abatch` command: subcommands, options and help texts.

Only argparse is imported here, so that `abatch --help` and a mistyped option answer at once;
the command modules (and pydantic, aiosqlite, the runtime) are imported when a command runs.
"""

from __future__ import annotations

import argparse

from abatch import __version__

EXIT_CODES = """\
exit codes:
  0    success (`run`: every job it submitted SUCCEEDED; `validate`: the config is valid)
  1    `run`: at least one job FAILED; `validate`: the config has problems;
       `logs`: the job has no log yet
  2    bad input: wrong arguments, a config with problems (`run`, `serve`), a state
       directory that cannot be used or is in use, an unknown job id or attempt
  130  interrupted (Ctrl-C or SIGTERM during `run`; its unfinished jobs are kept)
"""

STATE_DIR_HELP = (
    "state directory (SQLite database and job logs); default: $ABATCH_STATE_DIR, else ./.abatch"
)
CONFIG_STATE_DIR_HELP = (
    "state directory (SQLite database and job logs); default: the config's [runtime] "
    "state_dir, else $ABATCH_STATE_DIR, else ./.abatch"
)

RUN_DESCRIPTION = """\
Apply CONFIG (compute environments, job queues, job definitions), submit its jobs, show
their progress, wait until every one of them has finished, print a summary, and exit 0
only if all succeeded. Without CONFIG it runs the built-in quickstart, with its state in
./.abatch of the current directory.

Ctrl-C (or SIGTERM) stops the runtime cleanly: running attempts are stopped and requeued,
and the unfinished jobs run when a runtime starts again on the same state directory
(`abatch serve`). A second Ctrl-C stops at once.
"""

SERVE_DESCRIPTION = """\
Run the runtime in the foreground until Ctrl-C or SIGTERM, printing one line per job state
change. With CONFIG, its compute environments, job queues and job definitions are applied
first, but its [[job]] entries are NOT submitted (only `abatch run` submits them). Jobs left
unfinished by an earlier runtime on the same state directory are resumed.

Stopping is clean: running attempts get SIGTERM (SIGKILL after kill_grace_seconds) and are
requeued, everything is committed and the state directory is released. A second Ctrl-C
stops at once.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="abatch",
        description="AWS Batch for one machine: queues, compute environments, job "
        "definitions and jobs run as local processes.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"abatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        name: str, help_text: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help_text,
            description=description or help_text,
            epilog=EXIT_CODES,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    run = command("run", "apply a config, run its jobs to completion, summarize", RUN_DESCRIPTION)
    run.add_argument("config", nargs="?", metavar="CONFIG", help="TOML config file")
    run.add_argument("--state-dir", metavar="DIR", help=CONFIG_STATE_DIR_HELP)
    run.add_argument(
        "--json",
        action="store_true",
        help="print the summary as JSON on stdout (and no progress there)",
    )

    serve = command(
        "serve", "run the runtime in the foreground until Ctrl-C or SIGTERM", SERVE_DESCRIPTION
    )
    serve.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG",
        help="TOML config whose resources are applied (its jobs are not submitted)",
    )
    serve.add_argument("--state-dir", metavar="DIR", help=CONFIG_STATE_DIR_HELP)

    validate = command(
        "validate",
        "check a config and report every problem in it",
        "Check CONFIG and print every problem in it, one per line (file, line, dotted key, "
        "what is wrong), or say that it is valid. Exits 0 when valid, 1 when it has "
        "problems, 2 for usage errors.",
    )
    validate.add_argument("config", metavar="CONFIG", help="TOML config file")

    jobs = command("jobs", "list jobs in the state directory (newest last)")
    jobs.add_argument("--queue", metavar="Q", help="only jobs of job queue Q")
    jobs.add_argument(
        "--status",
        metavar="S",
        help="only jobs in status S (SUBMITTED, PENDING, RUNNABLE, STARTING, "
        "RUNNING, SUCCEEDED, FAILED)",
    )
    jobs.add_argument(
        "--limit",
        metavar="N",
        type=_positive_int,
        default=1000,
        help="show at most the N latest jobs (default 1000)",
    )
    jobs.add_argument(
        "--json", action="store_true", help='print {"jobSummaryList": [...]} as AWS ListJobs does'
    )
    jobs.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)

    describe = command("describe", "show every field of a job, its attempts and history")
    describe.add_argument("job_id", metavar="JOB_ID")
    describe.add_argument(
        "--json",
        action="store_true",
        help="print the AWS JobDetail, with every attempt and the history",
    )
    describe.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)

    logs = command("logs", "print the log of a job's attempt (the latest by default)")
    logs.add_argument("job_id", metavar="JOB_ID")
    logs.add_argument(
        "--attempt",
        metavar="N",
        type=_positive_int,
        help="attempt number, from 1 (default: the latest)",
    )
    logs.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
