"""Retry decisions: whether a failed attempt goes back to RUNNABLE (reference §2, §7).

- attempts made < retryStrategy.attempts (default 1: no retry);
- evaluateOnExit rules in order, the first whose every given condition matches decides;
  no match means RETRY;
- a pattern matches the whole string, or a prefix when it ends in '*'; a missing value matches
  only '*';
- cancelled, terminated and timed-out attempts are never retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True, frozen=True)
class RetryDecision:
    retry: bool
    why: str


def pattern_matches(pattern: str, value: str | None) -> bool:
    if pattern == "*":
        return True
    if value is None:
        return False
    if pattern.endswith("*"):
        return value.startswith(pattern[:-1])
    return value == pattern


def decide_retry(
    retry_strategy: dict[str, Any] | None,
    attempts_counted: int,
    *,
    exit_code: int | None,
    reason: str | None,
    status_reason: str | None,
    final: bool = False,
) -> RetryDecision:
    """`retry_strategy` is the AWS-shaped dict (`attempts`, `evaluateOnExit`).
    `attempts_counted` includes the attempt that just failed. `final` marks a failure that is
    never retried (cancel, terminate, timeout)."""
    if final:
        return RetryDecision(False, "not retried: cancelled, terminated or timed out")
    allowed = int((retry_strategy or {}).get("attempts") or 1)
    if attempts_counted >= allowed:
        return RetryDecision(False, f"attempt {attempts_counted} of {allowed}")
    code = None if exit_code is None else str(exit_code)
    for i, rule in enumerate((retry_strategy or {}).get("evaluateOnExit") or []):
        checks = (
            ("onStatusReason", status_reason),
            ("onReason", reason),
            ("onExitCode", code),
        )
        if all(rule.get(key) is None or pattern_matches(rule[key], value) for key, value in checks):
            action = str(rule.get("action", "RETRY")).upper()
            return RetryDecision(action == "RETRY", f"evaluateOnExit[{i}] says {action}")
    return RetryDecision(True, f"attempt {attempts_counted} of {allowed}, retrying")
