"""Survey campaigns (SERVQUAL, KANO): creating them, running their steps and answering them.

A campaign moves scheduled → open → closed. Celery beat calls `run_campaigns` every minute;
each step (open and invite, remind non-respondents, close and schedule the successor) is
claimed with a conditional UPDATE on the Survey row, so two beats or workers never run the same
step twice, and its effects (invitations, outbox emails, notifications) are written in the
claiming transaction: a crash rolls the claim back with them and the next run redoes the step.
Invitations, outbox rows and notifications are unique anyway.

Answers are anonymous: the invitation records *that* a user answered (so they answer once),
the response records *what* was answered and the respondent's home department, nothing more.
"""

import logging
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from departments.models import Department, User
from departments.selectors import is_head_of
from servicedesk.errors import Conflict, InvalidInput, NotAllowed
from tickets.models import Notification

from .models import Survey, SurveyAnswer, SurveyInvitation, SurveyItem, SurveyResponse
from .outbox import Email, queue_emails
from .questionnaires import DEFAULT_SERVQUAL_ITEMS, STANDARD_TEXTS
from .scoring import DIMENSIONS, KANO_ANSWERS, SCALE

logger = logging.getLogger(__name__)

MAX_ITEMS = 100
MAX_REPEAT_MONTHS = 60
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


class SurveyNotOpen(Conflict):
    code = "survey_not_open"


class AlreadyAnswered(Conflict):
    code = "already_answered"


class SurveyNotScheduled(Conflict):
    code = "survey_not_scheduled"


class SurveyClosed(Conflict):
    code = "survey_closed"


def survey_url(survey_id: int) -> str:
    return f"/surveys/{survey_id}/"


def can_manage(user: User, provider_department_id: int) -> bool:
    """Heads of the provider department and admins run its campaigns."""
    return bool(user.is_staff) or is_head_of(user, provider_department_id)


# -- Validation --------------------------------------------------------------------------------


def _department_ids(departments: Iterable[Department | int]) -> list[int]:
    ids = []
    for department in departments:
        department_id = department.pk if isinstance(department, Department) else department
        if department_id not in ids:
            ids.append(department_id)
    return ids


def _text(
    item: dict, name: str, path: str, limit: int, errors: dict[str, list[str]], *, required: bool
) -> str:
    value = item.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[f"{path}.{name}"] = [_("must be text")]
        return ""
    value = value.strip()
    if required and not value:
        errors[f"{path}.{name}"] = [_("This field is required.")]
    elif len(value) > limit:
        errors[f"{path}.{name}"] = [_("must be at most %(n)d characters") % {"n": limit}]
    return value


