"""The argument parser of the `abatch` command: subcommands, options and help texts.

Only argparse is imported here, so that `abatch --help` and a mistyped option answer at once;
the command modules (and pydantic, aiosqlite, the runtime) are imported when a command runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from abatch import __version__

EXIT_CODES = """\
exit codes:
  0    success (`run`: every job it submitted SUCCEEDED; `validate`: the config is valid)
  1    `run`: at least one job FAILED; `validate`: the config has problems;
       `logs`: the job has no log yet
  2    bad input: wrong arguments, a config with problems (`run`, `serve`), a state
       directory that cannot be used or is in use, an unknown job id or attempt, a
       request the runtime refused (its message), an API port that cannot be used;
       `submit`, `cancel`, `terminate`, `queues`, `ce`, `definitions`, `instances`,
       `reclaim`: no runtime is running on the state directory
  130  interrupted (Ctrl-C or SIGTERM during `run`, whose unfinished jobs are kept;
       Ctrl-C during `logs -f`)
"""

STATE_DIR_HELP = (
    "state directory (SQLite database and job logs); default: $ABATCH_STATE_DIR, else ./.abatch"
)
CLIENT_STATE_DIR_HELP = (
    "state directory of the runtime to talk to (found through its api.json); default: "
    "$ABATCH_STATE_DIR, else ./.abatch"
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

Ctrl-C (or SIGTERM) stops the runtime cleanly: nothing new starts, running attempts the
next runtime can adopt are left running, the others get SIGTERM (SIGKILL after
kill_grace_seconds) and are requeued; with --drain it waits for running attempts to finish
instead. The unfinished jobs run when a runtime starts again on the same state directory
(`abatch serve`). A second Ctrl-C stops at once.

With --keep-running it also serves the API (as `abatch serve` does) from the moment its
jobs are submitted, and after the summary it keeps the runtime and the API running until
Ctrl-C or SIGTERM; the exit code still says whether its own jobs succeeded.
"""

TUI_DESCRIPTION = """\
Start the runtime on the state directory and browse queues, compute environments, jobs and
logs; act on them (cancel, terminate, re-submit, submit, enable/disable). CONFIG's resources
and schedules are applied (not its jobs). Press ? for every key. The API is served as by
`abatch serve` (--host, --port, --auth).

When a runtime already serves the state directory (`abatch serve`, `abatch run
--keep-running`; found through <state dir>/api.json), the UI attaches to it over its API
and starts none: the same views and actions, changes shown within a second or two.
--attach URL attaches to the runtime at URL (signing requests with the state directory's
key when it has one); --attach alone attaches or fails, never starting a runtime.
"""

SERVE_DESCRIPTION = """\
Run the runtime in the foreground until Ctrl-C or SIGTERM, printing one line per job state
change. With CONFIG, its compute environments, job queues and job definitions are applied
first, but its [[job]] entries are NOT submitted (only `abatch run` submits them). Jobs left
unfinished by an earlier runtime on the same state directory are resumed.

It serves the AWS Batch API (and the CloudWatch Logs reads) on http://127.0.0.1:8765 by
default (--host, --port, or the config's [runtime] api_host / api_port), and writes the URL
to <state dir>/api.json, where `abatch submit`, `cancel`, `terminate`, `queues`, `ce`,
`definitions`, `instances` and `reclaim` find it. Any address other than a loopback one
needs authentication (--auth, or [runtime] api_auth = true): requests must then be signed
with the key in <state dir>/credentials.json.

Stopping is clean: nothing new starts, running attempts the next runtime can adopt are left
running, the others get SIGTERM (SIGKILL after kill_grace_seconds) and are requeued (with
--drain: every running attempt is waited for), everything is committed and the state
directory is released. A second Ctrl-C stops at once.
"""

