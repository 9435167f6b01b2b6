"""One exception hierarchy for the whole of abatch.

Every layer raises these; only the API edge maps them to AWS `ClientException` JSON and only
the CLI turns them into printed messages. A message is written for a person: it names the
field or resource and says what is wrong.
"""

from __future__ import annotations

import re

# A run of non-space characters longer than this is cut in a message: more than the longest
# field path a message names (a node range's container field, `nodeOverrides.
# nodePropertyOverrides[0].containerOverrides.resourceRequirements[0].value:`, is ~90), far
# less than a hostile value.
LONG_WORD = 160
MAX_MESSAGE = 2000
_LONG_RUN = re.compile(r"\S{" + str(LONG_WORD + 1) + ",}")


def clip(text: str) -> str:
    """A message that echoes a hostile value (a 1 MB name, a 5,000-character ARN) kept
    readable: every run of more than LONG_WORD non-space characters is cut to its start and
    its length, and the whole to MAX_MESSAGE characters."""
    text = _LONG_RUN.sub(lambda m: f"{m.group()[:60]}...({len(m.group())} characters)", text)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 20] + "... (message cut)"
    return text


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
