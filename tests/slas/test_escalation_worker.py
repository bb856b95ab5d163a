"""Escalation with a real Celery worker (prefork, on Redis) against the test database: each
(ticket, clock, step) fires exactly once and each escalation is notified exactly once, with sweeps
running at the same time, tasks run twice, and a worker killed in the middle of a sweep
(DESIGN §2 "SLAs", Escalation; §3 "Background work").

The worker is a subprocess of its own (a process group, so it can be SIGKILLed whole). It reads
the same PostgreSQL test database and Redis as the test, consumes queues unique to the test, and
writes its emails to files the test reads. The tickets are filed in September 2025 and every step
of both clocks (8 per ticket: see tests/slas/conftest.py) has long passed by the real "now" the
worker's sweep uses.
"""

import contextlib
import email
import email.policy
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from departments.models import Membership, User
from servicedesk.celery import app
from slas import escalation
from slas.models import Escalation
from slas.tasks import deliver_escalation, escalate_due_tickets
from tests.factories import make_member
from tickets.models import Notification, Ticket
from tickets.services import notifications_muted

pytestmark = pytest.mark.django_db(transaction=True)

SMALL_BATCH = 5
SH = ZoneInfo("Asia/Shanghai")
FILED_AT = datetime(2025, 9, 22, 9, 0, tzinfo=SH)  # Monday; the last step is Tue 23 Sep 14:00
STEPS_PER_TICKET = 8  # (warning, breach, head at 100 %, head above at 150 %) × 2 clocks
BASE_DIR = Path(settings.BASE_DIR)
WAIT = 60.0  # seconds: the bound on every wait below
REFERENCE = re.compile(r"\[([A-Z][A-Z0-9]*-\d{4}-\d{6})\] ")  # an escalation mail's subject

# Runs `celery worker` with the project's app, routing the deliveries its sweeps enqueue to the
# queue given first (so a test decides who delivers them); the rest are worker arguments.
LAUNCHER = """\
import sys
from servicedesk.celery import app
app.conf.task_routes = {"slas.tasks.deliver_escalation": {"queue": sys.argv[1]}}
app.worker_main(["worker", *sys.argv[2:]])
"""


# -- Helpers -----------------------------------------------------------------------------------


def wait_until(predicate: Callable[[], object], *, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL)


def queue_length(name: str) -> int:
    client = broker()
    return sum(client.llen(key) for key in client.scan_iter(match=f"{name}*"))


def forget_queues(*names: str) -> None:
    """Drop the test's queues and any message a killed worker left unacknowledged in them."""
    client = broker()
    for name in names:
        for key in client.scan_iter(match=f"{name}*"):
            client.delete(key)
        client.delete(f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    for tag, raw in client.hscan_iter("unacked"):
        with contextlib.suppress(ValueError, TypeError, IndexError):
            if json.loads(raw)[2] in names:
                client.hdel("unacked", tag)
                client.zrem("unacked_index", tag)


def unique_queue(label: str) -> str:
    return f"sla-test-{label}-{uuid.uuid4().hex[:10]}"


MAIL_SEPARATOR = b"-" * 79 + b"\n"  # the file-based email backend ends each message with it


def sent_mail(directory: Path) -> list[EmailMessage]:
    """Every message the file-based email backend wrote (several may share one file)."""
    messages = []
    for path in sorted(directory.glob("*.log")):
        for chunk in path.read_bytes().split(MAIL_SEPARATOR):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=email.policy.default))
    return messages


def mail_count(directory: Path) -> int:
    return sum(path.read_bytes().count(MAIL_SEPARATOR) for path in directory.glob("*.log"))


def all_delivered(mail_dir: Path, total: int) -> bool:
    return (
        not Escalation.objects.filter(notified_at=None).exists() and mail_count(mail_dir) >= total
    )


def sessions_of(application_name: str) -> int:
    """Sessions on the test database opened by a worker (live, or killed and not yet reaped)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = %s",
            [application_name],
        )
        return cursor.fetchone()[0]


class Worker:
    """A `celery worker` subprocess in its own process group, logging to a file."""

    def __init__(self, *, env: dict[str, str], log: Path, consume: list[str], deliveries_to: str):
        self.name = f"sla-{uuid.uuid4().hex[:8]}@localhost"
        self.queues = consume
        self.log = log
        # Its database sessions carry its name, so the test can tell when they are gone.
        env = {**env, "DATABASE_URL": f"{env['DATABASE_URL']}?application_name={self.name}"}
        args = [
            sys.executable,
            "-c",
            LAUNCHER,
            deliveries_to,
            "--pool=prefork",
            "--concurrency=2",
            "-Q",
            ",".join(consume),
            "-n",
            self.name,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ]
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                args,
                cwd=BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self) -> None:
        def answers() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.tail()}")
            return bool(app.control.ping(destination=[self.name], timeout=0.5))

        wait_until(answers, what=f"worker {self.name} to answer a ping")

    def idle(self) -> bool:
        """Nothing waiting in its queues and nothing running or reserved."""
        if any(queue_length(queue) for queue in self.queues):
            return False
        inspect = app.control.inspect(destination=[self.name], timeout=1.0)
        active, reserved = inspect.active(), inspect.reserved()
        if active is None or reserved is None:  # no answer in time: ask again
            return False
        return not any(active.values()) and not any(reserved.values())

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool children at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        # PostgreSQL rolls back the open transaction once it sees the connection gone.
        wait_until(lambda: sessions_of(self.name) == 0, what=f"{self.name}'s sessions to end")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        # Its database sessions must be gone before the test database is flushed.
        wait_until(lambda: sessions_of(self.name) == 0, what=f"{self.name}'s sessions to end")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def worker_env(tmp_path: Path, settings) -> dict[str, str]:
    """The test's database, broker and a mail folder, for a worker subprocess."""
    settings.SLA_SWEEP_BATCH_SIZE = SMALL_BATCH  # the direct calls in this process too
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    (tmp_path / "mail").mkdir()
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@{host}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EMAIL_URL": f"filemail:///{tmp_path / 'mail'}",  # EMAIL_FILE_PATH is the absolute path
        # Small pages, so concurrent sweeps interleave and a kill lands between two commits.
        "SLA_SWEEP_BATCH_SIZE": str(SMALL_BATCH),
    }