SUBMIT_DESCRIPTION = """\
Submit a job to the runtime serving the state directory (through its API, as AWS SubmitJob)
and print its job id. Overrides replace what the job definition says; --parameter fills its
Ref:: placeholders. Everything after --command is the command, so put --command last:

  abatch submit -q high -d sh --parameter seconds=5 --command sleep Ref::seconds
  abatch submit -q high -d sh --array-size 3 --depends-on JOB_ID:N_TO_N
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
    run.add_argument(
        "--keep-running",
        action="store_true",
        help="serve the API too and, after the summary, keep running until Ctrl-C or SIGTERM",
    )
    _api_options(run, " (with --keep-running)")
    _drain_option(run)

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
    _api_options(serve, "")
    _drain_option(serve)

    tui = command(
        "tui",
        "the terminal UI, with the runtime in the same process or attached to one",
        TUI_DESCRIPTION,
    )
    tui.add_argument("config", nargs="?", metavar="CONFIG", help="TOML config to apply first")
    tui.add_argument("--state-dir", metavar="DIR", help=CONFIG_STATE_DIR_HELP)
    tui.add_argument(
        "--attach",
        nargs="?",
        const="",
        metavar="URL",
        help="attach to the runtime at URL (default: the one serving the state directory) "
        "instead of starting one",
    )
    _api_options(tui, "")

    validate = command(
        "validate",
        "check configs and report every problem in them",
        "Check each CONFIG and print every problem in it, one per line (file, line, dotted "
        "key, what is wrong), or say that it is valid. Exits 0 when all are valid, 1 when "
        "one has problems, 2 for usage errors.",
    )
    validate.add_argument("config", metavar="CONFIG", nargs="+", help="TOML config file(s)")

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
    logs.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="keep printing what the job writes until it has finished (across its retries "
        "unless --attempt is given); Ctrl-C stops",
    )
    logs.add_argument("--state-dir", metavar="DIR", help=STATE_DIR_HELP)
    _client_commands(command)
    return parser


def _drain_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--drain",
        action="store_true",
        help="on Ctrl-C or SIGTERM, start nothing new but wait for the running attempts to "
        "finish before stopping (a second Ctrl-C stops at once)",
    )


def _api_options(p: argparse.ArgumentParser, when: str) -> None:
    p.add_argument(
        "--host",
        metavar="H",
        help=f"address the API listens on{when}; default: [runtime] api_host, else 127.0.0.1",
    )
    p.add_argument(
        "--port",
        metavar="P",
        type=_port,
        help=f"port of the API{when}; 0 picks a free one; default: [runtime] api_port, else 8765",
    )
    p.add_argument(
        "--auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"require signed requests (SigV4, key in <state dir>/credentials.json){when}; "
        "needed for an address that is not loopback; default: [runtime] api_auth, else off",
    )


def _client_commands(command: Callable[..., argparse.ArgumentParser]) -> None:
    """The commands that talk to a running runtime through its API."""
    submit = command("submit", "submit a job to the running runtime", SUBMIT_DESCRIPTION)
    submit.add_argument("-q", "--queue", metavar="Q", required=True, help="job queue")
    submit.add_argument(
        "-d",
        "--definition",
        metavar="D",
        required=True,
        help="job definition: NAME (its latest active revision), NAME:REVISION or an ARN",
    )
    submit.add_argument("--name", metavar="N", help="job name (default: the job definition's name)")
    submit.add_argument(
        "-p",
        "--parameter",
        metavar="K=V",
        action="append",
        default=[],
        help="a parameter for Ref::K in the command (repeatable)",
    )
    command_group = submit.add_mutually_exclusive_group()
    command_group.add_argument(
        "--command",
        dest="command_words",  # `command` is the subcommand's name
        nargs=argparse.REMAINDER,
        metavar="ARG",
        help="override the command with everything that follows (put it last)",
    )
    command_group.add_argument(
        "--command-json",
        metavar="JSON",
        help='override the command with a JSON list of strings: \'["sh", "-c", "echo hi"]\'',
    )
    submit.add_argument(
        "-e",
        "--env",
        metavar="K=V",
        action="append",
        default=[],
        help="set an environment variable (repeatable)",
    )
    submit.add_argument("--vcpus", metavar="N", help="vCPUs (overrides the definition)")
    submit.add_argument(
        "--memory", metavar="MIB", type=_positive_int, help="memory in MiB (overrides)"
    )
    submit.add_argument("--gpus", metavar="N", type=_positive_int, help="GPUs (overrides)")
    submit.add_argument(
        "--array-size", metavar="N", type=_positive_int, help="an array job of N children"
    )
    submit.add_argument(
        "--depends-on",
        metavar="DEP",
        action="append",
        default=[],
        help="JOB_ID: start after that job has succeeded; JOB_ID:N_TO_N: child i of this "
        "array after child i of that one; SEQUENTIAL: this array's children one after "
        "another (repeatable)",
    )
    submit.add_argument(
        "--retry-attempts", metavar="N", type=_positive_int, help="attempts at most (1-10)"
    )
    submit.add_argument(
        "--timeout", metavar="SECONDS", type=_positive_int, help="stop an attempt after SECONDS"
    )
    submit.add_argument(
        "--share-identifier", metavar="ID", help="fair-share identifier (fair-share queues)"
    )
    submit.add_argument(
        "--json", action="store_true", help="print the SubmitJob answer (jobArn, jobName, jobId)"
    )
    submit.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)

    for name, what in (
        ("cancel", "cancel a job that has not started yet (SUBMITTED, PENDING, RUNNABLE)"),
        ("terminate", "stop a job whatever its state (a running attempt gets SIGTERM)"),
    ):
        sub = command(name, what)
        sub.add_argument("job_id", metavar="JOB_ID")
        sub.add_argument(
            "--reason",
            metavar="R",
            default=f"{'Cancelled' if name == 'cancel' else 'Terminated'} by abatch CLI",
            help="the status reason to record (default: %(default)s)",
        )
        sub.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)

    queues = command("queues", "list the job queues, with their jobs per status")
    queues.add_argument(
        "--json", action="store_true", help="print DescribeJobQueues' answer, with jobCounts"
    )
    queues.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)

    ce = command("ce", "list the compute environments")
    ce.add_argument("--json", action="store_true", help="print DescribeComputeEnvironments' answer")
    ce.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)

    instances = command(
        "instances", "list the instances of compute environments and the jobs on them"
    )
    instances.add_argument("--ce", metavar="NAME", help="only this compute environment's")
    instances.add_argument(
        "--json", action="store_true", help="print ListInstances' answer (a local operation)"
    )
    instances.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)

    reclaim = command(
        "reclaim",
        "reclaim a Spot instance now: its jobs end with 'Host EC2 (instance ...) terminated.'",
    )
    reclaim.add_argument("instance_id", metavar="INSTANCE_ID")
    reclaim.add_argument("--json", action="store_true", help="print ReclaimInstance's answer")
    reclaim.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)

    definitions = command("definitions", "list the active job definition revisions")
    definitions.add_argument("--name", metavar="N", help="only the revisions of definition N")
    definitions.add_argument(
        "--all", action="store_true", help="also the INACTIVE (deregistered) revisions"
    )
    definitions.add_argument(
        "--json", action="store_true", help="print DescribeJobDefinitions' answer"
    )
    definitions.add_argument("--state-dir", metavar="DIR", help=CLIENT_STATE_DIR_HELP)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, not {value}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value
