"""Hostile values and request bodies for the API fuzz tests (tests/api/test_api_fuzz.py).

Every operation the server routes gets a body strategy: a base body (valid, so that mutations
reach deep validation rather than stopping at "jobName is required") mutated at random paths
with hostile values, plus, for operations that list their members, any subset of those members
with hostile or plausible values. An operation whose body a model validates (its member list
is None) needs an explicit base in `MODEL_BASES`; the tests fail for one that has none.
"""

from __future__ import annotations

import copy
import itertools
import urllib.parse
from typing import Any

from hypothesis import strategies as st

from abatch.runtime.operations import encode_token

ACCOUNT_ARN = "arn:aws:batch:us-east-1:123456789012"
LONG_ARN = f"{ACCOUNT_ARN}:job-queue/" + "q" * 5000
HUGE = 1_000_000  # a 1 MB value: more than any operation takes in a body

HOSTILE_TEXT = [
    "",
    " ",
    "../../etc/passwd",
    "../../../../../../tmp/abatch-fuzz-escape",
    "/etc/passwd",
    "/tmp/abatch-fuzz-escape",
    "..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f%2e%2e%2f",
    "..\\..\\windows",
    "\x00",
    "a\x00b",
    "a\nb",
    "\r\n",
    "\t",
    "é",
    "\U0001f642",
    "\u202e",
    "\ufeff",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "; touch /tmp/abatch-fuzz-pwned",
    "$(touch /tmp/abatch-fuzz-pwned)",
    "`id`",
    "%s%n%x",
    "' OR '1'='1' --",
    '"; DROP TABLE jobs; --',
    "*",
    "?",
    "Ref::x",
    "q",
    "high",
    "ce",
    "d",
    "d:1",
    "d:0",
    "d:-1",
    "d:99999999999999999999999",
    "d:1:2",
    ":",
    "arn:aws:batch:us-east-1:123456789012:job-queue/q",
    "arn:aws:batch:us-east-1:123456789012:job-definition/d:1",
    "arn:aws:batch:us-east-1:123456789012:job/",
    "arn:aws:batch:us-east-1:123456789012:compute-environment/../../x",
    "arn:aws:logs:us-east-1:123456789012:log-group:/aws/batch/job",
    "arn:",
    LONG_ARN,
    "/aws/batch/job",
    "d/default/../../../etc/passwd",
    "d/default/" + "0" * 32,
    "ENABLED",
    "DISABLED",
    "ACTIVE",
    "INACTIVE",
    "SUCCEEDED",
    "RUNNABLE",
    "VCPU",
    "MEMORY",
    "GPU",
    "-1",
    "0",
    "1e400",
    "NaN",
    "container",
    "multinode",
    "MANAGED",
    "UNMANAGED",
    "EC2",
    "FARGATE",
    encode_token("jobDefinitions", ["d", "x"]),
    encode_token("computeEnvironments", [{"a": 1}]),
    encode_token("jobs", None),
    encode_token("streams", ["x", 1]),
    encode_token("filter", [1, "x", -5]),
    "f/" + "9" * 56,
    "b/-1",
    "f/",
]

texts = (
    st.sampled_from(HOSTILE_TEXT)
    | st.text(max_size=12)
    | st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "é", "/", "\x00", "..", "\U0001f642"]),
        st.sampled_from([256, 1025, 5000, 100_000]),
    )
)
numbers = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.sampled_from([0, -1, 1, 2**31, 2**63, -(2**63) - 1, 2**64, 10**30, 10_001, 10_000])
    | st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.none() | st.booleans() | numbers | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)
hostile = (
    values
    # Built afresh for each draw: a mutation may change them in place.
    | st.builds(lambda: ["a"] * 20_000)  # a huge array
    | st.builds(lambda: [{"name": "x", "value": "y"} for _ in range(2_000)])
    | st.builds(lambda: {f"k{i}": "v" for i in range(5_000)})  # a huge map
    | st.just("n" * HUGE)  # a 1 MB string: over every operation's body limit
)


