"""Read queries for survey campaigns: who sees, answers and manages which campaign, and the
results, computed with SQL aggregates and anonymised.

Results shapes (DESIGN §3 `surveys/{id}/results/`), every group with `respondents` and
`suppressed`; a suppressed group (fewer than MIN_GROUP_SIZE respondents, the campaign included)
carries no score keys at all:

SERVQUAL {"survey", "kind", "respondents", "suppressed", "min_group_size", "previous",
          "dimensions": [{"dimension", "label", "expectation", "perception", "gap",
                          "previous_gap", "change"}],
          "items": [{"item", "dimension", "text", "expectation", "perception", "gap"}],
          "by_consumer_department": [{"department", "department_name", "respondents",
                                      "suppressed", "dimensions": [...]}]}
KANO     {"survey", "kind", "respondents", "suppressed", "min_group_size",
          "items": [{"item", "feature", "counts": {"A", "O", "M", "I", "R", "Q"}, "category",
                     "better", "worse"}],
          "by_consumer_department": [{..., "items": [...]}]}
"""

from collections import defaultdict
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from departments.models import User
from departments.selectors import headed_department_ids

from .models import Survey, SurveyAnswer, SurveyInvitation, SurveyItem, SurveyResponse
from .questionnaires import dimension_label, display_text
from .scoring import DIMENSIONS, KANO_CATEGORIES, MIN_GROUP_SIZE, kano_category, kano_from_counts

DECIMALS = 2


def _surveys() -> QuerySet[Survey]:
    return (
        Survey.objects.select_related("provider_department")
        .prefetch_related("audience_departments")
        .order_by("-opens_at", "-id")
    )


def _invited(user: User) -> Exists:
    return Exists(SurveyInvitation.objects.filter(survey=OuterRef("pk"), user=user))


def _in_audience(user: User) -> Q:
    """The user's home department is in the campaign's audience (or they were invited)."""
    condition = Q(_invited(user))
    if user.department_id is not None:
        condition |= Q(
            Exists(
                Survey.audience_departments.through.objects.filter(
                    survey_id=OuterRef("pk"), department_id=user.department_id
                )
            )
        )
    return condition


def surveys_to_answer(user: User) -> QuerySet[Survey]:
    """Open campaigns addressed to the user that they have not answered yet, closing first."""
    if not user.is_authenticated or not user.is_active:
        return Survey.objects.none()
    answered = SurveyInvitation.objects.filter(
        survey=OuterRef("pk"), user=user, responded_at__isnull=False
    )
    return (
        Survey.objects.filter(state=Survey.State.OPEN, closes_at__gt=timezone.now())
        .filter(_in_audience(user))
        .exclude(Exists(answered))
        .select_related("provider_department")
        .order_by("closes_at", "id")
    )


def answered_survey_ids(user: User) -> set[int]:
    if not user.is_authenticated:
        return set()
    return set(
        SurveyInvitation.objects.filter(user=user, responded_at__isnull=False).values_list(
            "survey_id", flat=True
        )
    )


def managed_surveys(user: User) -> QuerySet[Survey]:
    """Campaigns the user runs: heads of the provider department; admins all of them."""
    if not user.is_authenticated:
        return Survey.objects.none()
    if user.is_staff:
        return _surveys()
    return _surveys().filter(provider_department_id__in=headed_department_ids(user))


def visible_surveys(user: User) -> QuerySet[Survey]:
    """Managed campaigns, and the ones addressed to the user once they have opened."""
    if not user.is_authenticated:
        return Survey.objects.none()
    if user.is_staff:
        return _surveys()
    addressed = _in_audience(user) & ~Q(state=Survey.State.SCHEDULED)
    return _surveys().filter(Q(provider_department_id__in=headed_department_ids(user)) | addressed)


def answerable_surveys(user: User) -> QuerySet[Survey]:
    """Where an answer may be posted: campaigns addressed to the user in any state (answering
    a scheduled or closed one is a conflict, not a secret) and the managed ones."""
    if not user.is_authenticated:
        return Survey.objects.none()
    if user.is_staff:
        return _surveys()
    return _surveys().filter(
        Q(provider_department_id__in=headed_department_ids(user)) | _in_audience(user)
    )


def can_read_results(user: User, survey: Survey) -> bool:
    return user.is_authenticated and (
        bool(user.is_staff) or survey.provider_department_id in headed_department_ids(user)
    )


# -- Results -----------------------------------------------------------------------------------


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DECIMALS)


