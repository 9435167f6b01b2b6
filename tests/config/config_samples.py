"""Shared config snippets for the config tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

from pathlib import Path

from abatch.config import ConfigError, LoadedConfig, Problem, parse_config

BASE = """\
[[compute_environment]]
name = "local"
[compute_environment.compute_resources]
max_vcpus = 4

[[job_queue]]
name = "high"
priority = 10
compute_environment_order = [{ order = 1, compute_environment = "local" }]

[[job_definition]]
name = "sleeper"
parameters = { seconds = "1" }
[job_definition.container_properties]
image = "busybox"
command = ["sleep", "Ref::seconds"]
resource_requirements = [{ type = "VCPU", value = "1" }, { type = "MEMORY", value = "128" }]
"""

JOB = """
[[job]]
name = "{name}"
job_queue = "high"
job_definition = "sleeper"
"""


def jobs(*names: str, extra: str = "") -> str:
    return BASE + "".join(JOB.format(name=n) for n in names) + extra


def load(text: str, base_dir: Path | None = None, strict: bool | None = None) -> LoadedConfig:
    return parse_config(text, "cfg.toml", base_dir, strict=strict)


def problems_of(
    text: str, base_dir: Path | None = None, strict: bool | None = None
) -> list[Problem]:
    try:
        parse_config(text, "cfg.toml", base_dir, strict=strict)
    except ConfigError as err:
        assert err.problems, "a ConfigError always carries problems"
        return err.problems
    raise AssertionError("expected a ConfigError")


def only(text: str, base_dir: Path | None = None, strict: bool | None = None) -> Problem:
    found = problems_of(text, base_dir, strict)
    assert len(found) == 1, "\n".join(map(str, found))
    return found[0]


def by_key(found: list[Problem], key: str) -> Problem:
    matches = [p for p in found if p.key == key]
    assert len(matches) == 1, f"{key!r} in:\n" + "\n".join(map(str, found))
    return matches[0]


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing `needle`."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[nth - 1]
