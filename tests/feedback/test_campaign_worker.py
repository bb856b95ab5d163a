"""A survey campaign run by a REAL Celery beat and worker (DESIGN §2 "Feedback": "invitations
and reminders by Celery; the campaign closes itself at its deadline").

Beat is django-celery-beat's DatabaseScheduler reading the PeriodicTask rows the feedback
migration writes (sped up to every second here); the worker consumes on Redis against the test
database and writes its mail to files. The campaign opens, reminds and closes a few seconds
apart in the near future and real time moves it forward: it opens and invites its audience,
reminds only those who have not answered, closes, schedules its successor once, and nobody gets
any email twice.
"""

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from dateutil.relativedelta import relativedelta
from django.apps import apps as django_apps
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from feedback import surveys
from feedback.models import OutboundEmail, Survey, SurveyInvitation
from servicedesk.celery import app
from tests.feedback.survey_helpers import SMALL_SERVQUAL, make_survey, servqual_answers
from tests.slas.test_escalation_worker import (
    forget_queues,
    mail_count,
    sent_mail,
    sessions_of,
    wait_until,
)

pytestmark = pytest.mark.django_db(transaction=True)

BASE_DIR = Path(settings.BASE_DIR)
WAIT = 30.0  # seconds: the bound on each wait below
schedule_migration = importlib.import_module("feedback.migrations.0002_campaign_schedule")

# Runs `celery worker` or `celery beat` with the project's app, publishing to and consuming
# from a queue of the test's own (argv[1]).
LAUNCHER = """\
import sys
from servicedesk.celery import app
app.conf.task_default_queue = sys.argv[1]
app.start([sys.argv[2], *sys.argv[3:]])
"""


class Process:
    """A celery subprocess in its own process group, logging to a file, its database sessions
    named after it."""

    def __init__(self, *, kind: str, queue: str, env: dict[str, str], log: Path, args: list):
        self.name = f"survey-{kind}-{uuid.uuid4().hex[:8]}"
        self.log = log
        self.terminated = False
        env = {**env, "DATABASE_URL": f"{env['DATABASE_URL']}?application_name={self.name}"}
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, queue, kind, *args],
                cwd=BASE_DIR,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def alive(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited early:\n{self.tail()}")
        return True

    def terminate(self) -> None:
        """Ask for a warm shutdown (once)."""
        if not self.terminated and self.process.poll() is None:
            self.terminated = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Its sessions must be gone before the test database is flushed.
        wait_until(lambda: sessions_of(self.name) == 0, what=f"{self.name}'s sessions to end")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture
def mail_dir(tmp_path: Path) -> Path:
    (tmp_path / "mail").mkdir()
    return tmp_path / "mail"


@pytest.fixture
def env(mail_dir: Path) -> dict[str, str]:
    db = settings.DATABASES["default"]
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{credentials}@{host}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "EMAIL_URL": f"filemail:///{mail_dir}",
    }


@pytest.fixture
def beat_schedule(db) -> list[PeriodicTask]:
    """The feedback migration's periodic tasks (written again: transactional tests flush
    tables), every second instead of every minute; every other periodic task off."""
    schedule_migration.create_schedules(django_apps, None)
    names = [name for name, _task, _seconds in schedule_migration.SCHEDULES]
    every_second, _ = IntervalSchedule.objects.get_or_create(
        every=1, period=IntervalSchedule.SECONDS
    )
    PeriodicTask.objects.exclude(name__in=names).update(enabled=False)
    PeriodicTask.objects.filter(name__in=names).update(interval=every_second, enabled=True)
    return list(PeriodicTask.objects.filter(name__in=names))


