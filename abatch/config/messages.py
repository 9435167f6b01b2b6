"""Pydantic validation errors as short messages for a person.

Each error becomes (message, hint): no "Value error, " prefixes, no URLs, the offending value
shown briefly. The key path is reported beside the message, so messages do not repeat it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from .lines import KeyPath
from .problems import Problems, show
from .schema import Shape, config_path

_TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "string": "a string",
    "list": "a list",
    "dict": "a table",
    "model": "a table",
    "model_attributes": "a table",
    "enum": "one of the listed values",
    "path": "a path (a string)",
}


def report_validation(
    err: ValidationError,
    shape: Shape,
    prefix: KeyPath,
    problems: Problems,
    *,
    line: int | None = None,
    skip_extra: bool = True,
    remap: Callable[[tuple[int | str, ...]], tuple[int | str, ...]] | None = None,
) -> None:
    """Add one problem per pydantic error, keyed in the config's spelling under `prefix`."""
    for detail in err.errors(include_url=False):
        if skip_extra and detail["type"] == "extra_forbidden":
            continue  # reported, with a "did you mean", by schema.check_keys
        loc = remap(detail["loc"]) if remap is not None else detail["loc"]
        path = prefix + config_path(loc, shape)
        message, hint = describe(detail)
        problems.add(path, message, hint, line=line)


def describe(detail: ErrorDetails) -> tuple[str, str | None]:
    kind = detail["type"]
    ctx: dict[str, Any] = dict(detail.get("ctx") or {})
    value = detail.get("input")
    last = detail["loc"][-1] if detail["loc"] else None
    got = f", not {show(value)}"
    if kind == "missing":
        return "is required", None
    if kind == "extra_forbidden":
        return "unknown key", None
    if kind in ("value_error", "assertion_error"):
        text = str(ctx.get("error") or detail["msg"])
        return text.removeprefix("Value error, ").removeprefix("Assertion failed, "), None
    if kind == "list_type" and last == "command":
        return (
            f"must be a list of strings{got}",
            "commands are argument vectors, run with no shell: "
            '["echo", "hi"] or ["sh", "-c", "echo hi"]',
        )
    if kind == "string_type" and isinstance(value, int | float) and not isinstance(value, bool):
        return f"must be a string{got}", f'write it in quotes: "{value}"'
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return _bound(kind, ctx, value), None
    if kind == "too_long":
        return _too_long(ctx, last), None
    if kind == "too_short":
        least = ctx.get("min_length", 1)
        noun = "entry" if least == 1 else "entries"
        return f"needs at least {least} {noun}", None
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters long", None
    if kind == "string_too_short":
        return "must not be empty", None
    if kind == "enum":
        return f"must be {ctx.get('expected', 'one of the allowed values')}{got}", None
    stem = kind.split("_")[0] if kind.endswith(("_type", "_parsing")) else ""
    if kind.startswith("model_attributes"):
        stem = "model_attributes"
    if stem in _TYPE_WORDS:
        return f"must be {_TYPE_WORDS[stem]}{got}", None
    if kind == "int_from_float":
        return f"must be a whole number{got}", None
    if kind in ("finite_number",):
        return f"must be a finite number{got}", None
    text = detail["msg"].replace("Input should be", "must be").removeprefix("Value error, ")
    return f"{text}{got}" if kind.endswith(("_type", "_parsing")) else text, None


def _bound(kind: str, ctx: dict[str, Any], value: object) -> str:
    words = {
        "greater_than": ("greater than", "gt"),
        "greater_than_equal": ("at least", "ge"),
        "less_than": ("less than", "lt"),
        "less_than_equal": ("at most", "le"),
    }
    word, name = words[kind]
    return f"must be {word} {ctx.get(name)}, got {show(value)}"


def _too_long(ctx: dict[str, Any], last: int | str | None) -> str:
    most, actual = ctx.get("max_length"), ctx.get("actual_length")
    if last in ("compute_environment_order", "computeEnvironmentOrder"):
        return f"a job queue can use at most {most} compute environments, not {actual}"
    return f"has {actual} entries; at most {most} are allowed"
