"""Helpers for the survey campaign tests: a campaign of IT asked of HR and Finance, people to
answer it, and answer builders."""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.utils import timezone

from departments.models import Department, User
from feedback import surveys
from feedback.models import Survey
from tests.factories import UserFactory

# A small SERVQUAL questionnaire, one item per dimension and two for reliability, so the
# expected figures can be worked out by hand.
SMALL_SERVQUAL = [
    {"key": "t1", "dimension": "tangibles", "text": "The portal is easy to use."},
    {"key": "r1", "dimension": "reliability", "text": "Requests are done when promised."},
    {"key": "r2", "dimension": "reliability", "text": "It is right the first time."},
    {"key": "s1", "dimension": "responsiveness", "text": "Staff answer promptly."},
    {"key": "a1", "dimension": "assurance", "text": "Staff know their job."},
    {"key": "e1", "dimension": "empathy", "text": "Staff understand my needs."},
]

KANO_FEATURES = [
    {"key": "f1", "feature": "Status updates by chat message"},
    {"key": "f2", "feature": "A printed monthly report"},
]


def people(department: Department, count: int, prefix: str) -> list[User]:
    return [UserFactory(username=f"{prefix}{n}", department=department) for n in range(count)]


def make_survey(
    actor: User,
    *,
    provider: Department,
    audience: Iterable[Department],
    kind: str = Survey.Kind.SERVQUAL,
    items: list[dict] | None = None,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
    title: str = "IT 服务质量调查",
    **extra: object,
) -> Survey:
    now = timezone.now()
    return surveys.create_survey(
        actor=actor,
        kind=kind,
        title=title,
        provider_department=provider,
        audience_departments=list(audience),
        opens_at=opens_at or now + timedelta(hours=1),
        closes_at=closes_at or now + timedelta(days=7),
        items=items,
        **extra,
    )


def open_now(survey: Survey) -> Survey:
    surveys.open_survey(survey_id=survey.pk)
    survey.refresh_from_db()
    return survey


def servqual_answers(survey: Survey, values: dict[str, tuple[int, int]]) -> list[dict]:
    """One answer per item: values maps item key → (expectation, perception); "*" = the rest."""
    answers = []
    for key in survey.items.order_by("position").values_list("key", flat=True):
        expectation, perception = values.get(key, values.get("*"))
        answers.append({"item": key, "expectation": expectation, "perception": perception})
    return answers


def answer_all(survey: Survey, users: Iterable[User], values: dict[str, tuple[int, int]]) -> None:
    for user in users:
        surveys.submit_response(user=user, survey=survey, answers=servqual_answers(survey, values))
