"""Strict mode for requests that reach the runtime directly (the API, schedules): the AWS
limits that the default mode relaxes (see abatch.config.strict.RELAXED_LIMITS, which applies
the same rules to config files with keys and lines)."""

from __future__ import annotations

from typing import Any

AWS_MIN_TIMEOUT_SECONDS = 60


def strict_problems(spec: dict[str, Any], *, fargate: bool = False) -> list[str]:
    """What AWS would refuse in an effective job spec or a definition's AWS JSON
    (`containerProperties` or `container`, `timeout`)."""
    problems = []
    seconds = (spec.get("timeout") or {}).get("attemptDurationSeconds")
    if seconds is not None and seconds < AWS_MIN_TIMEOUT_SECONDS:
        problems.append(
            f"timeout.attemptDurationSeconds is {seconds}; AWS requires at least "
            f"{AWS_MIN_TIMEOUT_SECONDS} (strict mode)"
        )
    container = spec.get("containerProperties") or spec.get("container") or {}
    if container and not container.get("image"):
        problems.append("containerProperties.image is required (strict mode)")
    for req in container.get("resourceRequirements") or []:
        if req.get("type") == "VCPU" and not fargate:
            value = float(req.get("value", "0"))
            if value < 1 or value != int(value):
                problems.append(
                    f"VCPU {req.get('value')} must be a whole number of at least 1 on EC2 "
                    "(strict mode)"
                )
    return problems
