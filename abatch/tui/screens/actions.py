"""Job actions shared by the jobs and detail screens: confirm, call the backend, say what
happened. Errors from the runtime (a ClientError's message) are shown, never raised."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .modals import ConfirmScreen, SubmitScreen

if TYPE_CHECKING:
    from ..app import AbatchApp

REASON = "Cancelled from the abatch terminal UI"
TERMINATE_REASON = "Terminated from the abatch terminal UI"


async def attempt(app: AbatchApp, what: Callable[[], Awaitable[object]], done: str) -> bool:
    try:
        await what()
    except Exception as exc:  # the runtime's answer, shown to the user
        app.notify(str(exc), title="failed", severity="error", markup=False)
        return False
    app.notify(done, markup=False)
    app.backend_changed()
    return True


def cancel(app: AbatchApp, job_id: str, name: str) -> None:
    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(
                attempt(app, lambda: app.backend.cancel(job_id, REASON), f"cancel: {name}")
            )

    app.push_screen(ConfirmScreen(f"Cancel job {name} ({job_id})?"), answered)


def terminate(app: AbatchApp, job_id: str, name: str) -> None:
    def answered(yes: bool | None) -> None:
        if yes:
            app.run_worker(
                attempt(
                    app,
                    lambda: app.backend.terminate(job_id, TERMINATE_REASON),
                    f"terminate: {name}",
                )
            )

    app.push_screen(
        ConfirmScreen(f"Terminate job {name} ({job_id})? A running attempt is killed."),
        answered,
    )


def resubmit(app: AbatchApp, job_id: str, name: str) -> None:
    async def go() -> None:
        try:
            new_id = await app.backend.resubmit(job_id)
        except Exception as exc:
            app.notify(str(exc), title="re-submit failed", severity="error", markup=False)
            return
        app.notify(f"re-submitted {name} as {new_id}", markup=False)
        app.backend_changed()

    app.run_worker(go())


def submit(app: AbatchApp, queue: str | None = None) -> None:
    backend = app.backend

    def answered(form: object) -> None:
        if form is None:
            return

        async def go() -> None:
            from ..backend import SubmitForm

            assert isinstance(form, SubmitForm)
            try:
                job_id = await backend.submit(form)
            except Exception as exc:
                app.notify(str(exc), title="submit failed", severity="error", markup=False)
                return
            app.notify(f"submitted {form.name} as {job_id}", markup=False)
            app.backend_changed()

        app.run_worker(go())

    screen = SubmitScreen(backend.definition_names(), backend.queue_names(), queue)
    app.push_screen(screen, answered)
