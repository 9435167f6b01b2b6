"""Finding the line of a key in TOML text."""

from __future__ import annotations

from abatch.config.lines import LineIndex

TEXT = """\
# a comment with [[job]] in it
[runtime]
state_dir = "x"   # trailing comment

[[job_queue]]
name = "a"

[[job_queue]]
name = "b"
compute_environment_order = [
    { order = 1, compute_environment = "x" },  # first
    { order = 2,
      compute_environment = "y" },
]
'quoted key' = 1
"dotted.\\"key\\"" = 2
tags.team = "t"

[[job_definition]]
name = "d"
notes = \"\"\"
multi [line]
= string\"\"\"
[job_definition.container_properties]
command = ['a', "b ] {"]
environment = [
  [1, 2],
  { name = "X" },
]

[[job_definition]]
[job_definition.container_properties]
image = "busybox"

[[job_definition.node_properties.node_range_properties]]
target_nodes = "0:"
[[job_definition.node_properties.node_range_properties]]
target_nodes = "1:"
"""


def test_lines() -> None:
    lines = LineIndex(TEXT)
    expected = {
        ("runtime",): 2,
        ("runtime", "state_dir"): 3,
        ("job_queue",): 5,
        ("job_queue", 0): 5,
        ("job_queue", 0, "name"): 6,
        ("job_queue", 1): 8,
        ("job_queue", 1, "name"): 9,
        ("job_queue", 1, "compute_environment_order"): 10,
        ("job_queue", 1, "compute_environment_order", 0, "compute_environment"): 11,
        ("job_queue", 1, "compute_environment_order", 1): 12,
        ("job_queue", 1, "compute_environment_order", 1, "compute_environment"): 13,
        ("job_queue", 1, "quoted key"): 15,
        ("job_queue", 1, 'dotted."key"'): 16,
        ("job_queue", 1, "tags", "team"): 17,
        ("job_definition", 0, "notes"): 21,
        ("job_definition", 0, "container_properties"): 24,
        ("job_definition", 0, "container_properties", "command", 1): 25,
        ("job_definition", 0, "container_properties", "environment", 0, 1): 27,
        ("job_definition", 0, "container_properties", "environment", 1, "name"): 28,
        ("job_definition", 1): 31,
        ("job_definition", 1, "container_properties", "image"): 33,
        ("job_definition", 1, "node_properties", "node_range_properties", 1): 37,
        ("job_definition", 1, "node_properties", "node_range_properties", 1, "target_nodes"): 38,
    }
    assert {path: lines.exact(path) for path in expected} == expected


def test_missing_keys_fall_back_to_the_nearest_enclosing_key() -> None:
    lines = LineIndex(TEXT)
    assert lines.line_of(("job_queue", 0, "priority")) == 5
    assert lines.line_of(("job_queue", 1, "compute_environment_order", 0, "order", 3)) == 11
    assert lines.line_of(("nothing",)) is None
    assert lines.line_of(()) is None


def test_invalid_text_never_raises() -> None:
    for text in ("[[", "a = [1, {", 'a = "', "= 1", "[a]]]", "a = '''", "\\u"):
        LineIndex(text).line_of(("a",))