# Values that make sense for a member, so a request gets past the first check.
def plausible(seed: dict[str, Any]) -> dict[str, list[Any]]:
    jobs = seed["jobs"]
    stream = seed["stream"]
    return {
        "jobQueue": ["q", "high", seed["queue_arn"], "nope"],
        "jobQueues": [["q"], ["q", "high", "nope"], [seed["queue_arn"]]],
        "computeEnvironment": ["ce", seed["ce_arn"], "spare"],
        "computeEnvironments": [["ce"], [seed["ce_arn"], "nope"]],
        "jobDefinition": ["d", "d:1", seed["jd_arn"]],
        "jobDefinitions": [["d:1"], ["d"], [seed["jd_arn"], "nope:3"]],
        "jobDefinitionName": ["d"],
        "jobId": jobs,
        "jobs": [jobs, jobs[:1], ["nope"]],
        "arrayJobId": jobs,
        "multiNodeJobId": jobs,
        "arn": [seed["policy_arn"]],
        "arns": [[seed["policy_arn"]], [seed["policy_arn"], "nope"]],
        "reason": ["because", ""],
        "state": ["ENABLED", "DISABLED"],
        "status": ["ACTIVE", "INACTIVE"],
        "jobStatus": ["SUCCEEDED", "RUNNING", "RUNNABLE", "FAILED"],
        "maxResults": [1, 2, 100],
        "limit": [1, 5, 50, 10000],
        "priority": [0, 5, 1000],
        "unmanagedvCpus": [0, 4],
        "serviceRole": ["role"],
        "schedulingPolicyArn": [seed["policy_arn"]],
        "computeEnvironmentOrder": [[{"order": 1, "computeEnvironment": "ce"}]],
        "jobStateTimeLimitActions": [
            [{"reason": "r", "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}]
        ],
        "computeResources": [{"maxvCpus": 4}, {"maxvCpus": 0}, {"minvCpus": 1}],
        "fairsharePolicy": [
            {"shareDecaySeconds": 0, "computeReservation": 0, "shareDistribution": []}
        ],
        "filters": [[{"name": "JOB_NAME", "values": ["seed*"]}]],
        "logGroupName": ["/aws/batch/job"],
        "logGroupIdentifier": ["/aws/batch/job"],
        "logStreamName": [stream],
        "logStreamNames": [[stream], [stream, "nope"]],
        "logStreamNamePrefix": ["seed", ""],
        "logGroupNamePrefix": ["/aws"],
        "orderBy": ["LogStreamName", "LastEventTime"],
        "startFromHead": [True, False],
        "descending": [True],
        "filterPattern": ["hello", '"a', "{$.x = 1}", "?a -b"],
        "startTime": [0, seed["started_at"]],
        "endTime": [seed["started_at"] + 1],
        "nextToken": [],
        "tags": [{"k": "v"}, {"abatch:memory": "1024"}],
        "instanceId": ["i-" + "0" * 17, "i-../../x"],
    }


def model_bases(seed: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    container = {
        "image": "busybox",
        "command": ["echo", "Ref::p"],
        "resourceRequirements": [
            {"type": "VCPU", "value": "1"},
            {"type": "MEMORY", "value": "64"},
        ],
        "environment": [{"name": "A", "value": "b"}],
    }
    return {
        "SubmitJob": [
            {
                "jobName": "fuzz",
                "jobQueue": "q",
                "jobDefinition": "d",
                "containerOverrides": {
                    "command": ["true"],
                    "environment": [{"name": "A", "value": "b"}],
                    "resourceRequirements": [{"type": "VCPU", "value": "1"}],
                },
                "parameters": {"p": "v"},
                "tags": {"t": "v"},
                "retryStrategy": {"attempts": 2},
                "timeout": {"attemptDurationSeconds": 60},
                "dependsOn": [{"jobId": seed["jobs"][0]}],
                "arrayProperties": {"size": 2},
            },
            {"jobName": "fuzz2", "jobQueue": "q", "jobDefinition": "mn", "nodeOverrides": {}},
        ],
        "CreateComputeEnvironment": [
            {
                "computeEnvironmentName": "fuzzce",
                "type": "MANAGED",
                "state": "ENABLED",
                "computeResources": {"type": "EC2", "maxvCpus": 4, "minvCpus": 0},
                "tags": {"abatch:memory": "1024", "k": "v"},
            }
        ],
        "CreateJobQueue": [
            {
                "jobQueueName": "fuzzq",
                "priority": 1,
                "state": "ENABLED",
                "jobQueueType": "ECS",
                "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "ce"}],
                "jobStateTimeLimitActions": [
                    {"reason": "r", "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}
                ],
                "schedulingPolicyArn": seed["policy_arn"],
                "tags": {"k": "v"},
            }
        ],
        "RegisterJobDefinition": [
            {
                "jobDefinitionName": "fuzzd",
                "type": "container",
                "containerProperties": container,
                "parameters": {"p": "x"},
                "retryStrategy": {"attempts": 1, "evaluateOnExit": [{"onExitCode": "1"}]},
                "timeout": {"attemptDurationSeconds": 60},
                "tags": {"k": "v"},
            },
            {
                "jobDefinitionName": "fuzzmn",
                "type": "multinode",
                "nodeProperties": {
                    "numNodes": 2,
                    "mainNode": 0,
                    "nodeRangeProperties": [{"targetNodes": "0:", "container": container}],
                },
            },
        ],
        "CreateSchedulingPolicy": [
            {
                "name": "fuzzsp",
                "fairsharePolicy": {
                    "shareDecaySeconds": 60,
                    "computeReservation": 10,
                    "shareDistribution": [{"shareIdentifier": "a*", "weightFactor": 0.5}],
                },
                "tags": {"k": "v"},
            }
        ],
    }


# Bases for operations that list their members: what a valid call looks like.
def listed_bases(seed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    job = seed["jobs"][0]
    group = {"logGroupName": "/aws/batch/job"}
    return {
        "DescribeJobs": {"jobs": [job]},
        "CancelJob": {"jobId": job, "reason": "r"},
        "TerminateJob": {"jobId": job, "reason": "r"},
        "CancelJobs": {"jobs": [job], "reason": "r"},
        "TerminateJobs": {"jobs": [job], "reason": "r"},
        "GetJobQueueSnapshot": {"jobQueue": "q"},
        "UpdateComputeEnvironment": {"computeEnvironment": "spare"},
        "DeleteComputeEnvironment": {"computeEnvironment": "spare"},
        "UpdateJobQueue": {"jobQueue": "spareq"},
        "DeleteJobQueue": {"jobQueue": "spareq"},
        "DeregisterJobDefinition": {"jobDefinition": "spared:1"},
        "DescribeSchedulingPolicies": {"arns": [seed["policy_arn"]]},
        "UpdateSchedulingPolicy": {"arn": seed["policy_arn"]},
        "DeleteSchedulingPolicy": {"arn": seed["spare_policy_arn"]},
        "GetLogEvents": {**group, "logStreamName": seed["stream"]},
        "DescribeLogStreams": group,
        "FilterLogEvents": group,
    }


NAME_KEYS = ("jobName", "computeEnvironmentName", "jobQueueName", "jobDefinitionName", "name")
_serial = itertools.count()


def _mutate(data: st.DataObject, body: dict[str, Any]) -> dict[str, Any]:
    """0 to 3 changes at random paths: replace with a hostile value, delete, add a member."""
    body = copy.deepcopy(body)
    for _ in range(data.draw(st.integers(min_value=0, max_value=3), label="mutations")):
        node: Any = body
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            if not children:
                break
            key, child = data.draw(st.sampled_from(children))
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            action = data.draw(st.sampled_from(["replace", "replace", "delete", "add"]))
            if action == "replace":
                node[key] = data.draw(hostile)
            elif action == "delete":
                del node[key]
            elif isinstance(node, dict):
                node[data.draw(texts)] = data.draw(hostile)
            else:
                node.append(data.draw(hostile))
            break
    return body


def body_for(
    data: st.DataObject,
    op: str,
    allowed: tuple[str, ...] | None,
    seed: dict[str, Any],
) -> dict[str, Any]:
    """A request body for `op` (KeyError: a model-validated operation without a base)."""
    if allowed is None:
        body = copy.deepcopy(data.draw(st.sampled_from(model_bases(seed)[op]), label="base"))
        # A fresh name each time, so a body that is hostile but valid is stored rather than
        # refused as a duplicate, and what gets stored is what the end of the run reloads.
        for key in NAME_KEYS:
            if key in body:
                body[key] = f"{body[key]}{next(_serial)}"
    else:
        body = copy.deepcopy(listed_bases(seed).get(op, {}))
        good = plausible(seed)
        for key in data.draw(st.lists(st.sampled_from(allowed), max_size=4, unique=True)):
            choices = good.get(key, [])
            body[key] = data.draw(
                st.sampled_from(choices) | hostile if choices else hostile, label=key
            )
    body = _mutate(data, body)
    wait = body.get("waitSeconds")
    if op == "AbatchWatch" and isinstance(wait, int | float) and 0 < wait <= 60:
        body["waitSeconds"] = 0  # a long poll: valid waits would only make the run long
    return body


def tag_path(arn: str, how: str) -> str:
    """`/v1/tags/{arn}` with the ARN encoded as a client might (or might not)."""
    if how == "strict":
        return "/v1/tags/" + urllib.parse.quote(arn, safe="", errors="surrogatepass")
    if how == "loose":
        return "/v1/tags/" + urllib.parse.quote(arn, safe=":/", errors="surrogatepass")
    return "/v1/tags/" + urllib.parse.quote(
        urllib.parse.quote(arn, safe="", errors="surrogatepass"), safe=""
    )


content_types = st.sampled_from(
    [
        "application/json",
        "application/x-amz-json-1.1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        "application/json; charset=latin-1",
    ]
)
