"""The declarative TOML config: loading it into validated models, reporting every problem.

`load_config(path)` returns a `LoadedConfig` or raises `ConfigError` listing all problems,
each with its file, dotted key, line and a "did you mean". This package reads files and
never prints.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .jobs import ConfigJob
from .loader import LoadedConfig, load_config, parse_config
from .problems import ConfigError, Problem
from .schedules import ConfigSchedule
from .settings import RuntimeSettings
from .strict import RELAXED_LIMITS

__all__ = [
    "RELAXED_LIMITS",
    "ConfigError",
    "ConfigJob",
    "ConfigSchedule",
    "LoadedConfig",
    "Problem",
    "RuntimeSettings",
    "embedded_quickstart_path",
    "load_config",
    "parse_config",
]


def embedded_quickstart_path() -> Path:
    """The quickstart config shipped inside the package (what `abatch run` uses by default)."""
    return Path(str(files(__name__).joinpath("quickstart.toml")))