@pytest.fixture
def celery(env, tmp_path, beat_schedule) -> Iterator[dict[str, Process]]:
    queue = f"survey-test-{uuid.uuid4().hex[:10]}"
    worker = Process(
        kind="worker",
        queue=queue,
        env=env,
        log=tmp_path / "worker.log",
        args=[
            "--pool=prefork",
            "--concurrency=2",
            "-Q",
            queue,
            "-n",
            f"{queue}@localhost",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
        ],
    )
    beat = Process(
        kind="beat",
        queue=queue,
        env=env,
        log=tmp_path / "beat.log",
        args=[
            "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
            f"--pidfile={tmp_path / 'beat.pid'}",
            "--loglevel=INFO",
            "--max-interval=1",
        ],
    )
    processes = {"worker": worker, "beat": beat, "queue": queue}
    try:
        wait_until(
            lambda: (
                worker.alive()
                and bool(app.control.ping(destination=[f"{queue}@localhost"], timeout=0.5))
            ),
            what="the worker to answer a ping",
            timeout=WAIT,
        )
        yield processes
    finally:
        beat.terminate()
        worker.terminate()
        beat.stop()
        worker.stop()
        forget_queues(queue)


def test_beat_and_worker_open_invite_remind_non_respondents_and_close_once(
    company, celery, mail_dir
):
    enabled = set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True))
    # (beat adds its own result clean-up task, daily)
    assert enabled - {"celery.backend_cleanup"} == {
        "feedback.tasks.run_survey_campaigns",
        "feedback.tasks.deliver_outbox",
    }
    audience = {
        company.requester.email,
        company.other_employee.email,
        company.hr_head.email,
        company.finance_agent.email,
    }
    start = timezone.now()
    survey = make_survey(
        company.it_head,
        provider=company.it,
        audience=[company.hr, company.finance],
        items=SMALL_SERVQUAL,
        opens_at=start + timedelta(seconds=2),
        remind_at=start + timedelta(seconds=9),
        closes_at=start + timedelta(seconds=13),
        repeat_months=1,
    )

    def state() -> str:
        return Survey.objects.values_list("state", flat=True).get(pk=survey.pk)

    # Opens; two of the audience answer at once, before the reminder is due.
    wait_until(lambda: celery["beat"].alive() and state() == "open", what="the campaign to open")
    for person in (company.requester, company.finance_agent):
        surveys.submit_response(
            user=person, survey=survey, answers=servqual_answers(survey, {"*": (6, 5)})
        )
    assert timezone.now() < survey.remind_at, "answered too late for the test to mean anything"
    opened = Survey.objects.get(pk=survey.pk)
    assert opened.opened_at >= survey.opens_at
    assert opened.reminded_at is None
    # The invitations: four emails, one per audience member.
    wait_until(lambda: mail_count(mail_dir) >= 4, what="four invitations", timeout=WAIT)

    # Reminds the other two, closes, schedules the next month's campaign.
    wait_until(lambda: mail_count(mail_dir) >= 6, what="two reminders", timeout=WAIT)
    wait_until(lambda: state() == "closed", what="the campaign to close", timeout=WAIT)
    closed = Survey.objects.get(pk=survey.pk)
    assert closed.reminded_at >= survey.remind_at
    assert closed.closed_at >= survey.closes_at

    # A few more beats (each second): nothing more is sent, nothing is scheduled twice.
    time.sleep(3)
    assert celery["beat"].alive()
    messages = sent_mail(mail_dir)
    assert len(messages) == 6
    per_address = Counter(str(message["to"]).strip() for message in messages)
    respondents = {company.requester.email, company.finance_agent.email}
    assert per_address == Counter(
        {address: 1 if address in respondents else 2 for address in audience}
    )
    assert OutboundEmail.objects.count() == 6
    assert not OutboundEmail.objects.filter(sent_at=None).exists()
    assert set(OutboundEmail.objects.values_list("attempts", flat=True)) == {1}
    assert SurveyInvitation.objects.filter(survey=survey).count() == 4
    successors = Survey.objects.exclude(pk=survey.pk)
    assert successors.count() == 1
    assert successors.get().opens_at == survey.opens_at + relativedelta(months=1)
