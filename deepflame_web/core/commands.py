"""Management commands run a run in their own process: one record and one code path with the
browser's button, the command only prints."""

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError

from deepflame_web.core.errors import DomainError
from deepflame_web.core.models import Run, RunStatus
from deepflame_web.core.services import RunAlreadyActive


def run_in_foreground(
    *,
    command: BaseCommand,
    start: Callable[[], Run],
    execute: Callable[[int], Run | None],
    announce: Callable[[Run], str],
) -> Run:
    """Start a run without queueing it, execute it here and return it once it succeeded.

    A refused start or a failed run becomes a CommandError with the run's message and no
    traceback, so the command line reads like the run page.
    """
    try:
        run = start()
    except (RunAlreadyActive, DomainError) as exc:
        raise CommandError(str(exc)) from exc
    command.stdout.write(announce(run))
    done = execute(run.pk)
    if done is None or done.status != RunStatus.SUCCEEDED:
        error = done.error if done else "the run was taken by another process"
        raise CommandError(error.split("\n\nTraceback")[0])
    return done
