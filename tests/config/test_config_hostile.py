"""Hostile configs built from the real schema: every key the loader knows, at its place, with
wrong types, huge strings, NUL and other control characters, unicode, numbers past 64 bits,
negative numbers, NaN, deep nesting, duplicate names, and files that are not text.

Whatever the input, the loader returns a LoadedConfig or raises ConfigError, whose every
problem names where (a key path, or the whole file for text that is not TOML) and what; it
never raises anything else and never hangs on a file that does not end.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_config_fuzz import to_toml

from abatch.config import ConfigError, LoadedConfig, load_config, parse_config
from abatch.config.entries import KINDS, kind_table
from abatch.config.jobs import JOB_TABLE
from abatch.config.loader import TABLES
from abatch.config.schedules import SCHEDULE_JOB_TABLE
from abatch.config.schema import Free, ListOf, Shape, Table, model_table
from abatch.config.settings import RuntimeSettings

HOSTILE = settings(
    max_examples=60 * int(os.environ.get("ABATCH_FUZZ_SCALE", "1")),  # more: a longer hunt
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)


def shapes() -> dict[str, Table]:
    """Each top-level table of a config and the keys it takes (the loader's own schema)."""
    out = {kind: kind_table(k, "snake") for kind, k in KINDS.items()}
    out["runtime"] = model_table(RuntimeSettings, "snake")
    out["job"] = JOB_TABLE
    out["schedule"] = Table(
        {
            "name": Free(),
            "schedule_expression": Free(),
            "state": Free(),
            "job": SCHEDULE_JOB_TABLE,
        },
        "snake",
    )
    assert set(out) == set(TABLES), "a new top-level table: give it a shape here"
    return out


SHAPES = shapes()
strings = (
    st.sampled_from(
        [
            "",
            "local",
            "high",
            "sleeper",
            "a",
            "VCPU",
            "MEMORY",
            "GPU",
            "1",
            "0.5",
            "-1",
            "ENABLED",
            "MANAGED",
            "EC2",
            "FARGATE",
            "process",
            "docker",
            "container",
            "N_TO_N",
            "rate(1 minute)",
            "cron(0 * * * ? *)",
            "Ref::seconds",
            "../../etc/passwd",
            "/dev/zero",
            "\x00",
            "a\x00b",
            "line\nbreak",
            "\u202e",
            "\U0001f642",
            "0.0.0.0",
            "::",
            "~",
            "~nobody/x",
        ]
    )
    | st.text(max_size=10)
    | st.builds(
        lambda c, n: c * n, st.sampled_from(["x", "é", "\x00", "/"]), st.sampled_from([300, 20_000])
    )
)
numbers = (
    st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from([0, -1, 2**31, 2**63 - 1, -(2**63), 10**9])
    | st.floats(allow_nan=True, allow_infinity=True)
)
scalars = st.booleans() | numbers | strings
anything = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(strings, inner, max_size=3),
    max_leaves=10,
)


def value_for(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value for a key of `shape`: usually its own shape (so checks go deep), else anything."""
    if depth > 4:
        return anything
    if isinstance(shape, Table):
        keys = sorted(shape.fields)
        own = st.lists(st.sampled_from(keys), max_size=5, unique=True).flatmap(
            lambda chosen: st.fixed_dictionaries(
                {k: value_for(shape.fields[k], depth + 1) for k in chosen}
            )
        )
        return own | own | anything
    if isinstance(shape, ListOf):
        return st.lists(value_for(shape.item, depth + 1), max_size=3) | anything
    if isinstance(shape, Free):
        return st.dictionaries(strings, strings, max_size=3) | anything
    return scalars | scalars | anything


def table_docs() -> st.SearchStrategy[dict[str, Any]]:
    parts = {}
    for name, shape in SHAPES.items():
        one = value_for(shape)
        parts[name] = one if name == "runtime" else st.lists(one, max_size=3)
    return st.lists(st.sampled_from(sorted(parts)), max_size=4, unique=True).flatmap(
        lambda chosen: st.fixed_dictionaries({k: parts[k] for k in chosen})
    )


def check(text: str, *, whole_file_ok: bool = False) -> None:
    started = time.monotonic()
    try:
        result = parse_config(text, "hostile.toml", Path("/nonexistent-hostile-dir"))
    except ConfigError as err:
        assert err.problems
        for problem in err.problems:
            assert problem.message.strip(), problem
            assert problem.file == "hostile.toml"
            if not whole_file_ok:
                assert problem.key, f"a problem with no key path: {problem}"
                assert re.split(r"[.\[(]", problem.key)[0].strip('"') in TABLES, problem
            assert problem.line is None or problem.line >= 1
            assert "Traceback" not in str(problem)
            assert len(str(problem)) < 5000, "a message echoing a huge value whole"
    else:
        assert isinstance(result, LoadedConfig)
        result.job_order()
    assert time.monotonic() - started < 30, "one load took more than 30 s"


@HOSTILE
@given(table_docs())
def test_schema_documents_with_hostile_values(document: dict[str, Any]) -> None:
    check(to_toml(document))


@HOSTILE
@given(
    st.lists(st.sampled_from(["a", "a", "b", "B", "a ", "é", "\x00"]), min_size=2, max_size=5),
    st.sampled_from(["compute_environment", "job_queue", "job_definition", "job", "schedule"]),
)
def test_duplicate_names(names: list[str], kind: str) -> None:
    check(to_toml({kind: [{"name": n} for n in names]}))


def test_duplicate_names_are_reported_by_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(to_toml({"job_queue": [{"name": "a"}, {"name": "a"}]}), "d.toml")
    assert any(
        p.key == "job_queue[1].name" and p.message.startswith("another job queue is named 'a'")
        for p in info.value.problems
    ), info.value.problems


@pytest.mark.parametrize("depth", [50, 2_000, 200_000])
@pytest.mark.parametrize(
    "template",
    [
        "x = {open}1{close}\n",
        '[[job]]\nname = "j"\nparameters = {{ p = {open}1{close} }}\n',
        '[runtime]\nstate_dir = {open}"s"{close}\n',
    ],
)
def test_deep_nesting(depth: int, template: str) -> None:
    for open_, close in (("[", "]"), ("{a = ", "}")):
        check(
            template.format(open=open_ * depth, close=close * depth),
            whole_file_ok=True,
        )


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00\x00",
        b'[runtime]\nstate_dir = "\x00"\n',
        b"[runtime]\x00\n",
        b"\xef\xbb\xbf[runtime]\n",
        b'a = "' + b"\xc3" + b'"\n',
        b"\x00" * 10_000,
        b"[[job]]\n" * 10_000,
        b"x = " + b"9" * 100_000 + b"\n",
    ],
)
def test_files_that_are_not_text(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(raw)
    try:
        load_config(path)
    except ConfigError as err:
        assert err.problems and all(p.message for p in err.problems)


@pytest.mark.parametrize("special", ["/dev/zero", "/dev/urandom"])
def test_a_file_that_never_ends_is_refused(tmp_path: Path, special: str) -> None:
    """`abatch run /dev/zero`, or a definition `file` naming one, ends with a problem rather
    than reading until memory runs out."""
    if not os.path.exists(special):
        pytest.skip(f"no {special}")
    with pytest.raises(ConfigError, match="larger than"):
        load_config(special)
    config = tmp_path / "c.toml"
    config.write_text(f'[[job_definition]]\nfile = "{special}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(config)
    (problem,) = info.value.problems
    assert problem.key == "job_definition[0].file"
    assert "larger than" in problem.message
