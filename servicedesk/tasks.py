"""Helpers shared by every app's tasks."""

import contextvars
import logging
from typing import Any

from celery import Task

logger = logging.getLogger(__name__)

# What a request enqueues after its response (SafeEnqueueTask.enqueue_after_response): None
# outside a request.
_after_response: contextvars.ContextVar[list[tuple["SafeEnqueueTask", tuple, dict]] | None] = (
    contextvars.ContextVar("enqueued_after_response", default=None)
)


class SafeEnqueueTask(Task):
    """A task whose `enqueue` never lets a broker outage break the caller's request.

    The caller has already committed what the user submitted; a failed publish is logged and
    left to the caller's outbox: the row written in that same transaction (a TicketEvent's
    `mail_due_at`, an Escalation's `next_attempt_at`, a feedback OutboundEmail) is picked up
    again by its periodic sweep once the broker is back.
    """

    abstract = True

    def enqueue(self, *args: Any, **kwargs: Any) -> None:
        try:
            self.apply_async(
                args=args,
                kwargs=kwargs,
                retry=True,
                retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception:
            logger.exception("could not enqueue %s%r", self.name, args)

    def enqueue_after_response(self, *args: Any, **kwargs: Any) -> None:
        """`enqueue`, once the current request's response is sent (at once outside a request):
        the user does not wait for the broker (publishing cost a filing about 1 ms; with Redis
        down, its retries 1 s). Only for a task whose outbox row brings the work back if the
        process ends in between, as after a failed publish."""
        pending = _after_response.get()
        if pending is None:
            self.enqueue(*args, **kwargs)
        else:
            pending.append((self, args, kwargs))


def request_starts(**_kwargs: Any) -> None:
    _after_response.set([])


def request_ends(**_kwargs: Any) -> None:
    """The response is sent (request_finished, on closing it): publish what the request left."""
    pending = _after_response.get()
    _after_response.set(None)
    for task, args, kwargs in pending or ():
        task.enqueue(*args, **kwargs)