@pytest.fixture
def start_worker(worker_env, tmp_path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def _start(*, consume: list[str], deliveries_to: str) -> Worker:
        worker = Worker(
            env=worker_env,
            log=tmp_path / "worker.log",
            consume=consume,
            deliveries_to=deliveries_to,
        )
        workers.append(worker)
        return worker  # starting up in the background: call wait_ready() before using it

    try:
        yield _start
    finally:
        for worker in workers:
            worker.stop()
        forget_queues(*{queue for worker in workers for queue in worker.queues})


@pytest.fixture
def mail_dir(tmp_path, worker_env) -> Path:
    return tmp_path / "mail"


@pytest.fixture
def second_it_head(company) -> User:
    return make_member(company.it, Membership.Role.HEAD, username="ithead2", department=company.it)


def file_due_tickets(file_ticket_at: Callable[..., Ticket], count: int) -> list[Ticket]:
    with notifications_muted():  # filing mails are not what these tests count
        return [file_ticket_at(FILED_AT, title=f"到期工单 {n}") for n in range(count)]


def publish_to(queue: str, *, times: int = 1) -> Callable[[int], None]:
    def _publish(escalation_id: int) -> None:
        for _ in range(times):
            deliver_escalation.apply_async((escalation_id,), queue=queue)

    return _publish


def expected_recipients(step: str, it_heads: set[int], parent_head: User) -> set[int]:
    # Nobody is assigned: the assignee's steps (warning, breach) go to the provider's heads.
    return {parent_head.pk} if step.endswith("parent_department_head") else it_heads


def assert_each_escalation_notified_once(
    mail_dir: Path, it_heads: set[int], parent_head: User, total: int
) -> None:
    escalations = list(Escalation.objects.select_related("ticket"))
    assert len(escalations) == total
    assert all(e.notified_at is not None for e in escalations)
    # In-app: one notification per (recipient, escalation), and nobody else.
    notified = Counter(Notification.objects.values_list("source_key", "user"))
    assert set(notified.values()) == {1}
    assert set(notified) == {
        (f"escalation:{e.pk}", user)
        for e in escalations
        for user in expected_recipients(e.step, it_heads, parent_head)
    }
    # Email: one message per escalation, to all its recipients at once.
    emails = {u.pk: u.email for u in User.objects.all()}
    messages = sent_mail(mail_dir)
    assert len(messages) == total
    subjects = Counter(str(m["subject"]).strip() for m in messages)
    assert set(subjects.values()) == {1}
    by_ticket = Counter(REFERENCE.match(subject)[1] for subject in subjects.elements())
    assert by_ticket == Counter(e.ticket.reference for e in escalations)
    assert Counter(frozenset(a.strip() for a in str(m["to"]).split(",")) for m in messages) == (
        Counter(
            frozenset(emails[u] for u in expected_recipients(e.step, it_heads, parent_head))
            for e in escalations
        )
    )


# -- Tests -------------------------------------------------------------------------------------


def test_two_sweeps_and_a_direct_call_at_once_fire_and_notify_each_step_once(
    company, ladder_policy, parent_head, second_it_head, file_ticket_at, start_worker, mail_dir
):
    queue = unique_queue("race")
    worker = start_worker(consume=[queue], deliveries_to=queue)
    tickets = file_due_tickets(file_ticket_at, 50)
    total = len(tickets) * STEPS_PER_TICKET
    worker.wait_ready()

    escalate_due_tickets.apply_async(queue=queue)
    escalate_due_tickets.apply_async(queue=queue)
    fired_here = escalation.escalate_due_tickets(enqueue=publish_to(queue))

    wait_until(lambda: Escalation.objects.count() >= total, what=f"{total} escalations")
    wait_until(
        lambda: all_delivered(mail_dir, total),
        what="every escalation to be delivered",
    )
    wait_until(worker.idle, what="the worker to finish")

    assert 0 <= fired_here <= total
    # Each (ticket, clock, step) once: 8 per ticket, every ticket fully escalated.
    per_ticket = Escalation.objects.values("ticket").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_ticket) == [STEPS_PER_TICKET] * len(tickets)
    assert not Ticket.objects.filter(next_sla_check_at__isnull=False).exists()
    # The sweeps really ran side by side: the steps were fired by more than one of them (each
    # sweep stamps its own `now`).
    assert Escalation.objects.values("fired_at").distinct().count() >= 2
    it_heads = {company.it_head.pk, second_it_head.pk}
    assert_each_escalation_notified_once(mail_dir, it_heads, parent_head, total)


