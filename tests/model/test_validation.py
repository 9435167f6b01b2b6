"""AWS limits enforced by the model, each with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from abatch.model.base import parse_jd_ref
from abatch.model.job import SubmitJobRequest
from abatch.model.resources import JobDefinition, RetryStrategy


def submit(**kw: Any) -> SubmitJobRequest:
    return SubmitJobRequest.model_validate(
        {"jobName": "j", "jobQueue": "q", "jobDefinition": "d", **kw}
    )


@pytest.mark.parametrize(
    ("strategy", "fragment"),
    [
        ({"attempts": 0}, "greater than or equal to 1"),
        ({"attempts": 11}, "less than or equal to 10"),
        (
            {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "RETRY"}] * 6},
            "at most 5",
        ),
        (
            {"attempts": 2, "evaluateOnExit": [{"onReason": "bad*char*", "action": "EXIT"}]},
            "not allowed in a pattern",
        ),
        (
            {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1a", "action": "EXIT"}]},
            "must be digits",
        ),
        ({"attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "MAYBE"}]}, "action"),
        ({"evaluateOnExit": [{"onExitCode": "1", "action": "EXIT"}]}, "attempts is required"),
    ],
)
def test_retry_strategy_limits(strategy: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        RetryStrategy.model_validate(strategy)


def test_retry_action_is_case_insensitive() -> None:
    rs = RetryStrategy.model_validate(
        {"attempts": 2, "evaluateOnExit": [{"onStatusReason": "Host EC2*", "action": "retry"}]}
    )
    assert rs.evaluate_on_exit is not None
    assert rs.evaluate_on_exit[0].action.value == "RETRY"


@pytest.mark.parametrize(
    ("kw", "fragment"),
    [
        ({"containerOverrides": {"command": ["echo", ""]}}, r"command\[1\] is empty"),
        (
            {"containerOverrides": {"environment": [{"name": "AWS_BATCH_X", "value": "1"}]}},
            "reserved",
        ),
        ({"arrayProperties": {"size": 1}}, "greater than or equal to 2"),
        ({"arrayProperties": {"size": 10001}}, "less than or equal to 10000"),
        ({"dependsOn": [{"jobId": f"j{i}"} for i in range(21)]}, "at most 20"),
        ({"dependsOn": [{"jobId": "x", "type": "ALL"}]}, "N_TO_N or SEQUENTIAL"),
        ({"jobName": "-starts-with-dash"}, "not a valid job name"),
        ({"schedulingPriorityOverride": 10000}, "less than or equal to 9999"),
    ],
)
def test_submit_limits(kw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        submit(**kw)


def test_definition_environment_names_reserved() -> None:
    with pytest.raises(ValidationError, match="AWS_BATCH"):
        JobDefinition.model_validate(
            {
                "jobDefinitionName": "d",
                "containerProperties": {
                    "command": ["true"],
                    "environment": [{"name": "AWS_BATCH_JOB_ID", "value": "x"}],
                },
            }
        )


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("d", ("d", None)),
        ("d:3", ("d", 3)),
        ("arn:aws:batch:us-east-1:123456789012:job-definition/d:7", ("d", 7)),
        ("arn:aws:batch:us-east-1:123456789012:job-definition/d", ("d", None)),
    ],
)
def test_definition_references(ref: str, expected: tuple[str, int | None]) -> None:
    assert parse_jd_ref(ref) == expected


@pytest.mark.parametrize("ref", ["d:0", "d:x", "arn:aws:batch:us-east-1:1:job-queue/q"])
def test_bad_definition_references(ref: str) -> None:
    with pytest.raises(ValueError):
        parse_jd_ref(ref)
