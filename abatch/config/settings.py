"""`[runtime]`: settings of the abatch runtime itself, which AWS has no field for."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RuntimeSettings(BaseModel):
    """The `[runtime]` table. Every key is optional.

    `state_dir` is relative to the config file's directory until the loader resolves it.
    """

    model_config = ConfigDict(extra="forbid")

    state_dir: Path = Path(".abatch")
    # Strict types: TOML has real booleans and numbers, so "yes" or "10" is a mistake.
    kill_grace_seconds: float = Field(default=30.0, gt=0, le=3600, strict=True)
    strict: bool = Field(default=False, strict=True)
    log_tail_lines: int = Field(default=20, ge=0, le=1000, strict=True)

    @field_validator("state_dir", mode="before")
    @classmethod
    def _state_dir(cls, value: object) -> object:
        if isinstance(value, str) and (not value.strip() or "\x00" in value):
            raise ValueError("must be a directory path, not empty and with no NUL character")
        return value
