"""Read queries for the suggestion box and the improvement-action board. Visibility lives here.

Suggestions: an author sees their own named suggestions; agents and heads of a department see
every suggestion to it (anonymous ones carry no author to see); admins see all; nobody else
sees any. Improvement actions: agents and heads of the department, and admins.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from departments.models import Department, User
from departments.selectors import headed_department_ids, provider_department_ids
from tickets.models import Service

from .models import ImprovementAction, Suggestion, Survey

BREACH_WINDOW_DAYS = 90


def visible_suggestions(user: User) -> QuerySet[Suggestion]:
    if not user.is_authenticated:
        return Suggestion.objects.none()
    if user.is_staff:
        return Suggestion.objects.all()
    condition = Q(author_id=user.pk, anonymous=False)
    provided = provider_department_ids(user)
    if provided:
        condition |= Q(department_id__in=provided)
    return Suggestion.objects.filter(condition)


def suggestion_list(user: User) -> QuerySet[Suggestion]:
    """Visible suggestions with what a list row shows, newest first, in one query."""
    return (
        visible_suggestions(user)
        .select_related("department", "author")
        .order_by("-created_on", "-id")
    )


def my_suggestions(user: User) -> QuerySet[Suggestion]:
    """The user's own named suggestions (anonymous ones are not linked to anyone)."""
    return suggestion_list(user).filter(author_id=user.pk, anonymous=False)


def inbox_departments(user: User) -> QuerySet[Department]:
    """Departments whose suggestion inbox the user reads: their provider side; admins: all."""
    departments = Department.objects.filter(is_active=True).order_by("name", "pk")
    if user.is_staff:
        return departments
    return departments.filter(pk__in=provider_department_ids(user))


def visible_actions(user: User) -> QuerySet[ImprovementAction]:
    if not user.is_authenticated:
        return ImprovementAction.objects.none()
    if user.is_staff:
        return ImprovementAction.objects.all()
    return ImprovementAction.objects.filter(department_id__in=provider_department_ids(user))


def action_list(user: User) -> QuerySet[ImprovementAction]:
    return (
        visible_actions(user)
        .select_related("department", "owner")
        .order_by("due_date", "id")  # soonest due first; undated last (NULLS LAST on PostgreSQL)
    )


def board_departments(user: User) -> QuerySet[Department]:
    """Departments whose improvement board the user may open (same rule as visible_actions)."""
    return inbox_departments(user)


def editable_departments(user: User) -> QuerySet[Department]:
    departments = Department.objects.filter(is_active=True).order_by("name", "pk")
    if user.is_staff:
        return departments
    return departments.filter(pk__in=headed_department_ids(user))


def breach_clusters(
    department_id: int, *, days: int = BREACH_WINDOW_DAYS, limit: int = 10
) -> QuerySet[Service]:
    """The department's services with the most resolution breaches among tickets filed in the
    last `days` days, most first (one aggregate query); each carries `breaches`."""
    since = timezone.now() - timedelta(days=days)
    return (
        Service.objects.filter(department_id=department_id)
        .annotate(
            breaches=Count(
                "tickets",
                filter=Q(tickets__resolution_breached=True, tickets__created_at__gte=since),
            )
        )
        .filter(breaches__gt=0)
        .order_by("-breaches", "name", "pk")[:limit]
    )


def recent_surveys(department_id: int, limit: int = 20) -> QuerySet[Survey]:
    return Survey.objects.filter(provider_department_id=department_id).order_by(
        "-closes_at", "-pk"
    )[:limit]


def recent_suggestions(department_id: int, limit: int = 30) -> QuerySet[Suggestion]:
    """Suggestions an action could answer: not declined, newest first."""
    return (
        Suggestion.objects.filter(department_id=department_id)
        .exclude(status=Suggestion.Status.DECLINED)
        .order_by("-created_on", "-pk")[:limit]
    )


@dataclass(frozen=True)
class SourceRef:
    source_type: str
    source_id: int
    label: str
    url: str


def source_refs(actions: list[ImprovementAction]) -> dict[tuple[str, int], SourceRef]:
    """What each action's source is, for labels and links: one query per source type used."""
    wanted: dict[str, set[int]] = {}
    for action in actions:
        wanted.setdefault(action.source_type, set()).add(action.source_id)
    refs: dict[tuple[str, int], SourceRef] = {}
    Source = ImprovementAction.Source
    if wanted.get(Source.SURVEY):
        for survey in Survey.objects.filter(pk__in=wanted[Source.SURVEY]).only("pk", "title"):
            refs[(Source.SURVEY, survey.pk)] = SourceRef(
                Source.SURVEY, survey.pk, survey.title, f"/surveys/{survey.pk}/results/"
            )
    if wanted.get(Source.BREACH):
        for service in Service.objects.filter(pk__in=wanted[Source.BREACH]).only(
            "pk", "name", "department_id"
        ):
            refs[(Source.BREACH, service.pk)] = SourceRef(
                Source.BREACH,
                service.pk,
                service.name,
                f"/queue/?department={service.department_id}&service={service.pk}&breached=yes",
            )
    if wanted.get(Source.SUGGESTION):
        for suggestion in Suggestion.objects.filter(pk__in=wanted[Source.SUGGESTION]).only(
            "pk", "title", "department_id"
        ):
            refs[(Source.SUGGESTION, suggestion.pk)] = SourceRef(
                Source.SUGGESTION,
                suggestion.pk,
                suggestion.title,
                f"/suggestions/?department={suggestion.department_id}#suggestion-{suggestion.pk}",
            )
    return refs
