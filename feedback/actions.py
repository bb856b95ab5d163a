"""PDCA improvement actions: a department's head records what the department will change,
why (a survey gap, a cluster of SLA breaches, a suggestion), who owns it and how it will be
measured, and moves it through plan → do → check → act.

Stage rule: an action starts at `plan` and moves forward one stage at a time; from `act` it may
go back to `plan` to start the next cycle. Any other move is refused (409 invalid_transition).
"""

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from departments.models import Department, Membership, User
from departments.selectors import is_head_of
from servicedesk.errors import InvalidInput, InvalidTransition, NotAllowed
from tickets.models import Service

from .models import ImprovementAction, Suggestion, Survey

Stage = ImprovementAction.Stage
Source = ImprovementAction.Source

STAGE_ORDER: tuple[str, ...] = (Stage.PLAN, Stage.DO, Stage.CHECK, Stage.ACT)
EDITABLE_FIELDS = frozenset(
    {
        "department",
        "title",
        "description",
        "owner",
        "source_type",
        "source_id",
        "stage",
        "due_date",
        "metric",
        "baseline",
        "result",
    }
)


def next_stage(stage: str) -> str:
    """The stage after `stage`; after `act` comes the next cycle's `plan`."""
    index = STAGE_ORDER.index(stage)
    return STAGE_ORDER[(index + 1) % len(STAGE_ORDER)]


def stage_move_allowed(current: str, target: str) -> bool:
    return target == current or target == next_stage(current)


def can_edit_actions(user: User, department_id: int) -> bool:
    """Heads of the department and admins create and edit its improvement actions."""
    return user.is_authenticated and (bool(user.is_staff) or is_head_of(user, department_id))


def _is_department_staff(user: User, department: Department) -> bool:
    return Membership.objects.filter(
        user=user,
        department=department,
        role__in=(Membership.Role.AGENT, Membership.Role.HEAD),
        user__is_active=True,
    ).exists()


def source_exists(department: Department, source_type: str, source_id: int) -> bool:
    """Whether `source_id` names a source of that type belonging to the department."""
    if source_type == Source.SURVEY:
        return Survey.objects.filter(pk=source_id, provider_department=department).exists()
    if source_type == Source.BREACH:
        return Service.objects.filter(pk=source_id, department=department).exists()
    if source_type == Source.SUGGESTION:
        return Suggestion.objects.filter(pk=source_id, department=department).exists()
    return False


SOURCE_MISSING = {
    Source.SURVEY: gettext_lazy("There is no survey campaign %(id)s of %(department)s."),
    Source.BREACH: gettext_lazy(
        "There is no service %(id)s of %(department)s to take a breach cluster from."
    ),
    Source.SUGGESTION: gettext_lazy("There is no suggestion %(id)s to %(department)s."),
}


def _validate(action: ImprovementAction) -> None:
    errors: dict[str, list[str]] = {}
    if not (action.title or "").strip():
        errors["title"] = [_("This field is required.")]
    elif len(action.title) > 200:
        errors["title"] = [_("Ensure this value has at most 200 characters.")]
    if len(action.metric or "") > 200:
        errors["metric"] = [_("Ensure this value has at most 200 characters.")]
    department = action.department if action.department_id else None
    if department is None:
        errors["department"] = [_("This field is required.")]
    elif not department.is_active:
        errors["department"] = [_("Choose an active department.")]
    if action.owner_id is None:
        errors["owner"] = [_("This field is required.")]
    elif department is not None and not _is_department_staff(action.owner, department):
        errors["owner"] = [
            _("The owner must be an agent or head of %(department)s.")
            % {"department": department.name}
        ]
    if action.source_type not in Source.values:
        errors["source_type"] = [
            _("Choose one of: %(choices)s.") % {"choices": ", ".join(Source.values)}
        ]
    elif action.source_id is None:
        errors["source_id"] = [_("This field is required.")]
    elif department is not None and not source_exists(
        department, action.source_type, action.source_id
    ):
        errors["source_id"] = [
            str(SOURCE_MISSING[action.source_type])
            % {"id": action.source_id, "department": department.name}
        ]
    for field in ("baseline", "result"):
        value = getattr(action, field)
        if value is not None and abs(Decimal(value)) >= Decimal("1e10"):
            errors[field] = [_("Ensure this value is less than 10000000000.")]
    if errors:
        raise InvalidInput(errors)


@transaction.atomic
def save_improvement_action(
    *, actor: User, action: ImprovementAction | None = None, **fields: Any
) -> ImprovementAction:
    """Create an improvement action (action=None) or edit one, stage moves included.

    Heads of the department (of both departments when it moves) and admins only. An existing
    action is locked while it changes, so two heads moving one card cannot skip a stage.
    """
    unknown = set(fields) - EDITABLE_FIELDS
    if unknown:
        raise InvalidInput({name: [_("This field cannot be set.")] for name in sorted(unknown)})
    creating = action is None or action.pk is None
    if creating:
        action = ImprovementAction(stage=Stage.PLAN, created_by=actor)
        current_stage = None
    else:
        action = ImprovementAction.objects.select_for_update().get(pk=action.pk)
        current_stage = action.stage

    department = fields.get("department", action.department if action.department_id else None)
    if department is None:
        raise InvalidInput({"department": [_("This field is required.")]})
    departments = [department] if creating else [department, action.department]
    if not all(can_edit_actions(actor, d.pk) for d in departments):
        raise NotAllowed(_("Only heads of the department and admins edit its improvement actions."))

    stage = fields.pop("stage", None)
    for name, value in fields.items():
        setattr(action, name, value)
    if stage is not None:
        if stage not in Stage.values:
            raise InvalidInput(
                {"stage": [_("Choose one of: %(choices)s.") % {"choices": ", ".join(STAGE_ORDER)}]}
            )
        if current_stage is None:
            if stage != Stage.PLAN:
                message = _("A new improvement action starts at the plan stage.")
                raise InvalidTransition(message, fields={"stage": [message]})
        elif not stage_move_allowed(current_stage, stage):
            message = _(
                "An action at %(from)s moves on to %(next)s (one stage at a time), not to %(to)s."
            ) % {
                "from": Stage(current_stage).label,
                "next": Stage(next_stage(current_stage)).label,
                "to": Stage(stage).label,
            }
            raise InvalidTransition(message, fields={"stage": [message]})
        action.stage = stage
    action.title = (action.title or "").strip()
    action.metric = (action.metric or "").strip()
    action.description = (action.description or "").strip()
    _validate(action)
    action.save()
    return action


@transaction.atomic
def advance_improvement_action(*, actor: User, action: ImprovementAction) -> ImprovementAction:
    """Move an action to its next stage (after `act`, back to `plan` for a new cycle)."""
    return save_improvement_action(actor=actor, action=action, stage=next_stage(action.stage))
