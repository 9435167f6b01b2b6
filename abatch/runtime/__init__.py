"""The imperative shell: scheduling loop, attempt supervisors, timeouts, event bus."""

from .runtime import Runtime, StopMode, open_runtime

__all__ = ["Runtime", "StopMode", "open_runtime"]
