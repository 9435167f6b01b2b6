"""Strict mode enforces the AWS limits that abatch relaxes by default."""

from __future__ import annotations

from pathlib import Path

from config_samples import BASE, by_key, jobs, line_of, load, only, problems_of

from abatch.config import RELAXED_LIMITS

SHORT_TIMEOUT = jobs("a", extra="timeout = { attempt_duration_seconds = 5 }\n")


def test_short_timeout_is_fine_by_default() -> None:
    config = load(SHORT_TIMEOUT)
    assert config.runtime.strict is False
    timeout = config.jobs[0].request.timeout
    assert timeout is not None and timeout.attempt_duration_seconds == 5


def test_strict_from_the_runtime_table() -> None:
    text = "[runtime]\nstrict = true\n" + SHORT_TIMEOUT
    problem = only(text)
    assert problem.key == "job[0].timeout.attempt_duration_seconds"
    assert problem.message == "must be at least 60 in strict mode (AWS's limit), got 5"
    assert problem.line == line_of(text, "timeout =")


def test_strict_keyword_overrides_the_file() -> None:
    assert only(SHORT_TIMEOUT, strict=True).key == "job[0].timeout.attempt_duration_seconds"
    config = load("[runtime]\nstrict = true\n" + SHORT_TIMEOUT, strict=False)
    assert config.runtime.strict is False
    assert load(BASE, strict=True).runtime.strict is True


def test_timeout_below_one_second_is_refused_even_by_default() -> None:
    problem = only(jobs("a", extra="timeout = { attempt_duration_seconds = 0 }\n"))
    assert problem.message == "must be at least 1, got 0"


def test_strict_definition_limits() -> None:
    text = BASE.replace('image = "busybox"\n', "").replace('value = "1" }', 'value = "0.5" }')
    text += "[job_definition.timeout]\nattempt_duration_seconds = 30\n"
    assert load(text).job_definitions  # fine by default
    found = problems_of(text, strict=True)
    prefix = "job_definition[0]"
    assert by_key(found, f"{prefix}.container_properties.image").message == (
        "is required in strict mode (AWS's limit)"
    )
    vcpu = by_key(found, f"{prefix}.container_properties.resource_requirements[0].value")
    assert "whole number of at least 1" in vcpu.message
    assert by_key(found, f"{prefix}.timeout.attempt_duration_seconds").line == (
        line_of(text, "attempt_duration_seconds")
    )
    assert len(found) == 3


def test_strict_vcpu_is_written_as_a_whole_number() -> None:
    # AWS refuses "1.0" for an EC2 VCPU; a config in strict mode says so before it is sent.
    text = BASE.replace('value = "1" }', 'value = "1.0" }')
    assert load(text).job_definitions
    problem = only(text, strict=True)
    assert problem.key == "job_definition[0].container_properties.resource_requirements[0].value"
    assert problem.message.endswith("on EC2, got '1.0'")


def fargate_base() -> str:
    """BASE with a Fargate definition asking 0.5 vCPU (and Fargate's memory and role)."""
    return (
        BASE.replace('value = "1" }', 'value = "0.5" }')
        .replace('value = "128" }', 'value = "1024" }')
        .replace(
            'parameters = { seconds = "1" }',
            'parameters = { seconds = "1" }\nplatform_capabilities = ["FARGATE"]',
        )
        .replace(
            'image = "busybox"',
            'image = "busybox"\nexecution_role_arn = "arn:aws:iam::123456789012:role/x"',
        )
    )


def test_fractional_vcpus_are_fine_on_fargate_in_strict_mode() -> None:
    text = fargate_base()
    assert load(text, strict=True).job_definitions[0].platform_capabilities == ["FARGATE"]


def test_strict_override_vcpus() -> None:
    text = jobs(
        "a",
        extra=(
            'container_overrides = { resource_requirements = [{ type = "VCPU", value = "1.5" }] }\n'
        ),
    )
    assert load(text).jobs
    problem = only(text, strict=True)
    assert problem.key == "job[0].container_overrides.resource_requirements[0].value"


