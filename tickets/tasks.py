"""Ticket side effects run by Celery: thin wrappers taking ids."""

from celery import shared_task

from servicedesk.tasks import SafeEnqueueTask

from . import notifications


@shared_task(base=SafeEnqueueTask, bind=True, acks_late=True, max_retries=5, default_retry_delay=30)
def notify_ticket_event(self: SafeEnqueueTask, event_id: int) -> int:
    """Email the people who should hear of a public ticket event; returns mails sent."""
    return notifications.send_event_email(event_id)


@shared_task(acks_late=True, ignore_result=True)
def requeue_unsent_mail() -> int:
    """Every minute (beat): enqueue again the ticket emails that never went out."""
    return notifications.requeue_unsent()
