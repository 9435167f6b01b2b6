"""`abatch run [CONFIG]`: apply a config, submit its jobs, show progress, wait, summarize.

Flow: load the config (every problem reported, nothing started), start the runtime with the
signal receiver already installed, apply, submit all jobs at once (all or none), count their
state changes from the event bus, and wait until every one has finished or a signal asks to
stop. Leaving the `open_runtime` block stops the runtime cleanly either way. The summary is
printed after the runtime has stopped, from the stored records and the log files.

With --keep-running the API is served too, from before the submission (so that `abatch
submit`, `cancel`, `logs -f` … work during the run), and once every job has finished the
summary is printed while the runtime goes on, printing a line per job state change, until a
signal stops it; the exit code is still the one of the run's own jobs.

Exit: 0 all succeeded, 1 some failed, 2 bad input, 130 interrupted (jobs kept for later).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from abatch.model.enums import ExecutorKind, JobStatus
from abatch.model.paths import task_id_of

from .common import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, CliError, resolve_state_dir
from .logfiles import tail_lines
from .progress import ProgressDisplay, Tracker
from .service import READY, ApiOptions, StatePrinter, api_options, api_text, start_api
from .signals import Stopper, stop_mode_for, stopping_text, wait_first
from .tables import duration_seconds, job_exit_code, summary_lines

if TYPE_CHECKING:
    from abatch.config import LoadedConfig, RuntimeSettings
    from abatch.model.job import JobRecord
    from abatch.runtime import Runtime


@dataclass
class Outcome:
    jobs: list[JobRecord]
    elapsed: float
    interrupted: str | None  # the signal's name
    unfinished: int
    reported: bool = False  # the summary was printed already (--keep-running)


class Output:
    """Where `run` writes: the summary on stdout; chatter and progress where they belong."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        # With --json stdout holds only the JSON; chatter goes to a terminal on stderr, if any.
        self.info: TextIO | None = sys.stdout
        self.progress_tty = sys.stdout.isatty()
        if as_json:
            self.info = sys.stderr if sys.stderr.isatty() else None
            self.progress_tty = True

    def say(self, text: str) -> None:
        if self.info is not None:
            self.info.write(text + "\n")
            self.info.flush()

    def display(self, tracker: Tracker, started: float) -> ProgressDisplay | None:
        if self.info is None:
            return None
        return ProgressDisplay(tracker, self.info, tty=self.progress_tty, started=started)


