"""Survey pages (DESIGN §3 "Pages"): the campaigns a person is asked to answer or manages, the
answer form, and the results for heads of the provider department.

Reads go through `feedback.survey_selectors` (who may see what lives there), writes through
`feedback.surveys`; scores come ready-made (and suppressed for small groups) from
`survey_results`, this module only arranges them for the templates.
"""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from departments.models import User
from servicedesk.errors import Conflict, DomainError, InvalidInput

from . import charts, survey_selectors, surveys
from .forms import SurveyAnswerForm
from .models import Survey, SurveyInvitation, SurveyItem, SurveyResponse
from .questionnaires import KANO_CATEGORY_LABELS, dimension_label
from .scoring import KANO_CATEGORIES, MIN_GROUP_SIZE

LIST_LIMIT = 50

KANO_LABELS = KANO_CATEGORY_LABELS
KANO_ORDER = KANO_CATEGORIES


# --- finding the campaign ------------------------------------------------------------------------


def _in_audience(user: User, survey: Survey) -> bool:
    """The same rule `submit_response` applies: invited, or an active employee whose home
    department is in the audience (joined after the campaign opened, or it has not opened)."""
    if SurveyInvitation.objects.filter(survey=survey, user=user).exists():
        return True
    return (
        user.is_active
        and user.department_id is not None
        and survey.audience_departments.filter(pk=user.department_id).exists()
    )


def _survey_or_404(survey_id: int) -> Survey:
    survey = Survey.objects.select_related("provider_department").filter(pk=survey_id).first()
    if survey is None:
        raise Http404
    return survey


def _managed(user: User) -> QuerySet[Survey]:
    """The campaigns a head or admin manages, with their response and invitation counts as
    subqueries (one query for the whole list whatever the number of responses)."""
    respondents = (
        SurveyResponse.objects.filter(survey=OuterRef("pk"))
        .order_by()
        .values("survey")
        .annotate(n=Count("pk"))
        .values("n")
    )
    invited = (
        SurveyInvitation.objects.filter(survey=OuterRef("pk"))
        .order_by()
        .values("survey")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        survey_selectors.managed_surveys(user)
        .select_related("provider_department")
        .annotate(
            respondent_count=Coalesce(Subquery(respondents), 0),
            invited_count=Coalesce(Subquery(invited), 0),
        )
        .order_by("-opens_at", "-pk")
    )


# --- the list ------------------------------------------------------------------------------------


@login_required
def survey_list(request: HttpRequest) -> HttpResponse:
    user = request.user
    to_answer = list(
        survey_selectors.surveys_to_answer(user)
        .select_related("provider_department")
        .order_by("closes_at", "pk")[:LIST_LIMIT]
    )
    answered_ids = survey_selectors.answered_survey_ids(user)
    answered = list(
        Survey.objects.filter(pk__in=answered_ids)
        .select_related("provider_department")
        .order_by("-closes_at", "-pk")[:LIST_LIMIT]
    )
    managed = list(_managed(user)[:LIST_LIMIT])
    return render(
        request,
        "feedback/survey_list.html",
        {"to_answer": to_answer, "answered": answered, "managed": managed},
    )


@login_required
@require_POST
def survey_step(request: HttpRequest, survey_id: int, step: str) -> HttpResponse:
    """The open/close buttons of a managed campaign: run the step now."""
    survey = (
        survey_selectors.managed_surveys(request.user)
        .select_related("provider_department")
        .filter(pk=survey_id)
        .first()
    )
    if survey is None:
        raise Http404
    try:
        if step == "open":
            invited = surveys.open_survey_by_hand(actor=request.user, survey=survey)
            messages.success(
                request,
                ngettext(
                    "“%(title)s” is open; %(n)d person was invited.",
                    "“%(title)s” is open; %(n)d people were invited.",
                    invited,
                )
                % {"title": survey.title, "n": invited},
            )
        else:
            surveys.close_survey_by_hand(actor=request.user, survey=survey)
            messages.success(request, _("“%(title)s” is closed.") % {"title": survey.title})
    except DomainError as error:
        messages.error(request, error.detail)
    return redirect("surveys")


# --- answering -----------------------------------------------------------------------------------


def _items(survey: Survey) -> list[SurveyItem]:
    return list(survey.items.order_by("position", "pk"))


@login_required
def survey_answer(request: HttpRequest, survey_id: int) -> HttpResponse:
    user = request.user
    survey = _survey_or_404(survey_id)
    if not _in_audience(user, survey):
        raise Http404
    answered = survey.pk in survey_selectors.answered_survey_ids(user)
    context: dict[str, Any] = {"survey": survey, "answered": answered}
    status = 200
    if answered:
        context["state"] = "thanks" if request.GET.get("done") else "answered"
        if request.method == "POST":
            context["state"], status = "answered", 409
        return render(request, "feedback/survey_answer.html", context, status=status)
    if survey.state != Survey.State.OPEN or timezone.now() >= survey.closes_at:
        # Past its closing time a campaign takes no answers even before beat closes it.
        context["state"] = (
            Survey.State.SCHEDULED if survey.state == Survey.State.SCHEDULED else "closed"
        )
        status = 409 if request.method == "POST" else 200
        return render(request, "feedback/survey_answer.html", context, status=status)

    items = _items(survey)
    if request.method == "POST":
        form = SurveyAnswerForm(request.POST, survey=survey, items=items)
        if form.is_valid():
            try:
                surveys.submit_response(user=user, survey=survey, answers=form.answers())
            except InvalidInput as error:
                form.apply_service_errors(error)
            except surveys.AlreadyAnswered:
                context["state"] = "answered"
                return render(request, "feedback/survey_answer.html", context, status=409)
            except Conflict as error:
                context["state"], context["error"] = "closed", error.detail
                return render(request, "feedback/survey_answer.html", context, status=409)
            else:
                return redirect(f"{request.path}?done=1")
        status = 400
    else:
        form = SurveyAnswerForm(survey=survey, items=items)
    context.update({"state": "form", "form": form})
    return render(request, "feedback/survey_answer.html", context, status=status)


