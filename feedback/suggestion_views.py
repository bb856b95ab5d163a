"""Pages of the suggestion box (`/suggestions/`) and the PDCA improvement board (`/actions/`).

Thin: reads through `feedback.suggestion_selectors`, writes through `feedback.suggestions` and
`feedback.actions`. A suggestion or action the user may not see is a 404.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from departments.models import Department, User
from departments.selectors import department_staff
from servicedesk.errors import DomainError
from servicedesk.observability import omit_user_from_log
from tickets.models import Service

from . import suggestion_selectors as selectors
from .actions import can_edit_actions, next_stage, save_improvement_action
from .models import ImprovementAction, Suggestion, Survey
from .suggestion_forms import (
    ImprovementActionForm,
    SuggestionAnswerForm,
    SuggestionForm,
    source_value,
)
from .suggestions import answer_suggestion, can_answer, next_statuses, submit_suggestion

PAGE_SIZE = 20
COLUMN_LIMIT = 50


def _page_number(request: HttpRequest, name: str = "page") -> int:
    raw = request.GET.get(name, "1")
    return max(1, int(raw)) if raw.isdigit() else 1


def _bounded_page(queryset: Any, page: int, size: int = PAGE_SIZE) -> tuple[list, bool]:
    """One page by slicing `size + 1` rows: tells whether a next page exists without COUNT(*)."""
    start = (page - 1) * size
    rows = list(queryset[start : start + size + 1])
    return rows[:size], len(rows) > size


def _pick_department(request: HttpRequest, departments: list[Department]) -> Department | None:
    raw = request.GET.get("department", "")
    if raw.isdigit():
        for department in departments:
            if department.pk == int(raw):
                return department
    return departments[0] if departments else None


# --- the suggestion box ------------------------------------------------------------------------


def forget_author(request: HttpRequest | Any) -> None:
    """After an anonymous submission the request's log line must not name its author."""
    omit_user_from_log(getattr(request, "_request", request))  # DRF wraps the HttpRequest


@dataclass
class InboxRow:
    suggestion: Suggestion
    form: SuggestionAnswerForm | None
    can_create_action: bool


def _inbox_row(
    user: User, suggestion: Suggestion, form: SuggestionAnswerForm | None = None
) -> InboxRow:
    if form is None and can_answer(user, suggestion):
        form = SuggestionAnswerForm(
            suggestion=suggestion, next_statuses=next_statuses(suggestion.status)
        )
    return InboxRow(
        suggestion=suggestion,
        form=form,
        can_create_action=can_edit_actions(user, suggestion.department_id),
    )


def _suggestion_page(request: HttpRequest, form: SuggestionForm, status: int = 200) -> HttpResponse:
    user = request.user
    mine_page = _page_number(request)
    mine, mine_has_next = _bounded_page(selectors.my_suggestions(user), mine_page)

    context: dict[str, Any] = {
        "form": form,
        "mine": mine,
        "mine_page": mine_page,
        "mine_has_next": mine_has_next,
    }
    departments = list(selectors.inbox_departments(user))
    department = _pick_department(request, departments)
    if department is not None:
        status_filter = request.GET.get("status", "")
        if status_filter not in Suggestion.Status.values:
            status_filter = ""
        inbox_qs = selectors.suggestion_list(user).filter(department=department)
        if status_filter:
            inbox_qs = inbox_qs.filter(status=status_filter)
        inbox_page = _page_number(request, "inbox_page")
        rows, inbox_has_next = _bounded_page(inbox_qs, inbox_page)
        base = {"department": department.pk, "status": status_filter}
        context.update(
            {
                "inbox_departments": departments,
                "inbox_department": department,
                "inbox_rows": [_inbox_row(user, s) for s in rows],
                "inbox_page": inbox_page,
                "inbox_has_next": inbox_has_next,
                "inbox_query": urlencode({k: v for k, v in base.items() if v}),
                "status_filter": status_filter,
                "statuses": Suggestion.Status.choices,
            }
        )
    return render(request, "feedback/suggestions.html", context, status=status)


