"""Messages keep a field's full path and cut a hostile value to its start and length."""

from __future__ import annotations

from abatch.model.errors import MAX_MESSAGE, clip


def test_a_long_field_path_is_kept_whole() -> None:
    path = (
        "nodeOverrides.nodePropertyOverrides[0].containerOverrides.resourceRequirements[0].value:"
    )
    config_key = (
        "job_definition[1].node_properties.node_range_properties[0].container"
        ".resource_requirements[0].value"
    )
    for text in (f"{path} VCPU must be a whole number", f"{config_key}: is required"):
        assert clip(text) == text


def test_a_hostile_value_is_cut_to_its_start_and_length() -> None:
    name = "x" * 5000
    text = clip(f"job queue {name!r} does not exist")
    # The quotes are part of the run: its first 60 characters, then its length.
    assert "'" + "x" * 59 + "...(5002 characters)" in text
    assert "x" * 60 not in text
    assert len(clip(" ".join(["y" * 100] * 100))) <= MAX_MESSAGE
