"""The pure parts of the client commands: the SubmitJob body built from options, dependency
and K=V parsing, what cancel/terminate report, the resource tables, the API options."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from abatch.cli.common import CliError
from abatch.cli.jobctl import dependency, stop_message, submit_body
from abatch.cli.parser import build_parser
from abatch.cli.resource_tables import ces_lines, definitions_lines, instances_lines, queues_lines
from abatch.cli.service import api_options
from abatch.config import RuntimeSettings


def body(*args: str) -> dict[str, Any]:
    return submit_body(build_parser().parse_args(["submit", *args]))


def test_submit_body_has_every_option_in_aws_spelling() -> None:
    assert body("-q", "high", "-d", "arn:aws:batch:us-east-1:123456789012:job-definition/sh:3") == {
        "jobName": "sh",
        "jobQueue": "high",
        "jobDefinition": "arn:aws:batch:us-east-1:123456789012:job-definition/sh:3",
    }
    full = body(
        "-q", "low", "-d", "train:2", "--name", "n", "-p", "a=1", "-p", "b=x=y", "-p", "a=2",
        "-e", "K=", "--vcpus", "0.5", "--memory", "512", "--gpus", "1", "--array-size", "4",
        "--depends-on", "j1", "--depends-on", "j2:n_to_n", "--depends-on", "SEQUENTIAL",
        "--retry-attempts", "3", "--timeout", "60", "--share-identifier", "blue",
        "--command", "python", "-c", "print(1)", "--json",
    )  # fmt: skip
    assert full == {
        "jobName": "n",
        "jobQueue": "low",
        "jobDefinition": "train:2",
        "parameters": {"a": "2", "b": "x=y"},
        "containerOverrides": {
            # Everything after --command is the command, --json included.
            "command": ["python", "-c", "print(1)", "--json"],
            "environment": [{"name": "K", "value": ""}],
            "resourceRequirements": [
                {"type": "VCPU", "value": "0.5"},
                {"type": "MEMORY", "value": "512"},
                {"type": "GPU", "value": "1"},
            ],
        },
        "arrayProperties": {"size": 4},
        "dependsOn": [
            {"jobId": "j1"},
            {"jobId": "j2", "type": "N_TO_N"},
            {"type": "SEQUENTIAL"},
        ],
        "retryStrategy": {"attempts": 3},
        "timeout": {"attemptDurationSeconds": 60},
        "shareIdentifier": "blue",
    }
    json_command = body("-q", "q", "-d", "d", "--command-json", '["a b", "c"]')
    assert json_command["containerOverrides"] == {"command": ["a b", "c"]}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("-p", "novalue"), "--parameter 'novalue': expected KEY=VALUE"),
        (("-p", "=v"), "--parameter '=v': expected KEY=VALUE"),
        (("-e", "X"), "--env 'X': expected KEY=VALUE"),
        (("--command",), "--command needs the command after it"),
        (("--command-json", "[1]"), "--command-json must be a JSON list of strings"),
        (("--command-json", "[]"), "--command-json must be a JSON list of strings"),
        (("--command-json", "{"), "--command-json is not valid JSON"),
        (("--depends-on", ":N_TO_N"), "--depends-on ':N_TO_N': the job id is missing"),
        (("--depends-on", ""), "--depends-on needs a job id"),
    ],
)
def test_submit_options_that_are_refused_before_any_request(
    args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(CliError, match=re.escape(message)):
        body("-q", "q", "-d", "d", *args)


def test_dependency_keeps_array_child_ids_whole() -> None:
    assert dependency("abc:3") == {"jobId": "abc:3"}
    assert dependency("abc:3:N_TO_N") == {"jobId": "abc:3", "type": "N_TO_N"}
    assert dependency("abc:SEQUENTIAL") == {"jobId": "abc", "type": "SEQUENTIAL"}
    assert dependency("sequential") == {"type": "SEQUENTIAL"}
    assert dependency("abc:FOO") == {"jobId": "abc:FOO"}  # the runtime says it does not exist


def _job(status: str, **extra: Any) -> dict[str, Any]:
    return {"jobId": "j", "jobName": "n", "status": status, **extra}


ARRAY = {"arrayProperties": {"size": 3}}
CANCELLED = {"isCancelled": True}
TERMINATED = {"isTerminated": True}


@pytest.mark.parametrize(
    ("before", "after", "terminate", "start", "changed"),
    [
        ("RUNNABLE", _job("FAILED", **CANCELLED), False, "cancelled job j (n): it is FAILED", True),
        ("RUNNING", _job("RUNNING"), False, "job j (n) is RUNNING: cancel does not stop", False),
        ("RUNNING", _job("RUNNING", **TERMINATED), True, "terminating job j (n): its", True),
        ("SUCCEEDED", _job("SUCCEEDED"), True, "job j (n) had already finished (SUCCEEDED)", False),
        ("FAILED", _job("FAILED", **TERMINATED), True, "job j (n) had already finished", False),
        ("PENDING", _job("PENDING", **ARRAY), False, "cancelled array job j (n): its", True),
        ("RUNNING", _job("RUNNING", **ARRAY), True, "terminating array job j (n)", True),
    ],
)
def test_stop_message(
    before: str, after: dict[str, Any], terminate: bool, start: str, changed: bool
) -> None:
    message, did = stop_message(_job(before), after, terminate=terminate)
    assert message.startswith(start) and did is changed


def test_queue_table_orders_by_priority_and_groups_the_counts() -> None:
    ce = "arn:aws:batch:us-east-1:123456789012:compute-environment/"
    queues = [
        {
            "jobQueueName": "low",
            "state": "ENABLED",
            "status": "VALID",
            "priority": 1,
            "computeEnvironmentOrder": [
                {"order": 2, "computeEnvironment": ce + "b"},
                {"order": 1, "computeEnvironment": ce + "a"},
            ],
            "schedulingPolicyArn": "arn:aws:batch:us-east-1:123456789012:scheduling-policy/fair",
        },
        {"jobQueueName": "high", "state": "DISABLED", "status": "INVALID", "priority": 9,
         "statusReason": "CE gone", "computeEnvironmentOrder": []},
    ]  # fmt: skip
    counts = {"low": {"SUBMITTED": 1, "PENDING": 2, "RUNNABLE": 3, "STARTING": 1, "RUNNING": 1}}
    lines = queues_lines(queues, counts)
    assert lines[0].split() == [
        "QUEUE", "STATE", "STATUS", "PRIORITY", "COMPUTE", "ENVIRONMENTS",
        "PENDING", "RUNNABLE", "RUNNING", "SUCCEEDED", "FAILED", "SCHEDULING",
    ]  # fmt: skip
    zeros = ["0"] * 5
    assert lines[1].split() == [
        "high",
        "DISABLED",
        "INVALID:",
        "CE",
        "gone",
        "9",
        "-",
        *zeros,
        "FIFO",
    ]
    low = ["low", "ENABLED", "VALID", "1", "a,", "b", "3", "3", "2", "0", "0", "fair"]
    assert lines[2].split() == low


def test_ce_table_shows_local_settings_from_tags() -> None:
    lines = ces_lines(
        [
            {
                "computeEnvironmentName": "gpu",
                "type": "MANAGED",
                "state": "ENABLED",
                "status": "VALID",
                "computeResources": {"type": "EC2", "maxvCpus": 8},
                "tags": {"abatch:executor": "docker", "abatch:memory": "4096", "abatch:gpus": "2"},
            },
            {
                "computeEnvironmentName": "byo",
                "type": "UNMANAGED",
                "state": "DISABLED",
                "status": "VALID",
                "unmanagedvCpus": 4,
            },
            {
                "computeEnvironmentName": "two",
                "type": "MANAGED",
                "state": "ENABLED",
                "status": "VALID",
                "computeResources": {"type": "EC2", "maxvCpus": 2},
                "tags": {"abatch:gpu-devices": "1,3"},
            },
        ]
    )
    assert lines[3].split()[-2:] == ["2", "(1,3)"]
    assert lines[1].split() == [
        "byo",
        "UNMANAGED",
        "-",
        "DISABLED",
        "VALID",
        "process",
        "4",
        "host",
        "host",
    ]
    assert lines[2].split() == [
        "gpu",
        "MANAGED",
        "EC2",
        "ENABLED",
        "VALID",
        "docker",
        "8",
        "4096",
        "MiB",
        "2",
    ]


def test_definition_table_reads_requirements_and_old_fields() -> None:
    lines = definitions_lines(
        [
            {"jobDefinitionName": "b", "revision": 10, "status": "ACTIVE", "type": "container",
             "containerProperties": {"image": "img", "vcpus": 2, "memory": 256}},
            {"jobDefinitionName": "b", "revision": 9, "status": "INACTIVE", "type": "container",
             "containerProperties": {"image": "img", "command": ["echo", "hi\nthere"],
                                     "resourceRequirements": [{"type": "GPU", "value": "1"}]}},
            {"jobDefinitionName": "a", "revision": 1, "status": "ACTIVE", "type": "multinode",
             "nodeProperties": {"nodeRangeProperties": [{"container": {"image": "mpi"}}]}},
        ]
    )  # fmt: skip
    assert [line.split() for line in lines[1:]] == [
        ["a", "1", "ACTIVE", "multinode", "mpi", "-", "-", "-", "-"],
        ["b", "9", "INACTIVE", "container", "img", "-", "-", "1", "echo", "hi", "there"],
        ["b", "10", "ACTIVE", "container", "img", "2", "256", "-", "-"],
    ]


def _api(*args: str, **settings: Any) -> tuple[str, int, bool]:
    ns = build_parser().parse_args(["serve", *args])
    opts = api_options(ns, RuntimeSettings(**settings))
    return opts.host, opts.port, opts.auth


def test_api_options_command_line_over_config_over_defaults() -> None:
    assert _api() == ("127.0.0.1", 8765, False)
    assert _api(api_host="::1", api_port=9000, api_auth=True) == ("::1", 9000, True)
    assert _api("--port", "0", "--no-auth", api_port=9000, api_auth=True) == (
        "127.0.0.1",
        0,
        False,
    )
    assert _api("--host", "0.0.0.0", "--auth") == ("0.0.0.0", 8765, True)
    assert _api("--host", "localhost") == ("localhost", 8765, False)
    with pytest.raises(CliError, match=r"refusing to serve the API on 0\.0\.0\.0, which is not a"):
        _api("--host", "0.0.0.0")
    with pytest.raises(ValidationError, match=r"'10\.0\.0\.1' is not a loopback address"):
        _api(api_host="10.0.0.1")  # a config like this does not load (without api_auth)
    with pytest.raises(CliError, match=r"refusing to serve the API on 10\.0\.0\.1"):
        _api("--no-auth", api_host="10.0.0.1", api_auth=True)  # the command line turns it off
    with pytest.raises(CliError, match="is not an IP address or a host name"):
        _api("--host", "a b")


def test_instances_table() -> None:
    lines = instances_lines(
        [
            {
                "instanceId": "i-0123456789abcdef0",
                "computeEnvironment": "spot",
                "instanceType": "c5.xlarge",
                "lifecycle": "spot",
                "vcpus": 4,
                "usedVcpus": 1.5,
                "memory": 8192,
                "usedMemory": 512,
                "gpus": 0,
                "hostKey": "local",
                "jobs": [{"jobId": "abc:3", "jobName": "arr"}, {"jobId": "x", "jobName": "one"}],
            },
            {"instanceId": "i-1", "instanceType": "host", "host": "left", "jobs": []},
        ]
    )
    assert lines[0].split() == [
        "INSTANCE", "COMPUTE", "ENV", "TYPE/HOST", "LIFECYCLE", "VCPUS", "MEMORY", "MIB",
        "GPUS", "ON", "JOBS",
    ]  # fmt: skip
    assert "1.5/4" in lines[1] and "512/8192" in lines[1] and "arr:3, one" in lines[1]
    assert "left" in lines[2] and "(idle)" in lines[2]
