"""A Celery worker is SIGKILLed in the middle of its work and comes back (DESIGN §3).

Escalations: tests/slas/test_escalation_worker.py already proves it for the SLA sweep — a worker
killed mid-sweep (`test_worker_killed_mid_sweep_leaves_no_step_fired_twice_or_lost`) leaves each
ticket's steps all fired or none, the next sweep fires exactly the rest, and the escalation outbox
(`requeue_undelivered`) delivers the notifications the crash lost, each once. It is not repeated.

What was missing is the same for ticket emails, now that they go through an outbox too: here a
worker is killed while it is sending the emails of many new tickets, a new worker starts on the
same broker, beat's outbox sweep runs, and every email goes out — none twice. The only ones that
may be lost are those claimed in the instant of the kill (claim before send: at most once), at
most one per pool process.
"""

import re
import time
from collections import Counter
from pathlib import Path

import pytest
from django.utils import timezone

from servicedesk.celery import app
from tickets import services
from tickets.models import EmailDelivery, TicketEvent
from tickets.tasks import requeue_unsent_mail

from .processes import (
    app_env,
    mail_count,
    sent_mail,
    start_worker,
    subprocess_database_url,
    wait_until,
    wait_worker_ready,
)

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = 80
RECIPIENTS = 3  # agent, agent2 and the head of IT hear of every new ticket
CONCURRENCY = 2
REFERENCE = re.compile(r"\[([A-Z][A-Z0-9]*-\d{4}-\d{6})\]")


def test_worker_killed_while_mailing_then_restarted_mails_the_rest_none_twice(
    company, throwaway_redis, processes, mail_dir, tmp_path: Path, settings
):
    # The tickets are filed here; their on-commit enqueue goes to this process's broker, where
    # nobody listens (as good as lost): only the outbox sweep, on the throwaway broker, mails them.
    settings.TICKET_MAIL_GRACE_SECONDS = 0
    tickets = [
        services.file_ticket(
            requester=company.requester,
            service=company.service,
            title=f"新员工入职电脑 {n}",
            form_data={"model": "14寸"},
        )
        for n in range(TICKETS)
    ]
    app.control.purge()
    pending = TicketEvent.objects.filter(mail_due_at__isnull=False)
    assert pending.count() == TICKETS

    env = app_env(
        database_url=subprocess_database_url(),
        redis_url=throwaway_redis.url(0),
        mail_dir=mail_dir,
        TICKET_MAIL_RETRY_SECONDS="2",
    )
    log = tmp_path / "worker.log"
    doomed, name = start_worker(env=env, log=log, processes=processes, concurrency=CONCURRENCY)
    wait_worker_ready(doomed, name)

    def sweep() -> None:
        with app.connection_for_write(throwaway_redis.url(0)) as conn:
            requeue_unsent_mail.apply_async(connection=conn)

    sweep()
    wait_until(lambda: mail_count(mail_dir) >= 2 * RECIPIENTS, what="the mailing to get going")
    doomed.kill()
    mailed_before_kill = mail_count(mail_dir)
    left = pending.count()
    assert 0 < left < TICKETS, "the kill did not land in the middle of the mailing"
    claimed = EmailDelivery.objects.exclude(sent_at=None).count()
    lost = claimed - mailed_before_kill
    assert 0 <= lost <= CONCURRENCY

    # The deployment starts the worker again; a minute later beat runs the outbox sweep.
    since = log.stat().st_size
    restarted, name = start_worker(env=env, log=log, processes=processes, concurrency=CONCURRENCY)
    wait_worker_ready(restarted, name, since=since)
    wait_until(
        lambda: not pending.filter(mail_due_at__gt=timezone.now()).exists(),
        what="the events the sweep had taken to come due again",
        timeout=10,
    )
    sweep()
    total = TICKETS * RECIPIENTS - lost
    wait_until(
        lambda: not pending.exists() and mail_count(mail_dir) >= total,
        what="the rest of the emails",
    )
    sweep()  # and once more: nothing is left to send
    time.sleep(1.5)

    messages = sent_mail(mail_dir)
    sent = Counter((REFERENCE.search(str(m["subject"]))[1], str(m["to"]).strip()) for m in messages)
    assert max(sent.values()) == 1, [key for key, n in sent.items() if n > 1]
    assert len(messages) == total
    assert {reference for reference, _to in sent} <= {t.reference for t in tickets}
    assert EmailDelivery.objects.filter(sent_at=None).count() == 0
    print(
        f"\nworker killed: {mailed_before_kill} emails before the kill, {left}/{TICKETS} tickets "
        f"still pending, {lost} lost in flight; {len(messages)} emails in all, none twice"
    )
