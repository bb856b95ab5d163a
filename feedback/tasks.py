"""Feedback background work run by Celery: thin wrappers taking ids and plain values."""

from celery import shared_task

from servicedesk.tasks import SafeEnqueueTask

from . import outbox


@shared_task(base=SafeEnqueueTask, bind=True, acks_late=True, ignore_result=True)
def deliver_outbox(self: SafeEnqueueTask) -> int:
    """Send feedback emails waiting in the outbox (also run by beat as a sweep)."""
    return outbox.deliver_pending()


@shared_task(acks_late=True, ignore_result=True)
def run_survey_campaigns() -> dict[str, int]:
    """Every minute: open, remind and close the campaigns whose time has come."""
    from . import surveys

    return surveys.run_campaigns()
