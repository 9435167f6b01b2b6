"""Shared pytest wiring for the abatch test suite.

Markers (registered in pyproject.toml):
- ``docker``: the test needs a Docker engine. The autouse fixture below calls
  ``require_docker()`` for it: skipped without an engine, failed instead when
  ``ABATCH_REQUIRE_DOCKER=1`` (set by ``.ci/run``).
- ``quality``: ruff / mypy / import-linter checks (``tests/test_quality.py``); deselect with
  ``-m "not quality"`` for a quick run.
- ``slow``: takes more than a few seconds.

Exit guard: a test that leaks a non-daemon thread (an unclosed aiosqlite connection, an executor
never shut down) would make the interpreter wait for it forever after the last test, and CI
would hang until its time limit. After the session, such threads get a few seconds to end; if
any is still alive its name and stack are printed and the process exits at once with a
failure status.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback

import pytest

from tests.docker_support import require_docker


@pytest.fixture(autouse=True)
def _docker_marker(request: pytest.FixtureRequest) -> None:
    """Tests marked ``@pytest.mark.docker`` need an engine: skip (or fail in CI) without one."""
    if request.node.get_closest_marker("docker") is not None:
        require_docker()


LEFTOVER_THREAD_GRACE_S = 5.0
_session_status: list[int] = [0]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _session_status[0] = int(exitstatus)


def _leftover_threads() -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t is not threading.main_thread() and not t.daemon and t.is_alive()
    ]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Exit now, failing, rather than hang on non-daemon threads that tests left running."""
    deadline = time.monotonic() + LEFTOVER_THREAD_GRACE_S
    for thread in _leftover_threads():
        thread.join(max(0.0, deadline - time.monotonic()))
    leftovers = _leftover_threads()
    if not leftovers:
        return
    frames = sys._current_frames()
    out = sys.__stderr__ or sys.stderr
    print(
        f"\nERROR: {len(leftovers)} non-daemon thread(s) still running after the tests; the"
        " interpreter would wait for them forever (something was not closed):",
        file=out,
    )
    for thread in leftovers:
        print(f"\n--- thread {thread.name!r} (ident {thread.ident}) ---", file=out)
        frame = frames.get(thread.ident or -1)
        if frame is not None:
            print("".join(traceback.format_stack(frame)), end="", file=out)
    out.flush()
    sys.stdout.flush()
    os._exit(_session_status[0] or 1)
