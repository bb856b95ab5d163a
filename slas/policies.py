"""Writes to SLA policies and agreements, and the re-computation of open tickets they govern."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from servicedesk.errors import InvalidInput
from tickets.models import OPEN_STATUSES, Priority, Ticket

from .models import Agreement, SlaPolicy

NOTIFY_TARGETS = ("assignee", "department_head", "parent_department_head")
MAX_TARGET_MINUTES = 60 * 24 * 365  # a year of business minutes is more than any real target


def clean_targets(value: Any) -> dict[str, dict[str, int]]:
    """{"urgent": {"response": 30, "resolution": 240}, ...} for every priority, in minutes."""
    if not isinstance(value, dict):
        raise InvalidInput({"targets": [_("must be an object keyed by priority")]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, dict[str, int]] = {}
    for key in value:
        if key not in Priority.values:
            errors[f"targets.{key}"] = [_("is not a priority")]
    for priority in Priority.values:
        target = value.get(priority)
        if not isinstance(target, dict):
            errors[f"targets.{priority}"] = [_("needs response and resolution minutes")]
            continue
        cleaned[priority] = {}
        for clock in ("response", "resolution"):
            minutes = target.get(clock)
            if isinstance(minutes, bool) or not isinstance(minutes, int):
                errors[f"targets.{priority}.{clock}"] = [_("must be a whole number of minutes")]
            elif not 1 <= minutes <= MAX_TARGET_MINUTES:
                errors[f"targets.{priority}.{clock}"] = [
                    _("must be between 1 and %(max)s") % {"max": MAX_TARGET_MINUTES}
                ]
            else:
                cleaned[priority][clock] = minutes
        extra = set(target) - {"response", "resolution"}
        if extra:
            errors[f"targets.{priority}"] = [_("unknown keys: %s") % ", ".join(sorted(extra))]
    if errors:
        raise InvalidInput(errors)
    return cleaned


def clean_ladder(value: Any) -> list[dict[str, Any]]:
    """[{"at_percent": 100, "notify": "department_head"}, ...] sorted by percent."""
    if not isinstance(value, list):
        raise InvalidInput({"ladder": [_("must be a list of levels")]})
    errors: dict[str, list[str]] = {}
    levels: list[dict[str, Any]] = []
    seen: set[tuple[int, str]] = set()
    for index, level in enumerate(value):
        where = f"ladder.{index}"
        if not isinstance(level, dict):
            errors[where] = [_("must be an object with at_percent and notify")]
            continue
        percent, notify = level.get("at_percent"), level.get("notify")
        if isinstance(percent, bool) or not isinstance(percent, int) or not 1 <= percent <= 1000:
            errors[f"{where}.at_percent"] = [_("must be a whole number from 1 to 1000")]
            continue
        if notify not in NOTIFY_TARGETS:
            errors[f"{where}.notify"] = [_("must be one of: %s") % ", ".join(NOTIFY_TARGETS)]
            continue
        if (percent, notify) in seen:
            errors[where] = [_("duplicate level")]
            continue
        seen.add((percent, notify))
        levels.append({"at_percent": percent, "notify": notify})
    if errors:
        raise InvalidInput(errors)
    return sorted(levels, key=lambda lvl: (lvl["at_percent"], lvl["notify"]))


@transaction.atomic
def save_policy(*, policy: SlaPolicy | None = None, **fields: Any) -> SlaPolicy:
    """Create or edit a policy; open tickets under it get their clocks recomputed (in the
    background, after commit)."""
    if "targets" in fields:
        fields["targets"] = clean_targets(fields["targets"])
    if "ladder" in fields:
        fields["ladder"] = clean_ladder(fields["ladder"] or [])
    warning = fields.get("warning_percent")
    if warning is not None and not 1 <= warning <= 99:
        raise InvalidInput({"warning_percent": [_("must be between 1 and 99")]})
    existing = policy is not None and policy.pk is not None
    policy = policy or SlaPolicy()
    for name, value in fields.items():
        setattr(policy, name, value)
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError:
        raise InvalidInput({"name": [_("a policy with this name already exists")]}) from None
    if existing:
        policy_id = policy.pk
        transaction.on_commit(lambda: _enqueue_recompute(policy_id))
    return policy


@transaction.atomic
def save_agreement(*, agreement: Agreement | None = None, **fields: Any) -> Agreement:
    agreement = agreement or Agreement()
    for name, value in fields.items():
        setattr(agreement, name, value)
    if agreement.service_id and agreement.service.department_id != agreement.provider_department_id:
        raise InvalidInput({"service": [_("must be a service of the provider department")]})
    clash = Agreement.objects.filter(
        provider_department_id=agreement.provider_department_id,
        consumer_department_id=agreement.consumer_department_id,
        service_id=agreement.service_id,
    ).exclude(pk=agreement.pk)
    if clash.exists():
        raise InvalidInput(
            {"consumer_department": [_("an agreement for this consumer and service exists")]}
        )
    agreement.save()
    return agreement


def enqueue_recompute_for_calendar(calendar_id: int) -> None:
    for policy_id in SlaPolicy.objects.filter(calendar_id=calendar_id).values_list("pk", flat=True):
        _enqueue_recompute(policy_id)


def _enqueue_recompute(policy_id: int) -> None:
    from .tasks import recompute_policy_tickets

    recompute_policy_tickets.enqueue(policy_id)


def recompute_policy_tickets(*, policy_id: int, batch_size: int = 500) -> int:
    """Recompute due times of every open ticket under a policy, a batch per transaction."""
    from . import clocks

    done = 0
    last_id = 0
    while True:
        ids = list(
            Ticket.objects.filter(sla_policy_id=policy_id, status__in=OPEN_STATUSES, pk__gt=last_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            return done
        with transaction.atomic():
            for ticket in Ticket.objects.select_for_update().filter(pk__in=ids).order_by("pk"):
                clocks.recompute(ticket)
                ticket.save(update_fields=clocks.SLA_FIELDS)
                done += 1
        last_id = ids[-1]
