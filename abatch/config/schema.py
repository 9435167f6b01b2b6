"""The shape of a config: which keys are allowed where, in which spelling.

A `Table` is built from a pydantic model: its keys are the model's field names (TOML, the
snake_case spelling) or their camelCase aliases (AWS JSON files). The walk in `check_keys`
reports every key that is not allowed at its position, with a "did you mean", before pydantic
sees the data; `config_path` turns a pydantic error location (field names or aliases) back
into the key path the person wrote.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from .lines import KeyPath
from .problems import Problems, did_you_mean

Spelling = Literal["snake", "camel"]


@dataclass(frozen=True)
class Leaf:
    """A value whose keys (if any) are not checked here."""


@dataclass(frozen=True)
class Free:
    """A map with keys of the person's choosing (parameters, tags)."""


@dataclass(frozen=True)
class ListOf:
    item: Shape


@dataclass(frozen=True, eq=False)
class Table:
    fields: Mapping[str, Shape]
    spelling: Spelling
    from_model: Mapping[str, str] = field(default_factory=dict)  # field name or alias -> key
    other_spelling: Mapping[str, str] = field(default_factory=dict)  # wrong spelling -> key
    moved: Mapping[str, str] = field(default_factory=dict)  # key written elsewhere -> hint


Shape = Table | ListOf | Free | Leaf
LEAF = Leaf()


def table_for(
    model: type[BaseModel],
    spelling: Spelling,
    *,
    rename: Mapping[str, str] | None = None,
    exclude: frozenset[str] = frozenset(),
    extra: Mapping[str, Shape] | None = None,
    moved: Mapping[str, str] | None = None,
) -> Table:
    """The keys of `model` in one spelling; `rename` maps field names to config keys."""
    rename = rename or {}
    fields: dict[str, Shape] = {}
    from_model: dict[str, str] = {}
    other: dict[str, str] = {}
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        alias = info.alias or name
        key = rename.get(name) or (name if spelling == "snake" else alias)
        fields[key] = shape_of(info.annotation, spelling)
        from_model[name] = from_model[alias] = key
        wrong = alias if spelling == "snake" else name
        if wrong != key:
            other[wrong] = key
    fields.update(extra or {})
    return Table(fields, spelling, from_model, other, dict(moved or {}))


@cache
def model_table(model: type[BaseModel], spelling: Spelling) -> Table:
    return table_for(model, spelling)


def shape_of(annotation: Any, spelling: Spelling) -> Shape:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if origin is Annotated:
        return shape_of(args[0], spelling)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return shape_of(inner[0], spelling) if len(inner) == 1 else LEAF
    if origin is list:
        return ListOf(shape_of(args[0], spelling) if args else LEAF)
    if origin is dict:
        return Free()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_table(annotation, spelling)
    return LEAF


def check_keys(data: Any, shape: Shape, path: KeyPath, problems: Problems) -> Any:
    """Report every key of `data` that `shape` does not allow, however deep.

    Returns `data` without those keys, so that pydantic, which takes both spellings, cannot
    act on a key that was refused here.
    """
    if isinstance(shape, Table) and isinstance(data, dict):
        kept: dict[str, Any] = {}
        for key, value in data.items():
            child = shape.fields.get(key)
            if child is None:
                problems.add((*path, key), "unknown key", unknown_key_hint(key, shape))
            else:
                kept[key] = check_keys(value, child, (*path, key), problems)
        return kept
    if isinstance(shape, ListOf) and isinstance(data, list):
        return [check_keys(item, shape.item, (*path, i), problems) for i, item in enumerate(data)]
    return data


def unknown_key_hint(key: str, table: Table) -> str | None:
    if key in table.moved:
        return table.moved[key]
    if key in table.other_spelling:
        why = (
            "keys are snake_case in TOML"
            if table.spelling == "snake"
            else ("AWS JSON files use camelCase keys")
        )
        return f"did you mean {table.other_spelling[key]!r}? {why}"
    return did_you_mean(key, table.fields)


def config_path(loc: tuple[int | str, ...], shape: Shape) -> KeyPath:
    """A pydantic error location, in model names or aliases, as the key path in the config."""
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int):
            out.append(part)
            shape = shape.item if isinstance(shape, ListOf) else LEAF
        elif part == "[key]":
            continue
        elif isinstance(shape, Table):
            key = shape.from_model.get(part, part)
            out.append(key)
            shape = shape.fields.get(key, LEAF)
        else:
            out.append(part)
            shape = LEAF
    return tuple(out)
