"""`[[job_definition]] file = "…"`: AWS register-job-definition JSON documents, used as is."""

from __future__ import annotations

import json
from pathlib import Path

from config_samples import BASE, by_key, line_of, load, only, problems_of

from abatch.model.enums import ResourceType

DOC = {
    "jobDefinitionName": "train",
    "type": "container",
    "parameters": {"epochs": "3"},
    "containerProperties": {
        "image": "python:3",
        "command": ["python3", "-c", "print(1)"],
        "resourceRequirements": [{"type": "VCPU", "value": "2"}],
    },
    "retryStrategy": {"attempts": 2, "evaluateOnExit": [{"onExitCode": "1", "action": "retry"}]},
    "timeout": {"attemptDurationSeconds": 120},
}
FILE_TABLE = '\n[[job_definition]]\nfile = "defs/train.json"\n'


def _write(tmp_path: Path, doc: object) -> None:
    (tmp_path / "defs").mkdir(exist_ok=True)
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2)
    (tmp_path / "defs" / "train.json").write_text(text)


def test_json_definition_is_loaded_relative_to_the_config(tmp_path: Path) -> None:
    _write(tmp_path, DOC)
    config = load(BASE + FILE_TABLE, base_dir=tmp_path)
    train = config.job_definitions[1]
    assert train.job_definition_name == "train"
    assert train.container_properties is not None
    assert train.container_properties.requirement(ResourceType.VCPU) == 2
    assert train.revision is None and train.status is None


def test_missing_file(tmp_path: Path) -> None:
    text = BASE + FILE_TABLE
    problem = only(text, base_dir=tmp_path)
    assert problem.key == "job_definition[1].file"
    assert problem.message == f"no such file: {tmp_path / 'defs' / 'train.json'}"
    assert problem.line == line_of(text, "file =")


def test_not_json(tmp_path: Path) -> None:
    _write(tmp_path, '{"jobDefinitionName": "train",\n  oops}')
    problem = only(BASE + FILE_TABLE, base_dir=tmp_path)
    assert problem.key == "job_definition[1].file"
    assert "is not JSON: " in problem.message
    assert problem.message.endswith("at line 2, column 3")


def test_not_an_object(tmp_path: Path) -> None:
    _write(tmp_path, [DOC])
    problem = only(BASE + FILE_TABLE, base_dir=tmp_path)
    assert problem.key == "job_definition[1](defs/train.json)"
    assert problem.message == "must hold a JSON object: a register-job-definition document"


def test_problems_inside_are_keyed_by_file_and_camel_case(tmp_path: Path) -> None:
    doc = json.loads(json.dumps(DOC))
    doc["containerProperties"]["image"] = 5
    doc["containerProperties"]["comand"] = ["x"]
    doc["containerProperties"]["resource_requirements"] = []
    _write(tmp_path, doc)
    text = BASE + FILE_TABLE
    found = problems_of(text, base_dir=tmp_path)
    prefix = "job_definition[1](defs/train.json).containerProperties"
    image = by_key(found, f"{prefix}.image")
    assert image.message == "must be a string, not 5"
    assert image.line == line_of(text, "file =")
    assert by_key(found, f"{prefix}.comand").hint == "did you mean 'command'?"
    assert by_key(found, f"{prefix}.resource_requirements").hint == (
        "did you mean 'resourceRequirements'? AWS JSON files use camelCase keys"
    )
    assert len(found) == 3


def test_missing_required_field_inside_uses_the_aws_spelling(tmp_path: Path) -> None:
    _write(tmp_path, {k: v for k, v in DOC.items() if k != "jobDefinitionName"})
    problem = only(BASE + FILE_TABLE, base_dir=tmp_path)
    assert problem.key == "job_definition[1](defs/train.json).jobDefinitionName"
    assert problem.message == "is required"


def test_file_is_the_only_key_allowed(tmp_path: Path) -> None:
    _write(tmp_path, DOC)
    problem = only(BASE + FILE_TABLE + 'name = "x"\n', base_dir=tmp_path)
    assert (problem.key, problem.message) == (
        "job_definition[1].name",
        "no other key is allowed beside 'file'",
    )


def test_json_names_take_part_in_cross_checks(tmp_path: Path) -> None:
    _write(tmp_path, {**DOC, "jobDefinitionName": "sleeper"})
    problem = only(BASE + FILE_TABLE, base_dir=tmp_path)
    assert problem.key == "job_definition[1](defs/train.json).jobDefinitionName"
    assert problem.message.startswith("another job definition is named 'sleeper'")
    assert problem.line == line_of(BASE + FILE_TABLE, "file =")


def test_file_must_be_a_string(tmp_path: Path) -> None:
    problem = only(BASE + "\n[[job_definition]]\nfile = 3\n", base_dir=tmp_path)
    assert problem.message == "must be the path of a JSON file, not 3"


def test_directory_instead_of_file(tmp_path: Path) -> None:
    (tmp_path / "defs" / "train.json").mkdir(parents=True)
    problem = only(BASE + FILE_TABLE, base_dir=tmp_path)
    assert problem.message.endswith("is a directory, not a JSON file")
