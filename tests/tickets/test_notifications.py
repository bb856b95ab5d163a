"""Ticket emails go through a real Celery worker on Redis, once each, never for internal notes;
an email whose enqueue never reached a worker is sent by the outbox sweep (DESIGN §3)."""

import socket
import time
from datetime import timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.utils import timezone

from servicedesk.celery import app
from tickets import notifications, services
from tickets.models import EmailDelivery, TicketEvent
from tickets.tasks import notify_ticket_event, requeue_unsent_mail


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


def run_here(event_id: int) -> None:
    """Deliver in this process, as a worker would (the sweep's enqueue)."""
    notify_ticket_event.apply(args=[event_id])


@pytest.mark.django_db  # the test's transaction never commits: the on-commit enqueue is lost
def test_an_email_whose_enqueue_was_lost_is_sent_by_the_sweep_once(company):
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="显示器闪烁",
        form_data={"model": "14寸"},
    )
    services.add_comment(ticket=ticket, author=company.agent, body="内部排查 NOTE", internal=True)
    created = TicketEvent.objects.get(ticket=ticket, kind="created")
    assert mail.outbox == []
    assert created.mail_due_at is not None
    # Internal and unmailed events are never pending.
    assert list(
        TicketEvent.objects.filter(ticket=ticket, mail_due_at__isnull=False).values_list(
            "kind", flat=True
        )
    ) == ["created"]

    # Within the grace period the on-commit delivery may still be on its way: nothing is resent.
    assert notifications.requeue_unsent(enqueue=run_here) == 0
    later = timezone.now() + notifications.mail_grace() + timedelta(seconds=1)
    assert notifications.requeue_unsent(now=later, enqueue=run_here) == 1
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [company.agent.email, company.agent2.email, company.it_head.email]
    )
    created.refresh_from_db()
    assert created.mail_due_at is None
    # Later sweeps and a late redelivery of the original task send nothing more.
    assert notifications.requeue_unsent(now=later + timedelta(hours=1), enqueue=run_here) == 0
    assert notify_ticket_event.apply(args=[created.pk]).get() == 0
    assert requeue_unsent_mail.apply().get() == 0
    assert len(mail.outbox) == 3


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens once the socket is closed


@pytest.mark.django_db
def test_a_failed_send_stays_pending_and_the_sweep_retries_it(company, settings):
    ticket = services.file_ticket(
        requester=company.requester,
        service=company.service,
        title="邮箱满了",
        form_data={"model": "16寸"},
    )
    mail.outbox.clear()
    reply = services.add_comment(ticket=ticket, author=company.agent, body="请清理附件 RETRY-ME")
    event = TicketEvent.objects.get(ticket=ticket, kind="commented", comment=reply)

    # The mail server is down: the send fails, the claim is released, the event stays pending.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port(), 2
    with pytest.raises(OSError):
        notifications.send_event_email(event.pk)
    event.refresh_from_db()
    assert event.mail_due_at is not None
    assert event.mail_due_at > timezone.now() + notifications.retry_delay() - timedelta(minutes=1)
    assert not EmailDelivery.objects.filter(event=event).exclude(sent_at=None).exists()

    # The server is back; the sweep after the retry delay delivers it, once.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = timezone.now() + notifications.retry_delay() + timedelta(seconds=1)
    assert notifications.requeue_unsent(now=later, enqueue=run_here) >= 1
    replies = [m for m in mail.outbox if "RETRY-ME" in m.body]
    assert [m.to for m in replies] == [[company.requester.email]]
    assert notifications.requeue_unsent(now=later + timedelta(hours=1), enqueue=run_here) == 0
    assert len([m for m in mail.outbox if "RETRY-ME" in m.body]) == 1