def _respondent_groups(survey_id: int) -> list[dict[str, Any]]:
    """Respondents per consumer department (from the responses), largest first, with the
    small-group suppression applied."""
    groups = [
        {
            "department": row["consumer_department"],
            "department_name": row["consumer_department__name"] or "",
            "respondents": row["n"],
        }
        for row in SurveyResponse.objects.filter(survey_id=survey_id)
        .values("consumer_department", "consumer_department__name")
        .annotate(n=Count("id"))
        .order_by("-n", "consumer_department__name", "consumer_department")
    ]
    return suppress_groups(groups)


def suppress_groups(groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mark groups of fewer than MIN_GROUP_SIZE respondents suppressed, then (complementary
    suppression) keep suppressing the smallest shown group while the suppressed respondents
    together are fewer than MIN_GROUP_SIZE: otherwise the whole campaign's scores minus the
    shown groups' would give away a small group's answers."""
    for group in groups:
        group["suppressed"] = group["respondents"] < MIN_GROUP_SIZE
    hidden = sum(group["respondents"] for group in groups if group["suppressed"])
    shown = sorted((g for g in groups if not g["suppressed"]), key=lambda g: g["respondents"])
    while 0 < hidden < MIN_GROUP_SIZE and shown:
        group = shown.pop(0)
        group["suppressed"] = True
        hidden += group["respondents"]
    return groups


def _header(survey: Survey, respondents: int) -> dict[str, Any]:
    return {
        "survey": survey.pk,
        "kind": survey.kind,
        "respondents": respondents,
        "suppressed": respondents < MIN_GROUP_SIZE,
        "min_group_size": MIN_GROUP_SIZE,
    }


def _scores(sums: tuple[int, int, int]) -> dict[str, float | None]:
    expectation_sum, perception_sum, answers = sums
    if not answers:
        return {"expectation": None, "perception": None, "gap": None}
    expectation = expectation_sum / answers
    perception = perception_sum / answers
    return {
        "expectation": _round(expectation),
        "perception": _round(perception),
        "gap": _round(perception - expectation),
        "_gap": perception - expectation,  # unrounded, for the change; removed below
    }


def _servqual_sums(survey_id: int) -> dict[tuple[int | None, int], tuple[int, int, int]]:
    """(consumer department, item) → (Σ expectation, Σ perception, answers), one GROUP BY."""
    return {
        (row["response__consumer_department"], row["item"]): (row["e"], row["p"], row["n"])
        for row in SurveyAnswer.objects.filter(response__survey_id=survey_id)
        .values("response__consumer_department", "item")
        .annotate(e=Sum("expectation"), p=Sum("perception"), n=Count("id"))
        .order_by()
    }


def _add(total: tuple[int, int, int], more: tuple[int, int, int]) -> tuple[int, int, int]:
    return (total[0] + more[0], total[1] + more[1], total[2] + more[2])


def _dimension_rows(
    sums: dict[tuple[int | None, int], tuple[int, int, int]],
    dimension_of: dict[int, str],
    department: Any = ...,
) -> dict[str, dict[str, Any]]:
    """Per-dimension scores (a dimension weighs its items by answers) of one department's
    groups, or of all of them (department=...)."""
    totals: dict[str, tuple[int, int, int]] = defaultdict(lambda: (0, 0, 0))
    for (group, item_id), values in sums.items():
        if department is ... or group == department:
            dimension = dimension_of.get(item_id)
            if dimension:
                totals[dimension] = _add(totals[dimension], values)
    rows = {}
    for dimension in DIMENSIONS:
        if dimension in totals:
            rows[dimension] = {
                "dimension": dimension,
                "label": dimension_label(dimension),
                **_scores(totals[dimension]),
            }
    return rows


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if not key.startswith("_")}


def _previous_servqual(survey: Survey) -> tuple[Survey | None, dict[str, float] | None]:
    """The campaign before this one (same kind and provider, closed, closing earlier) and its
    unrounded gap per dimension, None when it is suppressed."""
    previous = (
        Survey.objects.filter(
            kind=survey.kind,
            provider_department_id=survey.provider_department_id,
            state=Survey.State.CLOSED,
            closes_at__lt=survey.closes_at,
        )
        .exclude(pk=survey.pk)
        .order_by("-closes_at", "-id")
        .first()
    )
    if previous is None:
        return None, None
    respondents = SurveyResponse.objects.filter(survey=previous).count()
    if respondents < MIN_GROUP_SIZE:
        return previous, None
    gaps = {
        row["item__dimension"]: (row["p"] - row["e"]) / row["n"]
        for row in SurveyAnswer.objects.filter(response__survey=previous)
        .values("item__dimension")
        .annotate(e=Sum("expectation"), p=Sum("perception"), n=Count("id"))
        .order_by()
        if row["n"]
    }
    return previous, gaps


def _servqual_results(survey: Survey) -> dict[str, Any]:
    groups = _respondent_groups(survey.pk)
    respondents = sum(group["respondents"] for group in groups)
    result = _header(survey, respondents)
    previous, previous_gaps = _previous_servqual(survey)
    result["previous"] = (
        None
        if previous is None
        else {"survey": previous.pk, "title": previous.title, "suppressed": previous_gaps is None}
    )
    if result["suppressed"]:
        result["by_consumer_department"] = [{**group, "suppressed": True} for group in groups]
        return result
    items = list(SurveyItem.objects.filter(survey=survey).order_by("position", "id"))
    dimension_of = {item.pk: item.dimension for item in items}
    sums = _servqual_sums(survey.pk)

    dimensions = _dimension_rows(sums, dimension_of)
    for row in dimensions.values():
        before = (previous_gaps or {}).get(row["dimension"])
        row["previous_gap"] = _round(before)
        row["change"] = _round(row["_gap"] - before) if before is not None else None
    result["dimensions"] = [_public(row) for row in dimensions.values()]

    item_totals: dict[int, tuple[int, int, int]] = defaultdict(lambda: (0, 0, 0))
    for (_group, item_id), values in sums.items():
        item_totals[item_id] = _add(item_totals[item_id], values)
    result["items"] = [
        _public(
            {
                "item": item.key,
                "dimension": item.dimension,
                "text": display_text(item),
                **_scores(item_totals[item.pk]),
            }
        )
        for item in items
        if item.pk in item_totals
    ]
    result["by_consumer_department"] = [
        group
        if group["suppressed"]
        else {
            **group,
            "dimensions": [
                _public(row)
                for row in _dimension_rows(sums, dimension_of, group["department"]).values()
            ],
        }
        for group in groups
    ]
    return result


def _kano_items(items: list[SurveyItem], counts: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        result = kano_from_counts(counts.get(item.pk, {}))
        rows.append(
            {
                "item": item.key,
                "feature": display_text(item),
                "counts": result.counts,
                "category": result.category,
                "better": _round(result.better),
                "worse": _round(result.worse),
            }
        )
    return rows


def _kano_results(survey: Survey) -> dict[str, Any]:
    groups = _respondent_groups(survey.pk)
    respondents = sum(group["respondents"] for group in groups)
    result = _header(survey, respondents)
    if result["suppressed"]:
        result["by_consumer_department"] = [{**group, "suppressed": True} for group in groups]
        return result
    items = list(SurveyItem.objects.filter(survey=survey).order_by("position", "id"))
    # Answer pairs counted per (department, item, functional, dysfunctional): at most 25 rows
    # per item and department, classified here by the Kano table.
    whole: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(KANO_CATEGORIES, 0))
    by_group: dict[Any, dict[int, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: dict.fromkeys(KANO_CATEGORIES, 0))
    )
    for row in (
        SurveyAnswer.objects.filter(response__survey=survey)
        .values("response__consumer_department", "item", "functional", "dysfunctional")
        .annotate(n=Count("id"))
        .order_by()
    ):
        category = kano_category(row["functional"], row["dysfunctional"])
        whole[row["item"]][category] += row["n"]
        by_group[row["response__consumer_department"]][row["item"]][category] += row["n"]
    result["items"] = _kano_items(items, whole)
    result["by_consumer_department"] = [
        group
        if group["suppressed"]
        else {**group, "items": _kano_items(items, by_group[group["department"]])}
        for group in groups
    ]
    return result


def survey_results(survey: Survey) -> dict[str, Any]:
    """A campaign's results, anonymised (see the module docstring for the shapes)."""
    if survey.kind == Survey.Kind.KANO:
        return _kano_results(survey)
    return _servqual_results(survey)


def latest_servqual(department_id: int) -> dict[str, Any] | None:
    """Results of the department's latest closed SERVQUAL campaign (the head's dashboard)."""
    survey = (
        Survey.objects.filter(
            provider_department_id=department_id,
            kind=Survey.Kind.SERVQUAL,
            state=Survey.State.CLOSED,
        )
        .order_by("-closes_at", "-id")
        .first()
    )
    if survey is None:
        return None
    results = survey_results(survey)
    results["title"] = survey.title
    results["closes_at"] = survey.closes_at
    return results
