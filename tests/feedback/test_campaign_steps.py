"""A survey campaign's steps as beat runs them (DESIGN §2 "Feedback", §3 "Background work"):
it opens at its time and invites its audience only, reminds only those who have not answered,
closes at its deadline and schedules its successor, and running any step again, or several
runs at once, sends nothing twice. Time is moved with time_machine; mail is delivered from the
outbox in-process into Django's test mailbox."""

import threading
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import connection

from departments.models import User
from feedback import outbox, surveys
from feedback.models import OutboundEmail, Survey, SurveyInvitation
from tests.factories import DepartmentFactory, UserFactory
from tests.feedback.survey_helpers import SMALL_SERVQUAL, make_survey, servqual_answers
from tickets.models import Notification

SH = ZoneInfo("Asia/Shanghai")
OPENS = datetime(2026, 3, 2, 9, 0, tzinfo=SH)
CLOSES = datetime(2026, 3, 12, 9, 0, tzinfo=SH)  # halfway: Sat 7 March 09:00
HALFWAY = datetime(2026, 3, 7, 9, 0, tzinfo=SH)


def at(moment: datetime, minutes: int = 0) -> time_machine.travel:
    return time_machine.travel(moment + timedelta(minutes=minutes), tick=False)


@pytest.fixture
def campaign(company) -> Survey:
    """IT's campaign asked of HR and Finance, made a week before it opens, repeating
    quarterly."""
    with at(OPENS - timedelta(days=7)):
        return make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr, company.finance],
            items=SMALL_SERVQUAL,
            opens_at=OPENS,
            closes_at=CLOSES,
            repeat_months=3,
        )


@pytest.fixture
def audience(company) -> set[int]:
    """Active employees whose home department is HR or Finance."""
    UserFactory(username="gone", department=company.hr, is_active=False)  # left: not asked
    UserFactory(username="legal", department=DepartmentFactory(code="LAW"))  # not asked
    return {
        company.requester.pk,
        company.other_employee.pk,
        company.hr_head.pk,
        company.finance_agent.pk,
    }


def emails(key: str) -> Counter:
    return Counter(OutboundEmail.objects.filter(key=key).values_list("recipient", flat=True))


def deliver() -> int:
    return outbox.deliver_pending()


