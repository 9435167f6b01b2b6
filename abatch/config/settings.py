"""`[runtime]`: settings of the abatch runtime itself, which AWS has no field for."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

# The API's default port. It is `abatch.api.DEFAULT_PORT`, repeated here because config sits
# below the api layer and must not import it; a test checks that the two agree.
DEFAULT_API_PORT = 8765
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9-]{1,63})*$")


class RuntimeSettings(BaseModel):
    """The `[runtime]` table. Every key is optional.

    `state_dir` is relative to the config file's directory until the loader resolves it.
    `api_host`, `api_port` and `api_auth` are where `abatch serve` (and `abatch run
    --keep-running`) serve the API; the command line overrides them. An `api_host` that is
    not a loopback address needs `api_auth = true` in the same table: the config alone must
    never describe an API open to the network without authentication (the CLI and
    `serve_api` check the address they are finally given again).
    """

    model_config = ConfigDict(extra="forbid")

    state_dir: Path = Path(".abatch")
    # Strict types: TOML has real booleans and numbers, so "yes" or "10" is a mistake.
    kill_grace_seconds: float = Field(default=30.0, gt=0, le=3600, strict=True)
    strict: bool = Field(default=False, strict=True)
    log_tail_lines: int = Field(default=20, ge=0, le=1000, strict=True)
    # api_auth before api_host: the check of api_host reads it.
    api_auth: bool = Field(default=False, strict=True)
    api_host: str = Field(default="127.0.0.1", strict=True, validate_default=True)
    api_port: int = Field(default=DEFAULT_API_PORT, ge=0, le=65535, strict=True)  # 0: any free
    # A process job's log stops growing here; the cut is marked in the log.
    max_log_bytes: int = Field(default=1 << 30, ge=1, le=1 << 50, strict=True)

    @field_validator("state_dir", mode="before")
    @classmethod
    def _state_dir(cls, value: object) -> object:
        if isinstance(value, str) and (not value.strip() or "\x00" in value):
            raise ValueError("must be a directory path, not empty and with no NUL character")
        return value

    @field_validator("api_host")
    @classmethod
    def _api_host(cls, value: str, info: ValidationInfo) -> str:
        if not is_host(value):
            raise ValueError(
                f"must be an IP address or a host name (such as 127.0.0.1, ::1 or localhost), "
                f"not {value!r}"
            )
        if info.data.get("api_auth") is False and not is_loopback(value):
            raise ValueError(
                f"{value!r} is not a loopback address: serving the API there needs "
                "api_auth = true (or bind 127.0.0.1)"
            )
        return value


def is_loopback(host: str) -> bool:
    """localhost, or an address in 127.0.0.0/8 or ::1."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_host(text: str) -> bool:
    """An IPv4/IPv6 address or a DNS host name (what a server can bind)."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return bool(_HOSTNAME.match(text))
    return True