def test_deliveries_and_sweeps_run_twice_notify_once(
    company, ladder_policy, parent_head, file_ticket_at, start_worker, mail_dir
):
    queue = unique_queue("twice")
    worker = start_worker(consume=[queue], deliveries_to=queue)
    tickets = file_due_tickets(file_ticket_at, 3)
    total = len(tickets) * STEPS_PER_TICKET
    worker.wait_ready()

    # Each delivery is published twice (a retried task), and the two copies race in the two
    # pool processes; then the sweep itself runs twice more.
    assert escalation.escalate_due_tickets(enqueue=publish_to(queue, times=2)) == total
    escalate_due_tickets.apply_async(queue=queue)
    escalate_due_tickets.apply_async(queue=queue)
    wait_until(
        lambda: all_delivered(mail_dir, total),
        what="every escalation to be delivered",
    )
    wait_until(worker.idle, what="the worker to finish")
    # And once more in this process, as a late retry would.
    for escalation_id in Escalation.objects.values_list("pk", flat=True):
        assert deliver_escalation.apply(args=[escalation_id]).get() == 0

    assert Escalation.objects.count() == total
    assert set(Escalation.objects.values_list("attempts", flat=True)) == {1}
    assert_each_escalation_notified_once(mail_dir, {company.it_head.pk}, parent_head, total)


def test_worker_killed_mid_sweep_leaves_no_step_fired_twice_or_lost(
    company, ladder_policy, parent_head, file_ticket_at, start_worker, mail_dir
):
    doomed_sweeps, lost_deliveries, queue = (
        unique_queue("doomed"),
        unique_queue("lost"),
        unique_queue("fresh"),
    )
    # The first worker sweeps; the deliveries it enqueues go to a queue nobody consumes and
    # that is dropped below, as if the broker had lost them with the crash. The second one
    # stands by (another worker of the deployment) and gets work only after the kill.
    doomed = start_worker(consume=[doomed_sweeps], deliveries_to=lost_deliveries)
    fresh = start_worker(consume=[queue], deliveries_to=queue)
    tickets = file_due_tickets(file_ticket_at, 150)
    total = len(tickets) * STEPS_PER_TICKET
    doomed.wait_ready()
    fresh.wait_ready()

    escalate_due_tickets.apply_async(queue=doomed_sweeps)
    wait_until(
        lambda: Escalation.objects.count() >= 3 * STEPS_PER_TICKET,
        what="the sweep to get going",
    )
    assert sessions_of(doomed.name) > 0  # the sweep holds its connection while it runs
    doomed.kill()
    forget_queues(lost_deliveries)

    fired_before_kill = Escalation.objects.count()
    assert 0 < fired_before_kill < total, "the kill did not land in the middle of the sweep"
    # A ticket's steps are fired in one transaction: all of them or none.
    per_ticket = Escalation.objects.values("ticket").annotate(n=Count("id"))
    assert {row["n"] for row in per_ticket} == {STEPS_PER_TICKET}
    assert not Escalation.objects.exclude(notified_at=None).exists()

    # The next sweep, on the other worker, fires exactly the rest and delivers what it fired.
    escalate_due_tickets.apply_async(queue=queue)
    wait_until(lambda: Escalation.objects.count() >= total, what=f"{total} escalations")
    wait_until(
        lambda: Escalation.objects.filter(notified_at=None).count() == fired_before_kill,
        what="the fresh sweep's escalations to be delivered",
    )
    wait_until(fresh.idle, what="the fresh worker to finish")
    assert Escalation.objects.filter(notified_at=None).count() == fired_before_kill

    # The outbox: past their next attempt, the lost deliveries are enqueued again, and only they.
    later = timezone.now() + escalation.DELIVERY_GRACE + timedelta(seconds=1)
    assert escalation.requeue_undelivered(now=later, enqueue=publish_to(queue)) == (
        fired_before_kill
    )
    wait_until(
        lambda: all_delivered(mail_dir, total),
        what="the requeued escalations to be delivered",
    )
    wait_until(fresh.idle, what="the fresh worker to finish")

    per_ticket = Escalation.objects.values("ticket").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_ticket) == [STEPS_PER_TICKET] * len(tickets)
    assert escalation.requeue_undelivered(now=later + timedelta(hours=1)) == 0
    assert_each_escalation_notified_once(mail_dir, {company.it_head.pk}, parent_head, total)
