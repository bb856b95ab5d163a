"""Ticket emails go through a real Celery worker on Redis, once each, never for internal notes."""

import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail

from servicedesk.celery import app
from tickets import services
from tickets.models import TicketEvent
from tickets.tasks import notify_ticket_event


@pytest.fixture
def celery_worker():
    app.control.purge()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


def wait_for_mail(count: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_public_reply_mails_requester_once_even_if_task_is_redelivered(company, celery_worker):
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="打印机卡纸",
        form_data={"model": "14寸"},
    )
    # Filing mails the provider's agents and head (3 people with an email).
    wait_for_mail(3)
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [company.agent.email, company.agent2.email, company.it_head.email]
    )
    mail.outbox.clear()

    services.add_comment(ticket=ticket, author=company.agent, body="已安排工程师上门 MARKER-PUBLIC")
    wait_for_mail(1)
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [company.requester.email]
    assert "MARKER-PUBLIC" in mail.outbox[0].body
    assert f"/tickets/{ticket.reference}/" in mail.outbox[0].body

    # Redelivery of the same task (a worker died after sending): nothing goes out twice.
    event = TicketEvent.objects.get(ticket=ticket, kind="commented")
    assert notify_ticket_event.apply(args=[event.pk]).get() == 0
    assert notify_ticket_event.apply(args=[event.pk]).get() == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_internal_note_is_never_mailed(company, celery_worker):
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="账号问题",
        form_data={"model": "16寸"},
    )
    wait_for_mail(3)
    mail.outbox.clear()
    services.add_comment(
        ticket=ticket, author=company.agent, body="SECRET-NOTE 内部讨论", internal=True
    )
    note_event = TicketEvent.objects.get(ticket=ticket, kind="commented")
    # Even if someone enqueued it by hand, the task refuses internal events.
    assert notify_ticket_event.apply(args=[note_event.pk]).get() == 0
    time.sleep(0.5)  # room for any wrongly enqueued task to reach the worker
    assert all("SECRET-NOTE" not in m.body for m in mail.outbox)
    assert mail.outbox == []
