"""`abatch submit`, `abatch cancel`, `abatch terminate`: change jobs through the runtime's API.

The request is built from the options first (`submit_body`, pure), so bad input on the
command line is reported even when no runtime runs; the runtime validates the rest and its
ClientException message is printed as it is (exit 2). Cancel and terminate describe the job
afterwards and say what happened, since AWS answers a cancel of a running or finished job
with a silent success.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .common import EXIT_OK, CliError, resolve_state_dir
from .connect import connect

DEPENDENCY_TYPES = ("N_TO_N", "SEQUENTIAL")
STARTED = ("STARTING", "RUNNING")
FINISHED = ("SUCCEEDED", "FAILED")


def cmd_submit(args: argparse.Namespace) -> int:
    body = submit_body(args)
    client = connect(resolve_state_dir(args.state_dir))
    answer = client.call("SubmitJob", body)
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print(answer["jobId"])
    return EXIT_OK


def submit_body(args: argparse.Namespace) -> dict[str, Any]:
    """The SubmitJob request (AWS spelling) the options describe; CliError for bad options."""
    body: dict[str, Any] = {
        "jobName": args.name or default_job_name(args.definition),
        "jobQueue": args.queue,
        "jobDefinition": args.definition,
    }
    if args.parameter:
        body["parameters"] = pairs(args.parameter, "--parameter")
    overrides: dict[str, Any] = {}
    command = command_of(args.command_words, args.command_json)
    if command is not None:
        overrides["command"] = command
    if args.env:
        env = pairs(args.env, "--env")
        overrides["environment"] = [{"name": k, "value": v} for k, v in env.items()]
    needs = [
        {"type": kind, "value": str(value)}
        for kind, value in (("VCPU", args.vcpus), ("MEMORY", args.memory), ("GPU", args.gpus))
        if value is not None
    ]
    if needs:
        overrides["resourceRequirements"] = needs
    if overrides:
        body["containerOverrides"] = overrides
    if args.array_size is not None:
        body["arrayProperties"] = {"size": args.array_size}
    if args.depends_on:
        body["dependsOn"] = [dependency(text) for text in args.depends_on]
    if args.retry_attempts is not None:
        body["retryStrategy"] = {"attempts": args.retry_attempts}
    if args.timeout is not None:
        body["timeout"] = {"attemptDurationSeconds": args.timeout}
    if args.share_identifier is not None:
        body["shareIdentifier"] = args.share_identifier
    return body


def default_job_name(definition: str) -> str:
    """The job definition's name, from `name`, `name:rev` or an ARN."""
    from abatch.model.base import parse_jd_ref

    try:
        name, _ = parse_jd_ref(definition)
    except ValueError:
        return "job"  # the runtime reports what is wrong with the reference
    return name or "job"


def pairs(items: list[str], option: str) -> dict[str, str]:
    """`K=V` items as a dict (a later K wins); the value may be empty, the key may not."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CliError(f"{option} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out


def command_of(words: list[str] | None, as_json: str | None) -> list[str] | None:
    if words is not None:
        if not words:
            raise CliError("--command needs the command after it (and must come last)")
        return words
    if as_json is None:
        return None
    try:
        value = json.loads(as_json)
    except ValueError as exc:
        raise CliError(f"--command-json is not valid JSON: {exc}") from None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise CliError('--command-json must be a JSON list of strings, like ["sh", "-c", "date"]')
    return value


def dependency(text: str) -> dict[str, str]:
    """`JOB_ID`, `JOB_ID:N_TO_N`, `JOB_ID:SEQUENTIAL` or `SEQUENTIAL`. An array child's id
    (`parent:3`) has a colon of its own, so only a known type after the last colon counts."""
    if not text.strip():
        raise CliError("--depends-on needs a job id")
    if text.upper() == "SEQUENTIAL":
        return {"type": "SEQUENTIAL"}
    job_id, sep, kind = text.rpartition(":")
    if sep and kind.upper() in DEPENDENCY_TYPES:
        if not job_id:
            raise CliError(f"--depends-on {text!r}: the job id is missing before ':'")
        return {"jobId": job_id, "type": kind.upper()}
    return {"jobId": text}


# ---------------------------------------------------------------------- cancel, terminate


def cmd_cancel(args: argparse.Namespace) -> int:
    return _stop(args, terminate=False)


def cmd_terminate(args: argparse.Namespace) -> int:
    return _stop(args, terminate=True)


def _stop(args: argparse.Namespace, *, terminate: bool) -> int:
    client = connect(resolve_state_dir(args.state_dir))
    job_id: str = args.job_id
    before = client.describe_jobs([job_id])
    if terminate:
        client.terminate_job(job_id, args.reason)  # an unknown id: ClientError, exit 2
    else:
        client.cancel_job(job_id, args.reason)
    after = client.describe_jobs([job_id])
    if not before or not after:  # a job is only ever gone with its deleted queue
        print(f"job {job_id} is gone", file=sys.stderr)
        return EXIT_OK
    message, changed = stop_message(before[0], after[0], terminate=terminate)
    print(message, file=sys.stdout if changed else sys.stderr)
    return EXIT_OK


def stop_message(
    before: dict[str, Any], after: dict[str, Any], *, terminate: bool
) -> tuple[str, bool]:
    """What a cancel or terminate did, from the JobDetail read before and after it, and
    whether it changed anything (if not, the line goes to stderr)."""
    job_id = after.get("jobId")
    status = str(after.get("status"))
    is_array = "size" in (after.get("arrayProperties") or {})
    who = f"{'array job' if is_array else 'job'} {job_id} ({after.get('jobName')})"
    if before.get("status") in FINISHED:
        return f"{who} had already finished ({before.get('status')}); nothing changed", False
    if is_array and status not in FINISHED:
        if terminate:
            return f"terminating {who}: every child is stopped, then it is FAILED", True
        return (
            f"cancelled {who}: its children that had not started are FAILED; it is {status} "
            "until the started ones have finished",
            True,
        )
    if status in STARTED and terminate:
        return (
            f"terminating {who}: its attempt gets SIGTERM (SIGKILL after the grace period), "
            "then the job is FAILED",
            True,
        )
    if status in STARTED:
        return (
            f"{who} is {status}: cancel does not stop a job that has started (as in AWS "
            f"Batch); `abatch terminate {job_id}` does",
            False,
        )
    return f"{'terminated' if terminate else 'cancelled'} {who}: it is {status}", True
