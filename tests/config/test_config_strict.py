"""Strict mode enforces the AWS limits that abatch relaxes by default."""

from __future__ import annotations

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


def test_fractional_vcpus_are_fine_on_fargate_in_strict_mode() -> None:
    text = (
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
