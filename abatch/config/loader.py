"""Loading a config: read the file, parse TOML, validate every table, check across tables.

Every problem is collected and raised together as one `ConfigError`; nothing else escapes
for bad input. A config with any problem yields no `LoadedConfig`, so nothing is applied.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from abatch.model.policy import SchedulingPolicy
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

from .checks import (
    check_fargate,
    check_job_refs,
    check_job_shares,
    check_jobs_graph,
    check_queue_mix,
    check_queue_policies,
    check_queue_refs,
    name_path,
    unique_names,
)
from .entries import KINDS, Entry, FileTooLarge, file_entry, read_bounded, toml_entry
from .jobs import ConfigJob, job_entry, topological_order
from .lines import KeyPath, LineIndex
from .messages import report_validation
from .problems import ConfigError, Problem, Problems, did_you_mean, show
from .schedules import ConfigSchedule, schedule_entry
from .schema import check_keys, model_table
from .settings import RuntimeSettings
from .strict import check_strict

TABLES = (
    "runtime",
    "compute_environment",
    "job_queue",
    "job_definition",
    "job",
    "schedule",
    "scheduling_policy",
)
_TOML_AT = re.compile(r"\s*\(at (?:line (\d+), column (\d+)|end of document)\)\s*$")


@dataclass
class LoadedConfig:
    """A valid config. `runtime.state_dir` is absolute; jobs and schedules are in file order."""

    path: Path
    runtime: RuntimeSettings
    compute_environments: list[ComputeEnvironment]
    job_queues: list[JobQueue]
    job_definitions: list[JobDefinition]
    jobs: list[ConfigJob]
    schedules: list[ConfigSchedule] = field(default_factory=list)
    scheduling_policies: list[SchedulingPolicy] = field(default_factory=list)

    def job_order(self) -> list[ConfigJob]:
        """Jobs with their dependencies first, otherwise in file order."""
        first: dict[str, int] = {}
        for index, job in enumerate(self.jobs):
            first.setdefault(job.request.job_name, index)
        edges = [
            [first[name] for name, _ in job.depends_on if name is not None and name in first]
            for job in self.jobs
        ]
        order = topological_order(edges)
        placed = set(order)  # a hand-built config with a cycle keeps its jobs, last
        order += [i for i in range(len(self.jobs)) if i not in placed]
        return [self.jobs[i] for i in order]


def load_config(path: str | Path, *, strict: bool | None = None) -> LoadedConfig:
    """Read and validate the config at `path`; raise `ConfigError` with every problem."""
    file = str(path)
    try:
        raw = read_bounded(Path(path))
    except FileTooLarge as err:
        raise _whole_file(file, str(err)) from None
    except FileNotFoundError:
        raise _whole_file(file, "no such file") from None
    except IsADirectoryError:
        raise _whole_file(file, "is a directory, not a config file") from None
    except PermissionError:
        raise _whole_file(file, "cannot be read: permission denied") from None
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or err
        raise _whole_file(file, f"cannot be read: {reason}") from None
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ConfigError([Problem(file, "", line, "is not UTF-8 text")]) from None
    return parse_config(text, path, Path(os.path.abspath(path)).parent, strict=strict)


def parse_config(
    text: str,
    path: str | Path = "<config>",
    base_dir: Path | None = None,
    *,
    strict: bool | None = None,
) -> LoadedConfig:
    """Validate config `text`; relative paths in it are relative to `base_dir`.

    `base_dir` defaults to the directory of `path`; `strict`, when given, overrides
    `[runtime] strict`.
    """
    file = str(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise _toml_error(file, text, str(err)) from None
    except RecursionError:
        raise _whole_file(file, "is nested too deeply") from None
    except ValueError as err:  # an integer of more than 4,300 digits, say
        raise _whole_file(file, f"is not valid TOML: {err}") from None
    problems = Problems(file, LineIndex(text))
    base = Path(os.path.abspath(base_dir if base_dir is not None else Path(file).parent))
    return _build(data, problems, base, Path(path), strict)


def _build(
    data: dict[str, Any], problems: Problems, base: Path, path: Path, strict: bool | None
) -> LoadedConfig:
    for key, value in data.items():
        if key not in TABLES:
            what = "unknown table" if isinstance(value, dict | list) else "unknown key"
            problems.add((key,), what, did_you_mean(key, TABLES))
    runtime, file_strict = _runtime(data.get("runtime", {}), problems, base)
    ce_items, jq_items, jd_items, job_items = (
        _tables(data, kind, problems)
        for kind in ("compute_environment", "job_queue", "job_definition", "job")
    )
    ces: list[Entry[ComputeEnvironment]] = [
        toml_entry(KINDS["compute_environment"], i, item, problems) for i, item in ce_items
    ]
    queues: list[Entry[JobQueue]] = [
        toml_entry(KINDS["job_queue"], i, item, problems) for i, item in jq_items
    ]
    defs: list[Entry[JobDefinition]] = [
        file_entry(i, item, base, problems)
        if "file" in item
        else toml_entry(KINDS["job_definition"], i, item, problems)
        for i, item in jd_items
    ]
    jobs = [job_entry(i, item, problems) for i, item in job_items]
    schedules = [
        schedule_entry(i, item, problems) for i, item in _tables(data, "schedule", problems)
    ]

    policies: list[Entry[SchedulingPolicy]] = [
        toml_entry(KINDS["scheduling_policy"], i, item, problems)
        for i, item in _tables(data, "scheduling_policy", problems)
    ]
    policy_names = unique_names(
        "scheduling_policy", [(name_path(e), e.name) for e in policies], problems
    )
    ce_names = unique_names("compute_environment", [(name_path(e), e.name) for e in ces], problems)
    jq_names = unique_names("job_queue", [(name_path(e), e.name) for e in queues], problems)
    jd_names = unique_names("job_definition", [(name_path(e), e.name) for e in defs], problems)
    job_names = unique_names("job", [((*e.path, "name"), e.name) for e in jobs], problems)
    unique_names("schedule", [((*e.path, "name"), e.name) for e in schedules], problems)
    check_queue_refs([item for _, item in _raw(data, "job_queue")], ce_names, problems)
    check_queue_mix(queues, {e.name: e.model for e in ces if e.name and e.model}, problems)
    check_fargate(ces, defs, problems)
    check_queue_policies(queues, policy_names, problems)
    job_tables: list[tuple[KeyPath, object]] = [(("job", i), item) for i, item in _raw(data, "job")]
    job_tables += [((*e.path, "job"), e.job_table) for e in schedules if e.job_table is not None]
    check_job_refs(job_tables, jq_names, jd_names, problems)
    fair = {e.name for e in queues if e.name and e.model and e.model.scheduling_policy_arn}
    check_job_shares(job_tables, fair, problems)
    check_jobs_graph(jobs, job_names, problems)
    effective_strict = file_strict if strict is None else strict
    if effective_strict:
        check_strict(ces, queues, defs, jobs, problems, schedules)
    if problems or runtime is None:
        raise problems.error()
    return LoadedConfig(
        path=path,
        runtime=runtime.model_copy(update={"strict": effective_strict}),
        compute_environments=[e.model for e in ces if e.model is not None],
        job_queues=[e.model for e in queues if e.model is not None],
        job_definitions=[e.model for e in defs if e.model is not None],
        jobs=[e.job for e in jobs if e.job is not None],
        schedules=[e.schedule for e in schedules if e.schedule is not None],
        scheduling_policies=[e.model for e in policies if e.model is not None],
    )


def _runtime(raw: object, problems: Problems, base: Path) -> tuple[RuntimeSettings | None, bool]:
    if not isinstance(raw, dict):
        problems.add(("runtime",), f"must be a table, not {show(raw)}", "write [runtime]")
        return None, False
    table = model_table(RuntimeSettings, "snake")
    kept = check_keys(raw, table, ("runtime",), problems)
    try:
        settings = RuntimeSettings.model_validate(kept)
    except ValidationError as err:
        report_validation(err, table, ("runtime",), problems)
        return None, raw.get("strict") is True
    state_dir = settings.state_dir
    with suppress(RuntimeError):  # no home directory to expand "~" into: keep it as written
        state_dir = state_dir.expanduser()
    resolved = Path(os.path.abspath(base / state_dir))
    return settings.model_copy(update={"state_dir": resolved}), settings.strict


def _tables(
    data: dict[str, Any], kind: str, problems: Problems
) -> list[tuple[int, dict[str, Any]]]:
    """The tables of an array of tables `[[kind]]`, with their positions."""
    value = data.get(kind)
    if value is None:
        return []
    if isinstance(value, dict):
        problems.add((kind,), "must be an array of tables", f"write [[{kind}]] instead of [{kind}]")
        return []
    if not isinstance(value, list):
        problems.add(
            (kind,), f"must be an array of tables, not {show(value)}", f"write [[{kind}]] tables"
        )
        return []
    out = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            out.append((index, item))
        else:
            problems.add((kind, index), f"must be a table, not {show(item)}")
    return out


def _raw(data: dict[str, Any], kind: str) -> list[tuple[int, object]]:
    value = data.get(kind)
    return list(enumerate(value)) if isinstance(value, list) else []


def _whole_file(file: str, message: str) -> ConfigError:
    return ConfigError([Problem(file, "", None, message)])


def _toml_error(file: str, text: str, message: str) -> ConfigError:
    match = _TOML_AT.search(message)
    line: int | None = None
    if match is not None:
        message = message[: match.start()]
        if match.group(1):
            line = int(match.group(1))
            message += f" (column {match.group(2)})"
        else:
            line = text.count("\n") + 1
            message += " (at the end of the file)"
    return ConfigError([Problem(file, "", line, f"is not valid TOML: {message}")])
