"""The imperative shell: scheduling loop, attempt supervisors, timeouts, event bus."""

from .runtime import Runtime, open_runtime

__all__ = ["Runtime", "open_runtime"]
