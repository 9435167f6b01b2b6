"""One exception hierarchy for the whole of abatch.

Every layer raises these; only the API edge maps them to AWS `ClientException` JSON and only
the CLI turns them into printed messages. A message is written for a person: it names the
field or resource and says what is wrong.
"""

from __future__ import annotations


class AbatchError(Exception):
    """Base of every error abatch raises on purpose."""


class ClientError(AbatchError):
    """Bad input or a request that cannot be honoured (AWS `ClientException`)."""


class NotFoundError(ClientError):
    """A named resource or job does not exist."""


class ConflictError(ClientError):
    """The request contradicts the current state (e.g. deleting an enabled queue)."""


class StateDirError(AbatchError):
    """The state directory cannot be used: not writable, locked, newer schema."""


class StateDirLockedError(StateDirError):
    """Another runtime owns the state directory."""

    def __init__(self, message: str, holder_pid: int | None = None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


class IllegalTransitionError(AbatchError):
    """A job status change that the state machine does not allow (a bug, not user input)."""
