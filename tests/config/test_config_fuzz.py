"""Whatever the input, validation returns a LoadedConfig or raises ConfigError, nothing else."""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abatch.config import ConfigError, LoadedConfig, embedded_quickstart_path, parse_config
from abatch.config.lines import LineIndex

QUICKSTART = tomllib.loads(embedded_quickstart_path().read_text())
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

KEYS = [
    "runtime",
    "compute_environment",
    "job_queue",
    "job_definition",
    "job",
    "name",
    "type",
    "state",
    "priority",
    "compute_environment_order",
    "order",
    "compute_environment",
    "compute_resources",
    "max_vcpus",
    "memory",
    "container_properties",
    "command",
    "resource_requirements",
    "value",
    "depends_on",
    "array_size",
    "timeout",
    "file",
    "attempt_duration_seconds",
    "strict",
    "state_dir",
    "parameters",
    "job_queue_name",
]
FRAGMENTS = [
    "[[job]]\n",
    "[[job_queue]]\n",
    "[runtime]\n",
    "[job_definition.container_properties]\n",
    'name = "a"\n',
    "priority = 1\n",
    "= ",
    '"',
    "'''",
    '"""',
    "[",
    "]",
    "{",
    "}",
    ",",
    "\n",
    "#",
    ".",
    "depends_on = [",
    "strict = true\n",
    'value = "0"',
    "1979-05-27T07:32:00Z",
    "inf",
    "nan",
    "-0",
    "0x1F",
    "\\u00e9",
    "\\",
    "\t",
    "\r\n",
    "é",
    "\x00",
]

scalars = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "VCPU",
            "MEMORY",
            "GPU",
            "N_TO_N",
            "SEQUENTIAL",
            "ENABLED",
            "1",
            "0.5",
            "local",
            "high",
            "sleeper",
            "a",
            "EC2",
            "FARGATE",
            "defs/x.json",
            "",
            "inf",
            "nan",
            "-1",
        ]
    )
)
keys = st.sampled_from(KEYS) | st.text(max_size=6)
requirements = st.fixed_dictionaries(
    {"type": st.sampled_from(["VCPU", "MEMORY", "GPU"]), "value": scalars}
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner | requirements, max_size=4) | st.dictionaries(keys, inner, max_size=4)
    ),
    max_leaves=20,
)


def _string(text: str) -> str:
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return "{" + ", ".join(f"{_string(k)} = {_inline(v)}" for k, v in value.items()) + "}"


def to_toml(document: dict[str, Any]) -> str:
    return "".join(f"{_string(k)} = {_inline(v)}\n" for k, v in document.items())


def _check(text: str) -> None:
    LineIndex(text)
    try:
        result = parse_config(text, "fuzz.toml", Path("/nonexistent-fuzz-dir"))
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.message
            assert problem.line is None or problem.line >= 1
            str(problem)
    else:
        assert isinstance(result, LoadedConfig)
        result.job_order()


@FUZZ
@given(st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=30).map("".join))
def test_random_text(text: str) -> None:
    _check(text)


@FUZZ
@given(st.dictionaries(keys, values, max_size=6))
def test_random_documents(document: dict[str, Any]) -> None:
    _check(to_toml(document))


@FUZZ
@given(st.data())
def test_mutated_quickstart(data: st.DataObject) -> None:
    document = copy.deepcopy(QUICKSTART)
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        node: Any = document
        while True:
            children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
            if not children:
                break
            key, child = data.draw(st.sampled_from(children))
            if isinstance(child, dict | list) and child and data.draw(st.booleans()):
                node = child
                continue
            action = data.draw(st.sampled_from(["replace", "delete", "add"]))
            if action == "replace":
                node[key] = data.draw(values)
            elif action == "delete":
                del node[key]
            elif isinstance(node, dict):
                node[data.draw(keys)] = data.draw(values)
            else:
                node.append(data.draw(values))
            break
    _check(to_toml(document))
