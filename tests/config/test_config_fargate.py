"""Fargate's rules in a config: every problem at once, with its key and line."""

from __future__ import annotations

from config_samples import line_of, load, problems_of

GOOD = """\
[[compute_environment]]
name = "fg"
[compute_environment.compute_resources]
type = "FARGATE_SPOT"
max_vcpus = 4
subnets = ["subnet-1"]

[[job_queue]]
name = "fq"
priority = 1
compute_environment_order = [{ order = 1, compute_environment = "fg" }]

[[job_definition]]
name = "small"
platform_capabilities = ["FARGATE"]
[job_definition.container_properties]
image = "busybox"
command = ["true"]
execution_role_arn = "arn:aws:iam::123456789012:role/exec"
resource_requirements = [{ type = "VCPU", value = "0.25" }, { type = "MEMORY", value = "512" }]
"""


def test_a_valid_fargate_config_loads() -> None:
    config = load(GOOD)
    assert config.job_definitions[0].is_fargate


def test_every_fargate_problem_is_reported_with_its_key_and_line() -> None:
    text = (
        GOOD.replace("max_vcpus = 4\n", "max_vcpus = 4\nmin_vcpus = 0\ninstance_types = ['m5']\n")
        .replace('value = "512"', 'value = "4096"')
        .replace('command = ["true"]\n', 'command = ["true"]\nprivileged = true\n')
        .replace('execution_role_arn = "arn:aws:iam::123456789012:role/exec"\n', "")
    )
    found = {(p.key, p.line): p.message for p in problems_of(text)}
    assert found == {
        ("compute_environment[0].compute_resources.min_vcpus", line_of(text, "min_vcpus")): (
            "not allowed on a Fargate compute environment"
        ),
        (
            "compute_environment[0].compute_resources.instance_types",
            line_of(text, "instance_types"),
        ): "not allowed on a Fargate compute environment",
        (
            "job_definition[0].container_properties.resource_requirements",
            line_of(text, "resource_requirements"),
        ): (
            "MEMORY 4096 does not go with VCPU 0.25 on Fargate; with 0.25 vCPU it must be "
            "512, 1024, 2048 MiB"
        ),
        ("job_definition[0].container_properties.privileged", line_of(text, "privileged")): (
            "not allowed on Fargate"
        ),
        (
            "job_definition[0].container_properties.execution_role_arn",
            line_of(text, "[job_definition.container_properties]"),
        ): "is required on Fargate",
    }