def clean_items(kind: str, items: list[Any] | None) -> list[dict[str, str]]:
    """The campaign's items as stored (SERVQUAL: the default questionnaire when none given).

    Raises InvalidInput naming the item field, e.g. `items[0].dimension`."""
    if not items:
        if kind == Survey.Kind.KANO:
            raise InvalidInput({"items": [_("A KANO campaign needs at least one feature.")]})
        return [
            {"key": item.key, "dimension": item.dimension, "text": ""}
            for item in DEFAULT_SERVQUAL_ITEMS
        ]
    if not isinstance(items, list):
        raise InvalidInput({"items": [_("must be a list of items")]})
    if len(items) > MAX_ITEMS:
        raise InvalidInput({"items": [_("at most %(n)d items") % {"n": MAX_ITEMS}]})
    errors: dict[str, list[str]] = {}
    cleaned: list[dict[str, str]] = []
    keys: set[str] = set()
    for index, item in enumerate(items):
        path = f"items[{index}]"
        if not isinstance(item, dict):
            errors[path] = [_("must be an object")]
            continue
        key = item.get("key") or f"item_{index + 1}"
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            errors[f"{path}.key"] = [
                _("use 1 to 40 letters, digits, hyphens or underscores"),
            ]
        elif key in keys:
            errors[f"{path}.key"] = [_("another item has the same key")]
        keys.add(str(key))
        if kind == Survey.Kind.SERVQUAL:
            dimension = item.get("dimension")
            if dimension not in DIMENSIONS:
                errors[f"{path}.dimension"] = [
                    _("must be one of: %s") % ", ".join(DIMENSIONS),
                ]
            # An empty text keeps the standard wording of a default item (shown translated).
            standard = key in STANDARD_TEXTS and str(key).startswith(f"{dimension}_")
            text = _text(item, "text", path, 500, errors, required=not standard)
            cleaned.append({"key": str(key), "dimension": str(dimension), "text": text})
        else:
            cleaned.append(
                {
                    "key": str(key),
                    "feature": _text(item, "feature", path, 200, errors, required=True),
                    "functional": _text(item, "functional", path, 500, errors, required=False),
                    "dysfunctional": _text(
                        item, "dysfunctional", path, 500, errors, required=False
                    ),
                }
            )
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _clean_campaign(
    values: dict[str, Any], *, now: datetime, new: bool, with_items: bool = True
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if values["kind"] not in Survey.Kind.values:
        errors["kind"] = [_("must be one of: %s") % ", ".join(Survey.Kind.values)]
    title = (values.get("title") or "").strip()
    if not title:
        errors["title"] = [_("This field is required.")]
    elif len(title) > 200:
        errors["title"] = [_("must be at most %(n)d characters") % {"n": 200}]
    values["title"] = title
    audience = _department_ids(values.get("audience_departments") or [])
    if not audience:
        errors["audience_departments"] = [_("Choose at least one consumer department.")]
    else:
        active = set(
            Department.objects.filter(pk__in=audience, is_active=True).values_list("pk", flat=True)
        )
        unknown = [str(pk) for pk in audience if pk not in active]
        if unknown:
            errors["audience_departments"] = [
                _("not an active department: %s") % ", ".join(unknown)
            ]
    values["audience_departments"] = audience
    opens_at, closes_at = values.get("opens_at"), values.get("closes_at")
    if opens_at is None:
        errors["opens_at"] = [_("This field is required.")]
    if closes_at is None:
        errors["closes_at"] = [_("This field is required.")]
    elif opens_at is not None and closes_at <= opens_at:
        errors["closes_at"] = [_("must be after the opening time")]
    elif new and closes_at <= now:
        errors["closes_at"] = [_("must be in the future")]
    remind_at = values.get("remind_at")
    if remind_at is not None and opens_at and closes_at and not opens_at < remind_at < closes_at:
        errors["remind_at"] = [_("must be between the opening and the closing time")]
    repeat_months = values.get("repeat_months")
    if repeat_months is not None and (
        isinstance(repeat_months, bool)
        or not isinstance(repeat_months, int)
        or not 1 <= repeat_months <= MAX_REPEAT_MONTHS
    ):
        errors["repeat_months"] = [
            _("must be a whole number of months from 1 to %(n)d") % {"n": MAX_REPEAT_MONTHS}
        ]
    if errors:
        raise InvalidInput(errors)
    if with_items:
        values["items"] = clean_items(values["kind"], values.get("items"))
    return values


def _write_items(survey: Survey, items: list[dict[str, str]]) -> None:
    SurveyItem.objects.bulk_create(
        [
            SurveyItem(survey=survey, position=position, **item)
            for position, item in enumerate(items)
        ]
    )


# -- Creating and editing ----------------------------------------------------------------------


@transaction.atomic
def create_survey(
    *,
    actor: User,
    kind: str,
    title: str,
    provider_department: Department | None,
    audience_departments: Iterable[Department | int],
    opens_at: datetime | None,
    closes_at: datetime | None,
    items: list[Any] | None = None,
    remind_at: datetime | None = None,
    repeat_months: int | None = None,
) -> Survey:
    """Schedule a campaign of a provider department (its heads, or an admin)."""
    if provider_department is None:
        raise InvalidInput({"provider_department": [_("This field is required.")]})
    if not provider_department.is_active:
        raise InvalidInput({"provider_department": [_("This department is not active.")]})
    if not can_manage(actor, provider_department.pk):
        raise NotAllowed(_("Only heads of the provider department may run its surveys."))
    values = _clean_campaign(
        {
            "kind": kind,
            "title": title,
            "audience_departments": audience_departments,
            "opens_at": opens_at,
            "closes_at": closes_at,
            "items": items,
            "remind_at": remind_at,
            "repeat_months": repeat_months,
        },
        now=timezone.now(),
        new=True,
    )
    survey = Survey.objects.create(
        kind=values["kind"],
        title=values["title"],
        provider_department=provider_department,
        opens_at=opens_at,
        closes_at=closes_at,
        remind_at=remind_at,
        repeat_months=repeat_months,
        created_by=actor,
    )
    survey.audience_departments.set(values["audience_departments"])
    _write_items(survey, values["items"])
    return survey


UPDATABLE = {
    "kind",
    "title",
    "provider_department",
    "audience_departments",
    "opens_at",
    "closes_at",
    "items",
    "remind_at",
    "repeat_months",
}


@transaction.atomic
def update_survey(*, actor: User, survey: Survey, **fields: Any) -> Survey:
    """Change a campaign that has not opened yet. Locks the survey row, so it cannot open
    half-edited."""
    unknown = set(fields) - UPDATABLE
    if unknown:
        raise InvalidInput({name: [_("cannot be changed")] for name in sorted(unknown)})
    survey = Survey.objects.select_for_update().get(pk=survey.pk)
    if not can_manage(actor, survey.provider_department_id):
        raise NotAllowed(_("Only heads of the provider department may run its surveys."))
    if survey.state != Survey.State.SCHEDULED:
        raise SurveyNotScheduled(_("Only a campaign that has not opened yet can be changed."))
    provider = fields.get("provider_department", survey.provider_department)
    if provider is None:
        raise InvalidInput({"provider_department": [_("This field is required.")]})
    if not can_manage(actor, provider.pk):
        raise NotAllowed(_("Only heads of the provider department may run its surveys."))
    kind = fields.get("kind", survey.kind)
    # Items stay as they are unless given, or the kind changes (then they must fit the kind).
    keep_items = "items" not in fields and kind == survey.kind
    values = _clean_campaign(
        {
            "kind": kind,
            "title": fields.get("title", survey.title),
            "audience_departments": fields.get(
                "audience_departments",
                list(survey.audience_departments.values_list("pk", flat=True)),
            ),
            "opens_at": fields.get("opens_at", survey.opens_at),
            "closes_at": fields.get("closes_at", survey.closes_at),
            "items": fields.get("items"),
            "remind_at": fields.get("remind_at", survey.remind_at),
            "repeat_months": fields.get("repeat_months", survey.repeat_months),
        },
        now=timezone.now(),
        new="closes_at" in fields,
        with_items=not keep_items,
    )
    survey.kind = values["kind"]
    survey.title = values["title"]
    survey.provider_department = provider
    survey.opens_at = values["opens_at"]
    survey.closes_at = values["closes_at"]
    survey.remind_at = values["remind_at"]
    survey.repeat_months = values["repeat_months"]
    survey.save(
        update_fields=[
            "kind",
            "title",
            "provider_department",
            "opens_at",
            "closes_at",
            "remind_at",
            "repeat_months",
        ]
    )
    survey.audience_departments.set(values["audience_departments"])
    if not keep_items:
        survey.items.all().delete()
        _write_items(survey, values["items"])
    return survey


# -- Campaign steps ----------------------------------------------------------------------------


def _audience(survey: Survey) -> list[User]:
    return list(
        User.objects.filter(
            is_active=True,
            department__in=survey.audience_departments.values("pk"),
        ).order_by("pk")
    )


def _when(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def _notify(
    survey: Survey, users: list[User], *, key: str, kind: str, message: str, subject: str, body: str
) -> int:
    url = survey_url(survey.pk)
    Notification.objects.bulk_create(
        [
            Notification(user=user, kind=kind, message=message[:500], url=url, source_key=key)
            for user in users
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    return queue_emails(Email(user, key, subject, body) for user in users)


def open_survey(*, survey_id: int, now: datetime | None = None) -> int:
    """Open a scheduled campaign and invite its audience (active employees whose home department
    is in the audience), in-app and by email. Returns the invitations created; 0 when the step
    was already taken (or the campaign is past its closing time)."""
    return _open(survey_id, now or timezone.now()) or 0


def _open(survey_id: int, now: datetime) -> int | None:
    """Opens and invites; None when this call did not take the step."""
    with transaction.atomic():
        # Opened early by hand, the campaign's opening time becomes the real one.
        claimed = Survey.objects.filter(
            pk=survey_id, state=Survey.State.SCHEDULED, opened_at=None, closes_at__gt=now
        ).update(state=Survey.State.OPEN, opened_at=now, opens_at=Least(F("opens_at"), now))
        if claimed != 1:
            return None
        survey = Survey.objects.select_related("provider_department").get(pk=survey_id)
        users = _audience(survey)
        SurveyInvitation.objects.bulk_create(
            [SurveyInvitation(survey=survey, user=user, invited_at=now) for user in users],
            ignore_conflicts=True,
            batch_size=1000,
        )
        key = f"survey-invite:{survey.pk}"
        with translation.override(settings.LANGUAGE_CODE):
            context = {
                "provider": survey.provider_department.name,
                "title": survey.title,
                "closes": _when(survey.closes_at),
            }
            message = _("%(provider)s asks for your opinion: %(title)s (open until %(closes)s)") % (
                context
            )
            subject = _("Survey: %(title)s") % context
            body = "\n".join(
                [
                    _("%(provider)s would like to know how well it serves you.") % context,
                    "",
                    _(
                        'Please answer the survey "%(title)s" by %(closes)s. It takes a few '
                        "minutes, and your answers are anonymous: results are shown only for "
                        "groups of five or more respondents."
                    )
                    % context,
                    "",
                    f"{settings.SITE_URL.rstrip('/')}{survey_url(survey.pk)}",
                ]
            )
        _notify(
            survey,
            users,
            key=key,
            kind="survey_invite",
            message=message,
            subject=subject,
            body=body,
        )
        return len(users)


def remind_survey(*, survey_id: int, now: datetime | None = None) -> int:
    """Remind the invited who have not answered yet, once. Returns how many were reminded."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Survey.objects.filter(
            pk=survey_id, state=Survey.State.OPEN, reminded_at=None, closes_at__gt=now
        ).update(reminded_at=now)
        if claimed != 1:
            return 0
        survey = Survey.objects.select_related("provider_department").get(pk=survey_id)
        pending = SurveyInvitation.objects.filter(
            survey=survey, responded_at=None, user__is_active=True
        )
        users = list(User.objects.filter(pk__in=pending.values("user_id")).order_by("pk"))
        pending.update(reminded_at=now)
        key = f"survey-remind:{survey.pk}"
        with translation.override(settings.LANGUAGE_CODE):
            context = {
                "provider": survey.provider_department.name,
                "title": survey.title,
                "closes": _when(survey.closes_at),
            }
            message = _("Reminder: the survey %(title)s closes at %(closes)s") % context
            subject = _("Reminder: %(title)s") % context
            body = "\n".join(
                [
                    _(
                        'The survey "%(title)s" of %(provider)s closes at %(closes)s and we '
                        "have not heard from you yet. Your answers are anonymous."
                    )
                    % context,
                    "",
                    f"{settings.SITE_URL.rstrip('/')}{survey_url(survey.pk)}",
                ]
            )
        _notify(
            survey,
            users,
            key=key,
            kind="survey_remind",
            message=message,
            subject=subject,
            body=body,
        )
        return len(users)


def close_survey(*, survey_id: int, now: datetime | None = None) -> bool:
    """Close a campaign (answers are refused from now on) and, for a repeating one, schedule
    its successor: same items and audience, dates shifted by `repeat_months`. The successor
    is written in the closing transaction, so it exists exactly once."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = Survey.objects.filter(
            pk=survey_id, state__in=(Survey.State.SCHEDULED, Survey.State.OPEN)
        ).update(state=Survey.State.CLOSED, closed_at=now)
        if claimed != 1:
            return False
        survey = Survey.objects.get(pk=survey_id)
        if survey.repeat_months:
            _schedule_successor(survey)
        return True


def _schedule_successor(survey: Survey) -> Survey:
    shift = relativedelta(months=survey.repeat_months)
    successor = Survey.objects.create(
        kind=survey.kind,
        title=survey.title,
        provider_department_id=survey.provider_department_id,
        opens_at=survey.opens_at + shift,
        closes_at=survey.closes_at + shift,
        remind_at=survey.remind_at + shift if survey.remind_at else None,
        repeat_months=survey.repeat_months,
        created_by_id=survey.created_by_id,
    )
    successor.audience_departments.set(survey.audience_departments.values_list("pk", flat=True))
    _write_items(
        successor,
        list(
            survey.items.order_by("position", "id").values(
                "key", "dimension", "text", "feature", "functional", "dysfunctional"
            )
        ),
    )
    return successor


def remind_time(opens_at: datetime, closes_at: datetime, remind_at: datetime | None) -> datetime:
    """When non-respondents are reminded: `remind_at`, else halfway through the campaign."""
    return remind_at or opens_at + (closes_at - opens_at) / 2


def _due_reminders(now: datetime) -> list[int]:
    # Open campaigns are few (a handful per department): the halfway point is worked out
    # here rather than with interval arithmetic that SQLite (the embedded set-up) lacks.
    candidates = Survey.objects.filter(
        state=Survey.State.OPEN, reminded_at=None, closes_at__gt=now
    ).values_list("pk", "opens_at", "closes_at", "remind_at")
    return [
        survey_id
        for survey_id, opens_at, closes_at, remind_at in candidates
        if remind_time(opens_at, closes_at, remind_at) <= now
    ]


def run_campaigns(*, now: datetime | None = None) -> dict[str, int]:
    """Every due step of every campaign (beat runs this every minute). A step that fails is
    logged and retried on the next run; it does not stop the others."""
    now = now or timezone.now()
    done = {"opened": 0, "invited": 0, "reminded": 0, "closed": 0}

    def step(name: str, function: Any, survey_id: int) -> Any:
        try:
            return function(survey_id=survey_id, now=now)
        except Exception:
            logger.exception("survey %s: %s step failed", survey_id, name)
            return None

    # Past its closing time a campaign is closed without being opened (no late invitations).
    due_close = list(
        Survey.objects.filter(
            state__in=(Survey.State.SCHEDULED, Survey.State.OPEN), closes_at__lte=now
        ).values_list("pk", flat=True)
    )
    due_open = list(
        Survey.objects.filter(
            state=Survey.State.SCHEDULED, opens_at__lte=now, closes_at__gt=now
        ).values_list("pk", flat=True)
    )
    for survey_id in due_open:
        invited = step("open", lambda survey_id, now: _open(survey_id, now), survey_id)
        if invited is not None:
            done["opened"] += 1
            done["invited"] += invited
    for survey_id in _due_reminders(now):
        done["reminded"] += step("remind", remind_survey, survey_id) or 0
    for survey_id in due_close:
        done["closed"] += int(bool(step("close", close_survey, survey_id)))
    return done


# -- Manual steps (the API's open/close buttons) ------------------------------------------------


def open_survey_by_hand(*, actor: User, survey: Survey) -> int:
    """Open a scheduled campaign now (before its opening time if need be)."""
    if not can_manage(actor, survey.provider_department_id):
        raise NotAllowed(_("Only heads of the provider department may run its surveys."))
    survey.refresh_from_db(fields=["state", "closes_at"])
    if survey.state != Survey.State.SCHEDULED:
        raise SurveyNotScheduled(_("This campaign has already been opened."))
    if survey.closes_at <= timezone.now():
        raise SurveyClosed(_("This campaign is past its closing time."))
    return open_survey(survey_id=survey.pk)


def close_survey_by_hand(*, actor: User, survey: Survey) -> bool:
    """Close a campaign now (a scheduled one is closed without inviting anyone)."""
    if not can_manage(actor, survey.provider_department_id):
        raise NotAllowed(_("Only heads of the provider department may run its surveys."))
    if not close_survey(survey_id=survey.pk):
        raise SurveyClosed(_("This campaign is already closed."))
    return True


# -- Answering ---------------------------------------------------------------------------------


def _scale(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or value not in SCALE:
        return None
    return value


def _clean_answers(survey: Survey, answers: Any) -> list[SurveyAnswer]:
    items = {item.key: item for item in survey.items.all()}
    if not isinstance(answers, list) or not answers:
        raise InvalidInput({"answers": [_("Answer every item of the survey.")]})
    errors: dict[str, list[str]] = {}
    rows: dict[str, SurveyAnswer] = {}
    for index, answer in enumerate(answers):
        path = f"answers[{index}]"
        if not isinstance(answer, dict):
            errors[path] = [_("must be an object")]
            continue
        key = answer.get("item")
        item = items.get(key) if isinstance(key, str) else None
        if item is None:
            errors[f"{path}.item"] = [_("not an item of this survey")]
            continue
        if key in rows:
            errors[f"{path}.item"] = [_("this item is answered twice")]
            continue
        row = SurveyAnswer(item=item)
        if survey.kind == Survey.Kind.SERVQUAL:
            for field in ("expectation", "perception"):
                value = _scale(answer.get(field))
                if value is None:
                    errors[f"{path}.{field}"] = [_("must be a whole number from 1 to 7")]
                setattr(row, field, value)
        else:
            for field in ("functional", "dysfunctional"):
                value = answer.get(field)
                if value not in KANO_ANSWERS:
                    errors[f"{path}.{field}"] = [_("must be one of: %s") % ", ".join(KANO_ANSWERS)]
                setattr(row, field, value or "")
        rows[key] = row
    if not errors:
        missing = [key for key in items if key not in rows]
        if missing:
            errors["answers"] = [_("Answer every item; missing: %s") % ", ".join(missing)]
    if errors:
        raise InvalidInput(errors)
    return list(rows.values())


def submit_response(*, user: User, survey: Survey, answers: list[dict]) -> SurveyResponse:
    """Record one anonymous response of an audience member to an open campaign, once.

    The invitation is claimed with a conditional update (responded_at), so a double submit,
    even concurrent, stores one response and answers the other with `already_answered`."""
    now = timezone.now()
    with transaction.atomic():
        survey = Survey.objects.get(pk=survey.pk)
        invitation = SurveyInvitation.objects.filter(survey=survey, user=user).first()
        in_audience = invitation is not None or (
            user.is_active
            and user.department_id is not None
            and survey.audience_departments.filter(pk=user.department_id).exists()
        )
        if not in_audience:
            raise NotAllowed(_("This survey is not addressed to you."))
        if survey.state != Survey.State.OPEN or now >= survey.closes_at:
            raise SurveyNotOpen(
                _("This survey is closed.")
                if survey.state == Survey.State.CLOSED or now >= survey.closes_at
                else _("This survey has not opened yet.")
            )
        if invitation is not None and invitation.responded_at is not None:
            raise AlreadyAnswered(_("You have already answered this survey."))
        rows = _clean_answers(survey, answers)
        if invitation is None:
            # Joined an audience department after the campaign opened: may still answer.
            invitation, _created = SurveyInvitation.objects.get_or_create(survey=survey, user=user)
        # Only the day is kept: an exact time, set beside the order responses are stored in,
        # would tell whose response is whose.
        answered_on = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
        claimed = SurveyInvitation.objects.filter(pk=invitation.pk, responded_at=None).update(
            responded_at=answered_on
        )
        if claimed != 1:
            raise AlreadyAnswered(_("You have already answered this survey."))
        response = SurveyResponse.objects.create(
            survey=survey, consumer_department_id=user.department_id
        )
        for row in rows:
            row.response = response
        SurveyAnswer.objects.bulk_create(rows)
    return response