def test_relaxed_limits_are_listed() -> None:
    assert RELAXED_LIMITS["timeout.attempt_duration_seconds is at least 60"] == "at least 1"
    assert all(isinstance(v, str) and v for v in RELAXED_LIMITS.values())


MULTINODE = (
    BASE
    + """
[[job_definition]]
name = "mnp"
type = "multinode"
[job_definition.node_properties]
num_nodes = 2
main_node = 0
[[job_definition.node_properties.node_range_properties]]
target_nodes = "0:"
[job_definition.node_properties.node_range_properties.container]
image = "busybox"
command = ["true"]
resource_requirements = [{ type = "VCPU", value = "2" }]
"""
)


def test_strict_empty_image_is_no_image() -> None:
    # As the API: an empty image names none, so AWS refuses it like a missing one.
    text = BASE.replace('image = "busybox"', 'image = ""')
    assert load(text).job_definitions
    problem = only(text, strict=True)
    assert problem.key == "job_definition[0].container_properties.image"
    assert problem.message == "is required in strict mode (AWS's limit)"


def test_strict_multinode_containers() -> None:
    text = MULTINODE.replace('image = "busybox"\ncommand = ["true"]', 'command = ["true"]')
    text = text.replace('value = "2" }', 'value = "1.5" }')
    assert load(text).job_definitions
    found = problems_of(text, strict=True)
    node = "job_definition[1].node_properties.node_range_properties[0].container"
    assert by_key(found, f"{node}.image").message == "is required in strict mode (AWS's limit)"
    (vcpu,) = [p for p in found if "VCPU" in p.message]  # its key is long enough to be clipped
    assert vcpu.key.startswith("job_definition[1].node_properties.node_range_properties[0]")
    assert vcpu.line == line_of(text, "resource_requirements", nth=2)
    assert vcpu.message == (
        "VCPU must be a whole number of at least 1 in strict mode (AWS's limit) on EC2, got '1.5'"
    )
    assert len(found) == 2


def test_strict_node_override_vcpus() -> None:
    # The runtime refused this at submit while the file passed: the file refuses it now.
    overrides = (
        'node_overrides = { node_property_overrides = [{ target_nodes = "0:", '
        'container_overrides = { resource_requirements = [{ type = "VCPU", value = "0.5" }] } }] }'
    )
    text = MULTINODE + '\n[[job]]\nname = "m"\njob_queue = "high"\njob_definition = "mnp"\n'
    assert load(text, strict=True).jobs
    text += overrides + "\n"
    assert load(text).jobs
    problem = only(text, strict=True)
    assert problem.key.startswith("job[0].node_overrides.node_property_overrides[0]")
    assert problem.line == line_of(text, "node_overrides")
    assert "whole number of at least 1" in problem.message


def test_strict_override_vcpus_on_fargate_named_by_arn() -> None:
    # A Fargate definition is Fargate whether the job names it by name or by ARN.
    text = fargate_base()
    arn = "arn:aws:batch:us-east-1:123456789012:job-definition/sleeper"
    overrides = (
        'container_overrides = { resource_requirements = [{ type = "VCPU", value = "0.25" }, '
        '{ type = "MEMORY", value = "512" }] }\n'
    )
    for ref in ("sleeper", "sleeper:1", arn, f"{arn}:1"):
        job = f'\n[[job]]\nname = "a"\njob_queue = "high"\njob_definition = "{ref}"\n'
        assert load(text + job + overrides, strict=True).jobs, ref


def test_strict_timeout_override_in_a_job() -> None:
    text = jobs("a", extra="timeout = { attempt_duration_seconds = 59 }\n")
    problem = only(text, strict=True)
    assert problem.key == "job[0].timeout.attempt_duration_seconds"
    assert problem.message == "must be at least 60 in strict mode (AWS's limit), got 59"
    assert load(text.replace("= 59", "= 60"), strict=True).jobs


def test_readme_prints_the_relaxed_limits() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text().replace("`", "")
    for limit, relaxed in RELAXED_LIMITS.items():
        assert f"| {limit} | {relaxed.replace('`', '')} |" in readme, limit
