"""SLA background work run by Celery beat: thin wrappers around slas.escalation."""

from celery import shared_task

from servicedesk.tasks import SafeEnqueueTask

from . import escalation


@shared_task(acks_late=True, ignore_result=True)
def escalate_due_tickets() -> int:
    """Every minute: fire due SLA steps, then re-send notifications that never went out."""
    fired = escalation.escalate_due_tickets()
    escalation.requeue_undelivered()
    return fired


@shared_task(base=SafeEnqueueTask, bind=True, acks_late=True, max_retries=5, default_retry_delay=60)
def deliver_escalation(self: SafeEnqueueTask, escalation_id: int) -> int:
    return escalation.deliver_escalation(escalation_id)


@shared_task(acks_late=True, ignore_result=True)
def auto_close_resolved() -> int:
    return escalation.auto_close_resolved()


@shared_task(base=SafeEnqueueTask, bind=True, acks_late=True, ignore_result=True)
def recompute_policy_tickets(self: SafeEnqueueTask, policy_id: int) -> int:
    from .policies import recompute_policy_tickets as recompute

    return recompute(policy_id=policy_id)


@shared_task(acks_late=True, ignore_result=True)
def warn_calendar_coverage() -> int:
    return escalation.warn_calendar_coverage()


@shared_task(acks_late=True, ignore_result=True)
def fold_figure_changes() -> int:
    """Every minute: fold ticket changes into the daily SLA figures and open-ticket counts."""
    from . import figures

    return figures.fold_changes()