# --- results -------------------------------------------------------------------------------------


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f}".replace("-", "−")


def _dimension_rows(dimensions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "label": dimension_label(row["dimension"]),
            "expectation_text": _score(row.get("expectation")),
            "perception_text": _score(row.get("perception")),
            "gap_text": _signed(row.get("gap")),
            "previous_text": _signed(row.get("previous_gap")),
            "change_text": _signed(row.get("change")),
            "negative": (row.get("gap") or 0) < 0,
        }
        for row in dimensions
    ]


def servqual_chart(dimensions: list[dict[str, Any]], *, title: str, compact: bool = False) -> Any:
    return charts.gap_chart(
        title=title,
        desc=_(
            "Gap between perception and expectation per SERVQUAL dimension, on the 1–7 scale: "
            "bars to the left (red) fall short of expectations, bars to the right (green) "
            "exceed them. The table lists the same figures."
        ),
        bars=[charts.GapBar(dimension_label(d["dimension"]), d.get("gap")) for d in dimensions],
        width=420 if compact else 460,
        label_width=110 if compact else 120,
        row_height=26 if compact else 28,
    )


def _servqual_context(survey: Survey, results: dict[str, Any]) -> dict[str, Any]:
    dimensions = _dimension_rows(results.get("dimensions") or [])
    item_rows = []
    for row in results.get("items") or []:
        item_rows.append(
            {
                **row,
                "text": row.get("text") or row["item"],
                "dimension_label": dimension_label(row.get("dimension") or ""),
                "expectation_text": _score(row.get("expectation")),
                "perception_text": _score(row.get("perception")),
                "gap_text": _signed(row.get("gap")),
                "negative": (row.get("gap") or 0) < 0,
            }
        )
    breakdown = []
    for group in results.get("by_consumer_department") or []:
        breakdown.append(
            {
                **group,
                "name": group.get("department_name") or _("No home department"),
                "dimensions": _dimension_rows(group.get("dimensions") or []),
            }
        )
    has_previous = any(row.get("previous_gap") is not None for row in dimensions)
    return {
        "dimensions": dimensions,
        "item_rows": item_rows,
        "breakdown": breakdown,
        "breakdown_dimensions": [row["label"] for row in dimensions],
        "has_previous": has_previous,
        "chart": (
            servqual_chart(
                results.get("dimensions") or [],
                title=_("SERVQUAL gap by dimension: %(title)s") % {"title": survey.title},
            )
            if dimensions
            else None
        ),
    }


def _kano_context(survey: Survey, results: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for row in results.get("items") or []:
        counts = row.get("counts") or {}
        rows.append(
            {
                **row,
                "feature": row.get("feature") or row["item"],
                "count_list": [counts.get(key, 0) for key in KANO_ORDER],
                "category_label": (
                    KANO_LABELS[row["category"]] if row.get("category") in KANO_LABELS else "—"
                ),
                "better_text": _score(row.get("better")),
                "worse_text": _score(row.get("worse")),
            }
        )
    return {
        "kano_rows": rows,
        "kano_columns": [(key, KANO_LABELS[key]) for key in KANO_ORDER],
    }


@login_required
def survey_results(request: HttpRequest, survey_id: int) -> HttpResponse:
    survey = _survey_or_404(survey_id)
    if not survey_selectors.can_read_results(request.user, survey):
        raise Http404
    results = survey_selectors.survey_results(survey)
    context: dict[str, Any] = {
        "survey": survey,
        "results": results,
        "suppressed": bool(results.get("suppressed")),
        "min_group": MIN_GROUP_SIZE,
    }
    if not context["suppressed"]:
        if survey.kind == Survey.Kind.SERVQUAL:
            context.update(_servqual_context(survey, results))
        else:
            context.update(_kano_context(survey, results))
    return render(request, "feedback/survey_results.html", context)


# --- the heads' dashboard panel ------------------------------------------------------------------


def dashboard_servqual(department_id: int) -> dict[str, Any] | None:
    """Context for templates/feedback/_dashboard_servqual.html: the department's latest closed
    SERVQUAL campaign, a small gap chart and the link to its results (None: no campaign yet)."""
    latest = survey_selectors.latest_servqual(department_id)
    if latest is None:
        return None
    dimensions = latest.get("dimensions") or []
    suppressed = bool(latest.get("suppressed"))
    survey_id = latest.get("survey")
    return {
        **latest,
        "survey_id": survey_id,
        "suppressed": suppressed,
        "min_group": MIN_GROUP_SIZE,
        "rows": _dimension_rows(dimensions),
        "chart": None
        if suppressed or not dimensions
        else servqual_chart(dimensions, title=_("SERVQUAL gap by dimension"), compact=True),
    }
