"""Every config shipped in configs/ is valid, as `abatch validate` says."""

from __future__ import annotations

from pathlib import Path

import pytest

from abatch.config import load_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.toml"))


def test_there_are_configs() -> None:
    assert {p.name for p in CONFIGS} >= {
        "quickstart.toml",
        "spot.toml",
        "unmanaged.toml",
        "fairshare.toml",
    }


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_shipped_config_is_valid(path: Path) -> None:
    loaded = load_config(path)
    assert loaded.compute_environments and loaded.job_queues and loaded.job_definitions
