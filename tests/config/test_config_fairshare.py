"""`[[scheduling_policy]]` tables and a queue's `scheduling_policy_arn`: parsed into models,
the queue given the policy's full ARN, and each mistake reported with its key and line."""

from __future__ import annotations

from config_samples import BASE, JOB, line_of, load, only, problems_of

from abatch.model.policy import policy_arn

POLICY = """
[[scheduling_policy]]
name = "fs"
[scheduling_policy.fairshare_policy]
share_decay_seconds = 3600
compute_reservation = 25
share_distribution = [
    { share_identifier = "alice", weight_factor = 0.5 },
    { share_identifier = "team*" },
]
"""
FAIR = BASE.replace("priority = 10\n", 'priority = 10\nscheduling_policy_arn = "fs"\n') + POLICY


def test_policy_and_queue_by_name_or_arn() -> None:
    config = load(FAIR)
    (policy,) = config.scheduling_policies
    assert policy.name == "fs"
    assert policy.fairshare_policy is not None
    assert policy.fairshare_policy.share_decay_seconds == 3600
    assert policy.fairshare_policy.compute_reservation == 25
    assert [s.share_identifier for s in policy.fairshare_policy.share_distribution or []] == [
        "alice",
        "team*",
    ]
    (queue,) = config.job_queues
    assert queue.scheduling_policy_arn == policy_arn("fs")
    by_arn = FAIR.replace(
        'scheduling_policy_arn = "fs"', f'scheduling_policy_arn = "{policy_arn("fs")}"'
    )
    assert load(by_arn).job_queues[0].scheduling_policy_arn == policy_arn("fs")


def test_queue_naming_an_undefined_policy() -> None:
    text = FAIR.replace('scheduling_policy_arn = "fs"', 'scheduling_policy_arn = "f"')
    problem = only(text)
    assert problem.key == "job_queue[0].scheduling_policy_arn"
    assert problem.message == "names scheduling policy 'f', which this config does not define"
    assert problem.hint == "did you mean 'fs'?"
    assert problem.line == line_of(text, 'scheduling_policy_arn = "f"')


def test_policy_mistakes() -> None:
    text = FAIR.replace("compute_reservation = 25", "compute_reservation = 100\ndecay = 1")
    text = text.replace('share_identifier = "team*"', 'share_identifier = "alice*"')
    found = {p.key: p.message for p in problems_of(text)}
    assert found["scheduling_policy[0].fairshare_policy.compute_reservation"] == (
        "must be at most 99, got 100"
    )
    assert found["scheduling_policy[0].fairshare_policy.decay"] == "unknown key"


def test_overlapping_identifiers_and_duplicate_policy() -> None:
    text = FAIR.replace('share_identifier = "team*"', 'share_identifier = "alice*"') + POLICY
    found = problems_of(text)
    assert any("overlap" in p.message for p in found)
    assert any(
        p.key == "scheduling_policy[1].name"
        and "another scheduling policy is named 'fs'" in p.message
        for p in found
    )


def test_share_identifier_required_on_a_fair_share_queue_and_refused_elsewhere() -> None:
    """What SubmitJob would refuse, `validate` reports, before `run` applies anything."""
    job = JOB.format(name="j")
    problem = only(FAIR + job)
    assert problem.key == "job[0].share_identifier"
    assert "fair-share scheduling policy: a share_identifier is required" in problem.message
    with_share = job + 'share_identifier = "alice"\n'
    assert load(FAIR + with_share).jobs[0].request.share_identifier == "alice"
    problem = only(BASE + with_share)
    assert problem.key == "job[0].share_identifier"
    assert "no scheduling policy (FIFO): share_identifier is not allowed" in problem.message
