"""Fixtures for the reliability tests: `spawn` as in the CLI tests."""

from __future__ import annotations

from tests.cli.conftest import spawn

__all__ = ["spawn"]