def cmd_run(args: argparse.Namespace) -> int:
    from abatch.config import embedded_quickstart_path

    from .common import load_config_file

    config_arg: str | None = args.config
    config = load_config_file(config_arg or embedded_quickstart_path())
    # The embedded quickstart lives in site-packages: its state goes to the current directory.
    state_dir = resolve_state_dir(args.state_dir, config.runtime.state_dir if config_arg else None)
    settings = config.runtime.model_copy(update={"state_dir": state_dir})
    if any(ce.executor is ExecutorKind.PROCESS for ce in config.compute_environments):
        from abatch.executors.process import prelaunch

        prelaunch(state_dir / "supervisor")  # starts while the runtime loads and applies
    api = None
    if args.keep_running:
        api = api_options(args, settings)
    elif args.host is not None or args.port is not None or args.auth is not None:
        raise CliError("--host, --port and --auth go with --keep-running")
    out = Output(args.json)
    out.say(f"config: {config_arg or 'built-in quickstart'}; state directory: {state_dir}")
    log_dir = state_dir / "logs"
    tail = settings.log_tail_lines

    def report(outcome: Outcome) -> None:
        if args.json:
            print(json.dumps(summary_json(outcome, log_dir, tail), indent=2), flush=True)
        else:
            print_summary(outcome, log_dir, tail)

    outcome = anyio.run(run_config, config, settings, out, api, report, args.drain)
    if not outcome.reported:
        report(outcome)
    if outcome.interrupted:
        again = ["abatch", "serve"]
        if config_arg:
            again.append(config_arg)
        if args.state_dir or not config_arg:
            again += ["--state-dir", str(state_dir)]
        print(
            f"interrupted by {outcome.interrupted}: {outcome.unfinished} of "
            f"{len(outcome.jobs)} jobs did not finish; they are kept in {state_dir} and run when "
            f"a runtime starts again on it: {shlex.join(again)}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    all_ok = all(j.status is JobStatus.SUCCEEDED for j in outcome.jobs)
    return EXIT_OK if all_ok else EXIT_FAILED


async def run_config(
    config: LoadedConfig,
    settings: RuntimeSettings,
    out: Output,
    api: ApiOptions | None = None,
    on_done: Callable[[Outcome], None] | None = None,
    drain: bool = False,
) -> Outcome:
    """Apply, submit, wait. With `api` (--keep-running) the API is served, and once the jobs
    have finished `on_done` gets the outcome while the runtime goes on until a signal."""
    from abatch.runtime import open_runtime

    started = time.monotonic()
    tracker = Tracker([])
    submitted: list[JobRecord] = []
    final: list[JobRecord] = []
    interrupted = False
    async with anyio.create_task_group() as tg:
        stopper = Stopper(tg)
        await tg.start(stopper.watch)
        try:
            async with open_runtime(settings) as rt:
                rt.stop_mode = stop_mode_for(drain)
                stopper.runtime = rt
                report = await rt.apply(config)
                out.say(describe_changes(report.changes))
                for line in rt.host_warnings():
                    print(f"warning: {line}", file=sys.stderr, flush=True)
                if stopper.requested.is_set():  # a signal while starting: submit nothing
                    return _outcome(submitted, tracker, started, stopper.signal_name)
                async with anyio.create_task_group() as api_tg:  # stops before the runtime
                    url = await start_api(api_tg, rt, api) if api is not None else None
                    if url is not None and api is not None:
                        out.say(api_text(url, api, rt))
                    submitted = await rt.submit_config_jobs(config.job_order())
                    # No await since the submission returned: no state change was missed.
                    tracker = Tracker(submitted)
                    rt.bus.subscribe(tracker.on_change)
                    out.say(f"submitted {len(submitted)} jobs")
                    display = out.display(tracker, started)
                    if display is not None:
                        tg.start_soon(display.run)
                    await wait_first(tracker.done.wait, stopper.requested.wait)
                    if display is not None:
                        display.stop()
                    if tracker.done.is_set():
                        final = await rt.get_jobs([j.job_id for j in submitted])
                        if url is not None and api is not None and on_done is not None:
                            done = _outcome(final, tracker, started, None)
                            on_done(done)
                            await _keep_running(rt, url, api, out, stopper, settings)
                            api_tg.cancel_scope.cancel()
                            return replace(done, reported=True)
                    else:
                        interrupted = True
                        text = stopping_text(rt, stopper.signal_name, settings.kill_grace_seconds)
                        out.say(f"{text}; press Ctrl-C again to stop at once")
                    api_tg.cancel_scope.cancel()
        finally:
            tg.cancel_scope.cancel()
    # Interrupted: the live records, as the stop left them (requeued or finished).
    return _outcome(
        final or submitted, tracker, started, stopper.signal_name if interrupted else None
    )


async def _keep_running(
    rt: Runtime,
    url: str,
    api: ApiOptions,
    out: Output,
    stopper: Stopper,
    settings: RuntimeSettings,
) -> None:
    """After the summary: serve on, a line per job state change, until a signal."""
    printer = StatePrinter(out.info) if out.info is not None else None
    async with anyio.create_task_group() as tg:
        if printer is not None:
            rt.bus.subscribe(printer.on_change)
            tg.start_soon(printer.run)
        out.say(
            f"{READY}: the runtime keeps running (pid {os.getpid()}, state directory "
            f"{settings.state_dir}); {api_text(url, api, rt)}; Ctrl-C or SIGTERM stops it"
        )
        await stopper.requested.wait()
        if printer is not None:
            printer.flush()
        out.say(stopping_text(rt, stopper.signal_name, settings.kill_grace_seconds))
        tg.cancel_scope.cancel()


def _outcome(
    jobs: list[JobRecord], tracker: Tracker, started: float, signal_name: str | None
) -> Outcome:
    return Outcome(
        jobs=jobs,
        elapsed=time.monotonic() - started,
        interrupted=signal_name,
        unfinished=tracker.remaining,
    )


def describe_changes(changes: list[tuple[str, str, str]]) -> str:
    done = [f"{kind} {name!r} {what}" for kind, name, what in changes if what != "unchanged"]
    if not done:
        return "applied: nothing changed" if changes else "applied: no resources in the config"
    return "applied: " + "; ".join(done)


def _log_tail(job: JobRecord, log_dir: Path, count: int) -> list[str]:
    attempt = job.current_attempt
    if attempt is None:
        return []
    return tail_lines(log_dir / task_id_of(attempt.log_stream), count)


def print_summary(outcome: Outcome, log_dir: Path, tail: int) -> None:
    jobs = outcome.jobs
    print()
    for line in summary_lines(jobs):
        print(line)
    for job in jobs:
        if job.status is not JobStatus.FAILED:
            continue
        attempt = job.current_attempt
        print()
        if attempt is None:
            print(f"--- {job.job_name} ({job.job_id}) never started")
            continue
        print(
            f"--- {job.job_name} ({job.job_id}) attempt {attempt.number}: last {tail} "
            f"lines of {log_dir / task_id_of(attempt.log_stream)}"
        )
        lines = _log_tail(job, log_dir, tail)
        for line in lines or ["(empty log)"]:
            print(f"    {line}")
    succeeded = sum(1 for j in jobs if j.status is JobStatus.SUCCEEDED)
    failed = sum(1 for j in jobs if j.status is JobStatus.FAILED)
    print()
    print(f"{succeeded} succeeded, {failed} failed in {outcome.elapsed:.1f}s")


def summary_json(outcome: Outcome, log_dir: Path, tail: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for job in outcome.jobs:
        attempt = job.current_attempt
        duration = duration_seconds(job)
        row: dict[str, Any] = {
            "jobName": job.job_name,
            "jobId": job.job_id,
            "status": job.status.value,
            "statusReason": job.status_reason,
            "exitCode": job_exit_code(job),
            "durationSeconds": None if duration is None else round(duration, 3),
            "attempts": len(job.attempts),
            "logStreamName": attempt.log_stream if attempt is not None else None,
        }
        if job.status is JobStatus.FAILED:
            row["logTail"] = _log_tail(job, log_dir, tail)
        rows.append(row)
    out: dict[str, Any] = {
        "jobs": rows,
        "succeeded": sum(1 for j in outcome.jobs if j.status is JobStatus.SUCCEEDED),
        "failed": sum(1 for j in outcome.jobs if j.status is JobStatus.FAILED),
        "elapsedSeconds": round(outcome.elapsed, 3),
    }
    if outcome.interrupted:
        out["interrupted"] = outcome.interrupted
        out["unfinished"] = outcome.unfinished
    return out
