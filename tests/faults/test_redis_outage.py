"""Redis stops while employees file tickets (DESIGN §3 "Background work": if the broker is down a
ticket can still be filed, nothing the user submitted is lost).

gunicorn serves the app against the test database and a Redis of the test's own. With that Redis
stopped, employees file tickets over the API: every one is saved (201) and /healthz names the
broker as the problem. Then Redis comes back with a Celery worker, the outbox sweep runs, and
every notification goes out exactly once; a ticket filed after the outage is mailed at once.
"""

import re
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
import redis
import requests
from django.utils import timezone

from departments.models import Membership, User
from servicedesk.celery import app
from tests.factories import UserFactory
from tickets.models import Ticket, TicketEvent
from tickets.tasks import notify_ticket_event, requeue_unsent_mail

from .processes import (
    app_env,
    mail_count,
    sent_mail,
    start_gunicorn,
    start_worker,
    subprocess_database_url,
    wait_until,
    wait_worker_ready,
)

pytestmark = pytest.mark.django_db(transaction=True)

EMPLOYEES = 5
TICKETS_EACH = 4
REFERENCE = re.compile(r"\[([A-Z][A-Z0-9]*-\d{4}-\d{6})\]")  # a ticket email's subject
GRACE_SECONDS = 2  # the web process's TICKET_MAIL_GRACE_SECONDS: pending mail is due this soon


def publish(redis_url: str, task, *args: object) -> None:
    """Publish a task to the throwaway broker (the test process's own broker is another one)."""
    with app.connection_for_write(redis_url) as conn:
        task.apply_async(args=args, connection=conn)


def test_tickets_filed_while_redis_is_down_are_saved_and_mailed_exactly_once_after(
    company, throwaway_redis, processes, mail_dir, tmp_path: Path, token_for
):
    employees = [company.requester, company.other_employee] + [
        UserFactory(username=f"hr-employee-{n}", department=company.hr)
        for n in range(EMPLOYEES - 2)
    ]
    headers = {user.pk: token_for(user) for user in employees}
    provider_staff = sorted(
        User.objects.filter(
            memberships__department=company.it,
            memberships__role__in=[Membership.Role.AGENT, Membership.Role.HEAD],
        ).values_list("email", flat=True)
    )
    assert len(provider_staff) == 3  # agent, agent2 and the head of IT hear of every new ticket

    env = app_env(
        database_url=subprocess_database_url(),
        redis_url=throwaway_redis.url(0),
        mail_dir=mail_dir,
        TICKET_MAIL_GRACE_SECONDS=str(GRACE_SECONDS),
    )
    _web, base = start_gunicorn(env=env, log=tmp_path / "gunicorn.log", processes=processes)
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json() == {"status": "ok", "database": "ok", "broker": "ok"}

    # -- Redis goes away --------------------------------------------------------------------------
    throwaway_redis.stop()
    health = requests.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 503
    assert health.json()["database"] == "ok"
    assert health.json()["broker"].startswith("error")

    results: list[tuple[int, int, str]] = []  # (employee, status, reference or body)
    lock = threading.Lock()

    def file_tickets(user: User) -> None:
        with requests.Session() as session:
            for number in range(TICKETS_EACH):
                response = session.post(
                    f"{base}/api/v1/tickets/",
                    json={
                        "service": company.service.pk,
                        "title": f"Redis 停机期间的请求 {user.username}-{number}",
                        "description": "笔记本无法开机",
                        "form_data": {"model": "14寸"},
                    },
                    headers=headers[user.pk],
                    timeout=30,
                )
                body = response.json().get("reference", "") if response.ok else response.text
                with lock:
                    results.append((user.pk, response.status_code, body))

    started = time.monotonic()
    threads = [threading.Thread(target=file_tickets, args=(user,)) for user in employees]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    filing_seconds = time.monotonic() - started
    assert not any(thread.is_alive() for thread in threads)

    filed = EMPLOYEES * TICKETS_EACH
    assert [status for _user, status, _body in results] == [201] * filed, results
    references = {body for _user, _status, body in results}
    assert len(references) == filed
    assert set(Ticket.objects.values_list("reference", flat=True)) == references
    assert Counter(Ticket.objects.values_list("requester", flat=True)) == {
        user.pk: TICKETS_EACH for user in employees
    }
    # Nothing was mailed, and every filing left its email pending in the outbox.
    assert mail_count(mail_dir) == 0
    pending = TicketEvent.objects.filter(kind="created", mail_due_at__isnull=False)
    assert pending.count() == filed

    # -- Redis is back, with a worker; beat's outbox sweep runs -----------------------------------
    throwaway_redis.start()
    worker, name = start_worker(env=env, log=tmp_path / "worker.log", processes=processes)
    wait_worker_ready(worker, name)
    wait_until(
        lambda: not TicketEvent.objects.filter(mail_due_at__gt=timezone.now()).exists(),
        what="the pending mail to come due",
        timeout=GRACE_SECONDS + 10,
    )
    recovered = time.monotonic()
    publish(throwaway_redis.url(0), requeue_unsent_mail)
    expected = filed * len(provider_staff)
    wait_until(
        lambda: mail_count(mail_dir) >= expected and not pending.exists(),
        what=f"{expected} emails after the outage",
    )
    mailed_seconds = time.monotonic() - recovered

    # Another sweep and a redelivered task change nothing.
    publish(throwaway_redis.url(0), requeue_unsent_mail)
    some_event = TicketEvent.objects.filter(kind="created").first()
    publish(throwaway_redis.url(0), notify_ticket_event, some_event.pk)
    broker = redis.Redis.from_url(throwaway_redis.url(0))
    wait_until(lambda: broker.llen("celery") == 0, what="the worker to drain its queue")
    time.sleep(1.0)  # room for a wrongly sent duplicate to be written

    messages = sent_mail(mail_dir)
    assert len(messages) == expected
    per_ticket_and_person = Counter(
        (REFERENCE.search(str(m["subject"]))[1], str(m["to"]).strip()) for m in messages
    )
    assert set(per_ticket_and_person.values()) == {1}
    assert per_ticket_and_person.keys() == {
        (reference, address) for reference in references for address in provider_staff
    }

    # -- After the outage the web process enqueues again at once (no sweep needed) ---------------
    before = mail_count(mail_dir)
    response = requests.post(
        f"{base}/api/v1/tickets/",
        json={
            "service": company.service.pk,
            "title": "恢复后的请求",
            "form_data": {"model": "16寸"},
        },
        headers=headers[company.requester.pk],
        timeout=30,
    )
    assert response.status_code == 201, response.text
    wait_until(
        lambda: mail_count(mail_dir) == before + len(provider_staff),
        what="the new ticket's emails",
        timeout=20,
    )
    print(
        f"\nredis outage: {filed} tickets filed in {filing_seconds:.1f}s, all 201; "
        f"{expected} emails sent {mailed_seconds:.1f}s after the sweep, each once"
    )