def test_a_campaign_opens_invites_its_audience_reminds_non_respondents_and_closes_once(
    company, campaign, audience
):
    invite_key, remind_key = f"survey-invite:{campaign.pk}", f"survey-remind:{campaign.pk}"

    with at(OPENS, -1):
        assert surveys.run_campaigns() == {"opened": 0, "invited": 0, "reminded": 0, "closed": 0}
    campaign.refresh_from_db()
    assert campaign.state == Survey.State.SCHEDULED

    # Opening time: the audience (and only it) is invited, in-app and by email.
    with at(OPENS, 1):
        assert surveys.run_campaigns() == {
            "opened": 1,
            "invited": len(audience),
            "reminded": 0,
            "closed": 0,
        }
        # A second beat in the same minute, and the step called directly: nothing new.
        assert surveys.run_campaigns()["invited"] == 0
        assert surveys.open_survey(survey_id=campaign.pk) == 0
    campaign.refresh_from_db()
    assert campaign.state == Survey.State.OPEN
    assert campaign.opened_at == OPENS + timedelta(minutes=1)
    invited = set(SurveyInvitation.objects.filter(survey=campaign).values_list("user", flat=True))
    assert invited == audience
    assert emails(invite_key) == Counter(audience)
    notifications = Notification.objects.filter(source_key=invite_key)
    assert set(notifications.values_list("user", flat=True)) == audience
    assert set(notifications.values_list("url", flat=True)) == {f"/surveys/{campaign.pk}/"}

    assert deliver() == len(audience)
    assert deliver() == 0
    assert len(mail.outbox) == len(audience)
    by_address = {message.to[0]: message for message in mail.outbox}
    assert set(by_address) == set(
        User.objects.filter(pk__in=audience).values_list("email", flat=True)
    )
    assert f"/surveys/{campaign.pk}/" in mail.outbox[0].body

    # Two of the four answer.
    respondents = [company.requester, company.finance_agent]
    with at(OPENS, 60):
        for person in respondents:
            surveys.submit_response(
                user=person, survey=campaign, answers=servqual_answers(campaign, {"*": (6, 5)})
            )

    # Not yet halfway: no reminder.
    with at(HALFWAY, -1):
        assert surveys.run_campaigns()["reminded"] == 0
    # Halfway (no remind_at given): only those who have not answered are reminded, once.
    with at(HALFWAY, 1):
        assert surveys.run_campaigns()["reminded"] == 2
        assert surveys.run_campaigns()["reminded"] == 0
        assert surveys.remind_survey(survey_id=campaign.pk) == 0
    non_respondents = audience - {person.pk for person in respondents}
    assert emails(remind_key) == Counter(non_respondents)
    assert (
        set(Notification.objects.filter(source_key=remind_key).values_list("user", flat=True))
        == non_respondents
    )
    reminded = SurveyInvitation.objects.filter(survey=campaign).exclude(reminded_at=None)
    assert set(reminded.values_list("user", flat=True)) == non_respondents

    assert deliver() == 2
    assert len(mail.outbox) == len(audience) + 2
    reminders = mail.outbox[len(audience) :]
    assert {m.to[0] for m in reminders} == set(
        User.objects.filter(pk__in=non_respondents).values_list("email", flat=True)
    )

    # Deadline: closed, answers refused, the next quarter's campaign scheduled once.
    with at(CLOSES, 1):
        assert surveys.run_campaigns()["closed"] == 1
        assert surveys.run_campaigns()["closed"] == 0
        assert surveys.close_survey(survey_id=campaign.pk) is False
        with pytest.raises(surveys.SurveyNotOpen):
            surveys.submit_response(
                user=company.other_employee,
                survey=campaign,
                answers=servqual_answers(campaign, {"*": (6, 5)}),
            )
    campaign.refresh_from_db()
    assert campaign.state == Survey.State.CLOSED
    assert campaign.closed_at == CLOSES + timedelta(minutes=1)

    [successor] = Survey.objects.exclude(pk=campaign.pk)
    assert successor.state == Survey.State.SCHEDULED
    assert successor.opens_at == datetime(2026, 6, 2, 9, 0, tzinfo=SH)
    assert successor.closes_at == datetime(2026, 6, 12, 9, 0, tzinfo=SH)
    assert successor.repeat_months == 3
    assert successor.title == campaign.title
    assert list(successor.items.values_list("key", "dimension", "text")) == list(
        campaign.items.values_list("key", "dimension", "text")
    )
    assert set(successor.audience_departments.all()) == {company.hr, company.finance}

    # Everything once more, later: nothing is sent twice.
    with at(CLOSES, 5):
        assert surveys.run_campaigns() == {"opened": 0, "invited": 0, "reminded": 0, "closed": 0}
    assert deliver() == 0
    assert len(mail.outbox) == len(audience) + 2
    assert OutboundEmail.objects.count() == len(audience) + 2
    assert Survey.objects.count() == 2


def test_remind_at_overrides_halfway(company):
    remind_at = OPENS + timedelta(days=1)
    with at(OPENS - timedelta(days=1)):
        survey = make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr],
            opens_at=OPENS,
            closes_at=CLOSES,
            remind_at=remind_at,
        )
    with at(OPENS, 1):
        surveys.run_campaigns()
    with at(remind_at, -1):
        assert surveys.run_campaigns()["reminded"] == 0
    with at(remind_at, 1):
        assert surveys.run_campaigns()["reminded"] == 3  # HR's three employees
    survey.refresh_from_db()
    assert survey.reminded_at == remind_at + timedelta(minutes=1)


