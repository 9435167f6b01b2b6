"""One `[[…]]` table validated into a model: compute environments, job queues, definitions,
scheduling policies.

Every table is checked for unknown keys (schema) and then validated by its pydantic model, and
both kinds of problem are reported. An `Entry` keeps what later checks need even when the
model is invalid: the name as written, the key path prefix, and the spelling to report in.
A job definition can live in an AWS `register-job-definition` JSON file (`file = "…"`); its
keys are then camelCase and its problems are keyed `job_definition[i](file).key`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from abatch.model.policy import SchedulingPolicy
from abatch.model.resources import ComputeEnvironment, JobDefinition, JobQueue

from .lines import KeyPath
from .messages import report_validation
from .problems import FileMark, Problems, show
from .schema import LEAF, Shape, Spelling, Table, check_keys, config_path, table_for

M = TypeVar("M", bound=BaseModel)
MAX_FILE_BYTES = 16 * 1024 * 1024  # a config or definition file; /dev/zero is not one


class FileTooLarge(ValueError):
    pass


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of `path`, refusing (FileTooLarge) past `limit`: a file that never ends
    (/dev/zero, /dev/urandom) is not read until memory runs out. OSError as open/read raise."""
    with open(path, "rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(f"is larger than {limit // (1024 * 1024)} MiB")
    return data


@dataclass(frozen=True)
class Kind:
    """A kind of resource table: its model, its name field and the keys it leaves out."""

    table_name: str
    noun: str
    model: type[BaseModel]
    name_field: str
    runtime_fields: frozenset[str]  # set by the runtime, not by a config


KINDS: dict[str, Kind] = {
    k.table_name: k
    for k in (
        Kind(
            "compute_environment",
            "compute environment",
            ComputeEnvironment,
            "compute_environment_name",
            frozenset({"status", "status_reason"}),
        ),
        Kind(
            "job_queue",
            "job queue",
            JobQueue,
            "job_queue_name",
            frozenset({"status", "status_reason"}),
        ),
        Kind(
            "job_definition",
            "job definition",
            JobDefinition,
            "job_definition_name",
            frozenset({"revision", "status"}),
        ),
        Kind("scheduling_policy", "scheduling policy", SchedulingPolicy, "name", frozenset()),
    )
}


@cache
def kind_table(kind: Kind, spelling: Spelling) -> Table:
    model = kind.model
    if spelling == "camel":
        return table_for(model, "camel", exclude=kind.runtime_fields)
    extra: dict[str, Shape] = {"file": LEAF} if kind.table_name == "job_definition" else {}
    moved = {kind.name_field: "did you mean 'name'?"}
    return table_for(
        model,
        "snake",
        rename={kind.name_field: "name"},
        exclude=kind.runtime_fields,
        extra=extra,
        moved=moved,
    )


@dataclass
class Entry(Generic[M]):
    """One table of a config: where it is, its name as written, its model when valid."""

    prefix: KeyPath
    table: Table
    name: str | None
    model: M | None

    def path(self, loc: tuple[int | str, ...]) -> KeyPath:
        """A model location (field names) as a key path in this entry's spelling."""
        return self.prefix + config_path(loc, self.table)


def validate_model(
    model: type[M], data: Mapping[str, Any], table: Table, prefix: KeyPath, problems: Problems
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        report_validation(err, table, prefix, problems)
    except RecursionError:
        problems.add(prefix, "is nested too deeply")
    return None


def toml_entry(kind: Kind, index: int, item: dict[str, Any], problems: Problems) -> Entry[Any]:
    """A `[[compute_environment]]`, `[[job_queue]]` or `[[job_definition]]` table."""
    prefix: KeyPath = (kind.table_name, index)
    table = kind_table(kind, "snake")
    kept = check_keys(item, table, prefix, problems)
    data = {(kind.name_field if k == "name" else k): v for k, v in kept.items()}
    name = item.get("name")
    model = validate_model(kind.model, data, table, prefix, problems)
    return Entry(prefix, table, name if isinstance(name, str) else None, model)


def file_entry(index: int, item: dict[str, Any], base: Path, problems: Problems) -> Entry[Any]:
    """A `[[job_definition]]` table that is only `file = "defs/x.json"`."""
    kind = KINDS["job_definition"]
    prefix: KeyPath = ("job_definition", index)
    table = kind_table(kind, "camel")
    for key in item:
        if key != "file":
            problems.add(
                (*prefix, key),
                "no other key is allowed beside 'file'",
                "put it in the JSON file, or leave 'file' out",
            )
    file = item["file"]
    if not isinstance(file, str) or not file or "\x00" in file:
        problems.add((*prefix, "file"), f"must be the path of a JSON file, not {show(file)}")
        return Entry(prefix, table, None, None)
    data = read_json(base / file, (*prefix, "file"), problems)
    inner = (*prefix, FileMark(file))
    if data is None:
        return Entry(inner, table, None, None)
    if not isinstance(data, dict):
        problems.add(inner, "must hold a JSON object: a register-job-definition document")
        return Entry(inner, table, None, None)
    name = data.get("jobDefinitionName")
    kept = check_keys(data, table, inner, problems)
    model = validate_model(JobDefinition, kept, table, inner, problems)
    return Entry(inner, table, name if isinstance(name, str) else None, model)


def read_json(path: Path, key: KeyPath, problems: Problems) -> object | None:
    try:
        text = read_bounded(path).decode("utf-8")
    except FileTooLarge as err:
        problems.add(key, f"{path} {err}")
        return None
    except FileNotFoundError:
        problems.add(key, f"no such file: {path}")
        return None
    except IsADirectoryError:
        problems.add(key, f"{path} is a directory, not a JSON file")
        return None
    except UnicodeDecodeError:
        problems.add(key, f"{path} is not UTF-8 text")
        return None
    except (OSError, ValueError) as err:
        problems.add(key, f"cannot read {path}: {getattr(err, 'strerror', None) or err}")
        return None
    try:
        data: object = json.loads(text)
        return data
    except json.JSONDecodeError as err:
        problems.add(key, f"{path} is not JSON: {err.msg} at line {err.lineno}, column {err.colno}")
    except RecursionError:
        problems.add(key, f"{path} is nested too deeply")
    return None
