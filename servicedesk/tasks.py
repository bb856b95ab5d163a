"""Helpers shared by every app's tasks."""

import logging
from typing import Any

from celery import Task

logger = logging.getLogger(__name__)


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
