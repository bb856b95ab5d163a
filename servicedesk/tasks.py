"""Helpers shared by every app's tasks."""

import logging
from typing import Any

from celery import Task

logger = logging.getLogger(__name__)


class SafeEnqueueTask(Task):
    """A task whose `enqueue` never lets a broker outage break the caller's request.

    The caller has already committed what the user submitted; a failed publish is logged and
    the side effect is lost (a durable outbox is planned with the robustness work).
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