@login_required
def suggestions(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = SuggestionForm(request.POST)
        if form.is_valid():
            try:
                suggestion = submit_suggestion(author=request.user, **form.cleaned_data)
            except DomainError as error:
                form.apply_service_errors(error)
            else:
                if suggestion.anonymous:
                    forget_author(request)
                    messages.success(
                        request,
                        _(
                            "Your anonymous suggestion was sent. It is not linked to you, so it "
                            "does not appear in your list and you will not be notified."
                        ),
                    )
                else:
                    messages.success(
                        request,
                        _("Your suggestion was sent. You will be notified when it is answered."),
                    )
                return redirect("suggestions")
        return _suggestion_page(request, form, status=400)
    initial = {}
    if request.GET.get("to", "").isdigit():
        initial["department"] = int(request.GET["to"])
    return _suggestion_page(request, SuggestionForm(initial=initial))


@login_required
@require_POST
def suggestion_answer(request: HttpRequest, suggestion_id: int) -> HttpResponse:
    user = request.user
    suggestion = get_object_or_404(selectors.suggestion_list(user), pk=suggestion_id)
    if not can_answer(user, suggestion):
        return render(request, "feedback/suggestions_forbidden.html", status=403)
    form = SuggestionAnswerForm(
        request.POST, suggestion=suggestion, next_statuses=next_statuses(suggestion.status)
    )
    is_htmx = bool(request.headers.get("HX-Request"))
    if form.is_valid():
        try:
            suggestion = answer_suggestion(actor=user, suggestion=suggestion, **form.cleaned_data)
        except DomainError as error:
            form.apply_service_errors(error)
        else:
            if is_htmx:
                row = _inbox_row(user, selectors.suggestion_list(user).get(pk=suggestion.pk))
                row_context = {"row": row, "saved": True}
                return render(request, "feedback/suggestions_item.html", row_context)
            messages.success(request, _("The suggestion was updated."))
            return redirect(f"/suggestions/?department={suggestion.department_id}")
    row = _inbox_row(user, suggestion, form)
    # htmx swaps 2xx answers only: the row with its errors comes back as 200 there.
    return render(
        request, "feedback/suggestions_item.html", {"row": row}, status=200 if is_htmx else 400
    )


# --- the improvement board ---------------------------------------------------------------------


@dataclass
class Column:
    stage: str
    label: str
    cards: list[ImprovementAction]
    more: bool


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render(request, "feedback/actions_forbidden.html", status=403)


@login_required
def actions_board(request: HttpRequest) -> HttpResponse:
    user = request.user
    departments = list(selectors.board_departments(user))
    department = _pick_department(request, departments)
    if department is None:
        return _forbidden(request)
    # At most COLUMN_LIMIT + 1 cards per stage, soonest due first: one windowed query.
    ranked = (
        selectors.action_list(user)
        .filter(department=department)
        .annotate(
            position=Window(
                RowNumber(),
                partition_by=[F("stage")],
                order_by=[F("due_date").asc(nulls_last=True), F("id").asc()],
            )
        )
        .filter(position__lte=COLUMN_LIMIT + 1)
        .order_by(F("due_date").asc(nulls_last=True), "id")
    )
    by_stage: dict[str, list[ImprovementAction]] = {s: [] for s in ImprovementAction.Stage.values}
    for action in ranked:
        by_stage[action.stage].append(action)
    shown = [a for cards in by_stage.values() for a in cards[:COLUMN_LIMIT]]
    refs = selectors.source_refs(shown)
    today = timezone.localdate()
    stage_labels = dict(ImprovementAction.Stage.choices)
    for action in shown:
        action.source_ref = refs.get((action.source_type, action.source_id))
        action.overdue = bool(
            action.due_date
            and action.due_date < today
            and action.stage != ImprovementAction.Stage.ACT
        )
        action.next_stage_label = stage_labels[next_stage(action.stage)]
    columns = [
        Column(stage, stage_labels[stage], cards[:COLUMN_LIMIT], len(cards) > COLUMN_LIMIT)
        for stage, cards in by_stage.items()
    ]
    return render(
        request,
        "feedback/actions.html",
        {
            "department": department,
            "departments": departments,
            "columns": columns,
            "can_edit": can_edit_actions(user, department.pk),
        },
    )


def _source_department(source_type: str, source_id: str) -> int | None:
    """The department a prefilled source belongs to (so a link from a suggestion just works)."""
    if not source_id.isdigit():
        return None
    pk = int(source_id)
    model = {
        ImprovementAction.Source.SUGGESTION: (Suggestion, "department_id"),
        ImprovementAction.Source.BREACH: (Service, "department_id"),
        ImprovementAction.Source.SURVEY: (Survey, "provider_department_id"),
    }.get(source_type)
    if model is None:
        return None
    cls, field = model
    return cls.objects.filter(pk=pk).values_list(field, flat=True).first()


def _source_choices(department: Department, current: tuple[str, int] | None) -> list:
    Source = ImprovementAction.Source
    surveys = [
        (source_value(Source.SURVEY, s.pk), s.title)
        for s in selectors.recent_surveys(department.pk)
    ]
    breaches = [
        (
            source_value(Source.BREACH, s.pk),
            _("%(service)s — %(count)d resolution breaches in 90 days")
            % {"service": s.name, "count": s.breaches},
        )
        for s in selectors.breach_clusters(department.pk)
    ]
    suggestions_ = [
        (source_value(Source.SUGGESTION, s.pk), s.title)
        for s in selectors.recent_suggestions(department.pk)
    ]
    groups = {Source.SURVEY: surveys, Source.BREACH: breaches, Source.SUGGESTION: suggestions_}
    if current is not None:
        value = source_value(*current)
        group = groups.get(current[0])
        if group is not None and all(v != value for v, _label in group):
            ref = selectors.source_refs(
                [ImprovementAction(source_type=current[0], source_id=current[1])]
            ).get(current)
            if ref is not None and _source_department(*map(str, current)) == department.pk:
                group.insert(0, (value, ref.label))
    labels = dict(Source.choices)
    return [(labels[key], options) for key, options in groups.items() if options]


def _action_form_page(
    request: HttpRequest,
    *,
    department: Department,
    action: ImprovementAction | None,
) -> HttpResponse:
    user = request.user
    owners = list(department_staff(department.pk))
    current: tuple[str, int] | None = None
    if action is not None:
        current = (action.source_type, action.source_id)
    elif request.GET.get("source_type") and request.GET.get("source_id", "").isdigit():
        current = (request.GET["source_type"], int(request.GET["source_id"]))
    sources = _source_choices(department, current)
    kwargs: dict[str, Any] = {"owners": owners, "sources": sources, "action": action}
    if request.method == "POST":
        form = ImprovementActionForm(request.POST, **kwargs)
        if form.is_valid():
            fields = form.service_fields()
            try:
                saved = save_improvement_action(
                    actor=user, action=action, department=department, **fields
                )
            except DomainError as error:
                form.apply_service_errors(error)
            else:
                messages.success(request, _("The improvement action “%s” was saved.") % saved.title)
                return redirect(f"/actions/?department={department.pk}")
        status = 400
    else:
        if action is not None:
            initial = {
                "title": action.title,
                "description": action.description,
                "owner": action.owner_id,
                "source": source_value(action.source_type, action.source_id),
                "stage": action.stage,
                "due_date": action.due_date,
                "metric": action.metric,
                "baseline": action.baseline,
                "result": action.result,
            }
        else:
            initial = {"owner": user.pk if any(o.pk == user.pk for o in owners) else None}
            if current is not None:
                initial["source"] = source_value(*current)
                if current[0] == ImprovementAction.Source.SUGGESTION:
                    title = (
                        Suggestion.objects.filter(pk=current[1], department=department)
                        .values_list("title", flat=True)
                        .first()
                    )
                    if title:
                        initial["title"] = title
        form = ImprovementActionForm(initial=initial, **kwargs)
        status = 200
    return render(
        request,
        "feedback/actions_form.html",
        {"form": form, "department": department, "action": action},
        status=status,
    )


@login_required
def action_new(request: HttpRequest) -> HttpResponse:
    user = request.user
    editable = list(selectors.editable_departments(user))
    if not editable:
        return _forbidden(request)
    wanted = request.GET.get("department", "")
    department_id = int(wanted) if wanted.isdigit() else None
    if department_id is None:
        department_id = _source_department(
            request.GET.get("source_type", ""), request.GET.get("source_id", "")
        )
    department = next((d for d in editable if d.pk == department_id), None)
    if department is None:
        if department_id is not None:
            return _forbidden(request)
        department = editable[0]
    return _action_form_page(request, department=department, action=None)


@login_required
def action_edit(request: HttpRequest, action_id: int) -> HttpResponse:
    action = get_object_or_404(selectors.action_list(request.user), pk=action_id)
    if not can_edit_actions(request.user, action.department_id):
        return _forbidden(request)
    return _action_form_page(request, department=action.department, action=action)


@login_required
@require_POST
def action_advance(request: HttpRequest, action_id: int) -> HttpResponse:
    action = get_object_or_404(selectors.action_list(request.user), pk=action_id)
    if not can_edit_actions(request.user, action.department_id):
        return _forbidden(request)
    expected = request.POST.get("stage", "")
    try:
        if expected and expected != action.stage:
            # The card moved meanwhile (another head, a double click): do not move it twice.
            messages.warning(request, _("The action had already moved; nothing was changed."))
        else:
            saved = save_improvement_action(
                actor=request.user, action=action, stage=next_stage(action.stage)
            )
            messages.success(
                request,
                _("“%(title)s” moved to %(stage)s.")
                % {"title": saved.title, "stage": saved.get_stage_display()},
            )
    except DomainError as error:
        messages.error(request, error.detail)
    return redirect(f"/actions/?department={action.department_id}")
