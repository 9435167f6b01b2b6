"""State machine, retry decisions and resolution: pure functions, tested from tables."""

from __future__ import annotations

import pytest

from abatch.model.enums import JobStatus
from abatch.model.errors import IllegalTransitionError
from abatch.model.job import JobRecord, SubmitJobRequest
from abatch.model.resources import JobDefinition
from abatch.scheduler.resolve import effective_spec, resources_of, substitute
from abatch.scheduler.retry import decide_retry, pattern_matches
from abatch.scheduler.transitions import ALLOWED, transition

S = JobStatus


def record(status: JobStatus = S.SUBMITTED) -> JobRecord:
    return JobRecord(
        job_id="j",
        job_name="j",
        job_queue="q",
        job_definition="d:1",
        status=status,
        created_at=0,
        seq=0,
        vcpus=1,
        memory=1,
        gpus=0,
        spec={},
    )


LEGAL = [(a, b) for a, targets in ALLOWED.items() for b in targets]
ILLEGAL = [(a, b) for a in S for b in S if b not in ALLOWED[a]]


@pytest.mark.parametrize(("src", "dst"), LEGAL)
def test_legal_moves_recorded_in_history(src: JobStatus, dst: JobStatus) -> None:
    job = record(src)
    transition(job, dst, 1234, "why")
    assert job.status is dst
    assert job.history[-1] == (dst, 1234)
    assert job.status_reason == "why"


@pytest.mark.parametrize(("src", "dst"), ILLEGAL)
def test_illegal_moves_refused(src: JobStatus, dst: JobStatus) -> None:
    job = record(src)
    with pytest.raises(IllegalTransitionError):
        transition(job, dst, 1)
    assert job.status is src


def test_terminal_states_have_no_exit() -> None:
    assert ALLOWED[S.SUCCEEDED] == frozenset() and ALLOWED[S.FAILED] == frozenset()


def test_started_and_stopped_times() -> None:
    job = record(S.STARTING)
    transition(job, S.RUNNING, 10)
    transition(job, S.RUNNABLE, 20)
    transition(job, S.STARTING, 30)
    transition(job, S.RUNNING, 40)
    transition(job, S.SUCCEEDED, 50)
    assert (job.started_at, job.stopped_at) == (10, 50)


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("*", None, True),
        ("*", "x", True),
        ("Host EC2*", "Host EC2 (instance i-0123) terminated.", True),
        ("Host EC2*", None, False),
        ("1", "1", True),
        ("1", "10", False),
        ("1*", "10", True),
        ("abc", None, False),
    ],
)
def test_pattern(pattern: str, value: str | None, expected: bool) -> None:
    assert pattern_matches(pattern, value) is expected


RULES = {
    "attempts": 3,
    "evaluateOnExit": [
        {"onStatusReason": "Host EC2*", "action": "RETRY"},
        {"onExitCode": "2", "action": "exit"},
        {"onReason": "CannotPullContainerError:*", "action": "EXIT"},
    ],
}


@pytest.mark.parametrize(
    ("strategy", "attempts", "code", "reason", "status_reason", "final", "retry"),
    [
        (None, 1, 1, None, None, False, False),
        ({"attempts": 2}, 1, 1, None, None, False, True),
        ({"attempts": 2}, 2, 1, None, None, False, False),
        ({"attempts": 2}, 1, 1, None, None, True, False),
        (RULES, 1, 2, None, "Essential container in task exited", False, False),
        (RULES, 1, 3, None, "Essential container in task exited", False, True),
        (RULES, 1, None, None, "Host EC2 (instance i-1) terminated.", False, True),
        (RULES, 1, None, "CannotPullContainerError: nope", "Task failed to start", False, False),
        (RULES, 3, 3, None, None, False, False),
    ],
)
def test_decide_retry(strategy, attempts, code, reason, status_reason, final, retry) -> None:  # type: ignore[no-untyped-def]
    d = decide_retry(
        strategy, attempts, exit_code=code, reason=reason, status_reason=status_reason, final=final
    )
    assert d.retry is retry


JD = JobDefinition.model_validate(
    {
        "jobDefinitionName": "d",
        "type": "container",
        "parameters": {"a": "1", "b": "2"},
        "containerProperties": {
            "image": "busybox",
            "command": ["echo", "Ref::a", "x-Ref::b-y", "Ref::missing"],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "Ref::a"}],
            "resourceRequirements": [
                {"type": "VCPU", "value": "2"},
                {"type": "MEMORY", "value": "256"},
            ],
        },
        "retryStrategy": {"attempts": 2},
        "timeout": {"attemptDurationSeconds": 100},
    }
)


def test_effective_spec_merges_as_aws() -> None:
    req = SubmitJobRequest.model_validate(
        {
            "jobName": "n",
            "jobQueue": "q",
            "jobDefinition": "d",
            "parameters": {"a": "override"},
            "containerOverrides": {
                "environment": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}],
                "resourceRequirements": [{"type": "MEMORY", "value": "512"}],
                "vcpus": 8,
            },
            "timeout": {"attemptDurationSeconds": 200},
        }
    )
    spec = effective_spec(JD, req)
    c = spec["container"]
    assert c["command"] == ["echo", "Ref::a", "x-Ref::b-y", "Ref::missing"]
    assert c["environment"] == [
        {"name": "A", "value": "1"},
        {"name": "B", "value": "2"},
        {"name": "C", "value": "3"},
    ]
    # MEMORY replaced per type; the legacy vcpus override does not beat the JD's VCPU.
    assert resources_of(c) == (2.0, 512, 0)
    assert spec["parameters"] == {"a": "override", "b": "2"}
    assert spec["timeout"] == {"attemptDurationSeconds": 200}
    assert spec["retryStrategy"] == {"attempts": 2}
    assert substitute(c["command"], spec["parameters"]) == [
        "echo",
        "override",
        "x-2-y",
        "Ref::missing",
    ]


def test_command_override_replaces() -> None:
    req = SubmitJobRequest.model_validate(
        {
            "jobName": "n",
            "jobQueue": "q",
            "jobDefinition": "d",
            "containerOverrides": {"command": ["true", "Ref::b"]},
        }
    )
    spec = effective_spec(JD, req)
    assert substitute(spec["container"]["command"], spec["parameters"]) == ["true", "2"]
