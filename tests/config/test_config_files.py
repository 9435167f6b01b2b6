"""Whole-file problems: missing, a directory, not UTF-8, not TOML."""

from __future__ import annotations

from pathlib import Path

import pytest
from config_samples import BASE, only

from abatch.config import ConfigError, Problem, load_config
from abatch.model.errors import ClientError


def _one(path: str | Path) -> Problem:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert len(info.value.problems) == 1
    return info.value.problems[0]


def test_missing_file(tmp_path: Path) -> None:
    problem = _one(tmp_path / "nope.toml")
    assert (problem.key, problem.line, problem.message) == ("", None, "no such file")
    assert str(problem) == f"{tmp_path / 'nope.toml'}: no such file"


def test_directory(tmp_path: Path) -> None:
    problem = _one(tmp_path)
    assert problem.message == "is a directory, not a config file"
    assert problem.file == str(tmp_path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b"[runtime]\nstrict = true\n# caf\xe9\n")
    problem = _one(path)
    assert (problem.line, problem.message) == (3, "is not UTF-8 text")


def test_not_toml_reports_the_parsers_line(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[runtime]\nstrict = true\nthis is not toml\n")
    problem = _one(path)
    assert problem.line == 3
    assert problem.message.startswith("is not valid TOML: ")
    assert "(column" in problem.message
    assert str(problem).startswith(f"{path}:3: is not valid TOML")


def test_not_toml_at_end_of_document() -> None:
    problem = only('[runtime]\nstate_dir = "x')
    assert problem.line == 2
    assert problem.message.startswith("is not valid TOML")


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf" + BASE.encode())
    assert load_config(path).compute_environments[0].compute_environment_name == "local"


def test_config_error_is_a_client_error_with_one_line_per_problem() -> None:
    err = ConfigError([Problem("f", "a", 1, "bad"), Problem("f", "", None, "worse", "try x")])
    assert isinstance(err, ClientError)
    assert str(err) == "f:1: a: bad\nf: worse (try x)"


def test_problem_str_omits_unknown_parts() -> None:
    assert str(Problem("c.toml", "job[0].name", 7, "bad", "did you mean 'x'?")) == (
        "c.toml:7: job[0].name: bad (did you mean 'x'?)"
    )
    assert str(Problem("c.toml", "job[0]", None, "bad")) == "c.toml: job[0]: bad"
