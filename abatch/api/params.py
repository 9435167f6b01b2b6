"""Reading an operation's JSON body: each member checked for its type and limits, unknown
members refused, every problem a ClientError that names the member.

botocore validates on the client side, but curl, scripts and older SDKs do not, and a wrong
type must never reach the runtime as a 500.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

from abatch.model.errors import ClientError

if TYPE_CHECKING:
    from abatch.runtime import Runtime

Handler = Callable[["Runtime", "Params"], Awaitable[dict[str, Any]]]
# An operation: its handler and the members its body may have (None: a model checks them).
Operation = tuple[Handler, tuple[str, ...] | None]


class Params:
    """The members of one request body. `allowed` lists what the operation takes (None: the
    body is validated by a model, which refuses unknown members itself)."""

    def __init__(self, body: dict[str, Any], allowed: Iterable[str] | None) -> None:
        self.body = body
        unknown = sorted(set(body) - set(allowed)) if allowed is not None else []
        if unknown:
            raise ClientError(f"unknown parameter(s): {', '.join(unknown)}")

    def __contains__(self, key: str) -> bool:
        return self.body.get(key) is not None

    def text(self, key: str, *, max_len: int | None = None) -> str | None:
        value = self.body.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ClientError(f"{key}: expected a string")
        if max_len is not None and len(value) > max_len:
            raise ClientError(f"{key}: at most {max_len} characters")
        return value

    def req_text(self, key: str, *, max_len: int | None = None) -> str:
        value = self.text(key, max_len=max_len)
        if value is None or value == "":
            raise ClientError(f"{key} is required")
        return value

    def number(self, key: str, *, lo: int | None = None, hi: int | None = None) -> int | None:
        value = self.body.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ClientError(f"{key}: expected an integer")
        if lo is not None and hi is not None and not lo <= value <= hi:
            raise ClientError(f"{key} must be between {lo} and {hi}")
        if lo is not None and value < lo:
            raise ClientError(f"{key} must be at least {lo}")
        if hi is not None and value > hi:
            raise ClientError(f"{key} must be at most {hi}")
        return value

    def texts(
        self, key: str, *, required: bool = False, max_items: int | None = None
    ) -> list[str] | None:
        value = self.body.get(key)
        if value is None:
            if required:
                raise ClientError(f"{key} is required")
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ClientError(f"{key}: expected a list of strings")
        if max_items is not None and len(value) > max_items:
            raise ClientError(f"{key}: at most {max_items} items, got {len(value)}")
        return value

    def text_map(self, key: str, *, required: bool = False) -> dict[str, str] | None:
        value = self.body.get(key)
        if value is None:
            if required:
                raise ClientError(f"{key} is required")
            return None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ClientError(f"{key}: expected a map of strings to strings")
        return value

    def obj(self, key: str) -> dict[str, Any] | None:
        value = self.body.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ClientError(f"{key}: expected an object")
        return value

    def flag(self, key: str) -> bool | None:
        value = self.body.get(key)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ClientError(f"{key}: expected true or false")
        return value

    def page_size(self, key: str = "maxResults", *, default: int = 100, hi: int = 100) -> int:
        value = self.number(key, lo=1, hi=hi)
        return default if value is None else value