def test_a_campaign_whose_window_passed_while_beat_was_down_closes_without_inviting(company):
    with at(OPENS - timedelta(days=1)):
        survey = make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr],
            opens_at=OPENS,
            closes_at=CLOSES,
        )
    with at(CLOSES, 30):
        assert surveys.run_campaigns() == {"opened": 0, "invited": 0, "reminded": 0, "closed": 1}
    survey.refresh_from_db()
    assert survey.state == Survey.State.CLOSED
    assert not SurveyInvitation.objects.exists()
    assert not OutboundEmail.objects.exists()


def test_nobody_is_reminded_when_everyone_answered(company):
    with at(OPENS - timedelta(days=1)):
        survey = make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.finance],
            items=SMALL_SERVQUAL,
            opens_at=OPENS,
            closes_at=CLOSES,
        )
    with at(OPENS, 1):
        surveys.run_campaigns()
        surveys.submit_response(
            user=company.finance_agent,
            survey=survey,
            answers=servqual_answers(survey, {"*": (5, 5)}),
        )
    with at(HALFWAY, 1):
        assert surveys.run_campaigns()["reminded"] == 0
    assert not OutboundEmail.objects.filter(key__startswith="survey-remind").exists()


def test_invitation_email_is_written_in_the_site_language(company, settings):
    settings.LANGUAGE_CODE = "en"
    with at(OPENS - timedelta(days=1)):
        survey = make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.finance],
            opens_at=OPENS,
            closes_at=CLOSES,
            title="Quarterly IT survey",
        )
    with at(OPENS, 1):
        surveys.run_campaigns()
    email = OutboundEmail.objects.get()
    assert email.subject == "Survey: Quarterly IT survey"
    assert "2026-03-12 09:00" in email.body  # the deadline, in the company's time zone
    assert email.body.rstrip().endswith(f"/surveys/{survey.pk}/")


@pytest.mark.django_db(transaction=True)
def test_concurrent_beats_run_each_step_once(company):
    """Four beats at once at each step: one takes it, the others find nothing to do."""
    with at(OPENS - timedelta(days=1)):
        survey = make_survey(
            company.it_head,
            provider=company.it,
            audience=[company.hr, company.finance],
            opens_at=OPENS,
            closes_at=CLOSES,
            repeat_months=1,
        )

    def race(moment: datetime) -> list[dict]:
        results: list[dict] = []
        barrier = threading.Barrier(4)

        def beat() -> None:
            try:
                barrier.wait(timeout=10)
                results.append(surveys.run_campaigns(now=moment))
            finally:
                connection.close()

        threads = [threading.Thread(target=beat) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert len(results) == 4
        return results

    opened = race(OPENS + timedelta(minutes=1))
    assert sum(result["opened"] for result in opened) == 1
    assert sum(result["invited"] for result in opened) == 4
    reminded = race(HALFWAY + timedelta(minutes=1))
    assert sum(result["reminded"] for result in reminded) == 4
    closed = race(CLOSES + timedelta(minutes=1))
    assert sum(result["closed"] for result in closed) == 1

    assert SurveyInvitation.objects.filter(survey=survey).count() == 4
    per_key = Counter(OutboundEmail.objects.values_list("key", "recipient"))
    assert set(per_key.values()) == {1}
    assert len(per_key) == 8  # 4 invitations + 4 reminders
    assert Notification.objects.filter(source_key__startswith="survey-").count() == 8
    assert Survey.objects.count() == 2  # the campaign and one successor


def test_the_beat_schedule_runs_campaigns_and_the_outbox_every_minute(db):
    """The data migration puts both periodic tasks in django-celery-beat's tables (admins see
    and edit them there), once however often it runs. (The test database is built without
    migrations, so the migration's function is applied here.)"""
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    migration = importlib.import_module("feedback.migrations.0002_campaign_schedule")
    migration.create_schedules(apps, None)
    migration.create_schedules(apps, None)
    tasks = [
        (task.task, task.interval.every, task.interval.period, task.enabled)
        for task in PeriodicTask.objects.select_related("interval")
        .filter(task__startswith="feedback.tasks.")
        .order_by("task")
    ]
    assert tasks == [
        ("feedback.tasks.deliver_outbox", 60, "seconds", True),
        ("feedback.tasks.run_survey_campaigns", 60, "seconds", True),
    ]
