import json
from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import serializers
from rest_framework.settings import api_settings

from departments.models import Department, User
from slas import config_cache
from slas.clocks import RESOLUTION, RESPONSE, ClockContext, remaining_minutes_of

from .models import Attachment, Comment, Priority, Service, Status, Ticket, TicketEvent
from .selectors import catalog_names, name_of


class ServiceSerializer(serializers.ModelSerializer):
    consumer_departments = serializers.PrimaryKeyRelatedField(
        source="allowed_consumers",
        many=True,
        required=False,
        queryset=Department.objects.all(),
        help_text="Consumer departments allowed to request it; empty = everyone.",
    )
    form_schema = serializers.JSONField(
        required=False,
        help_text="Fields: {key, label, type: text/textarea/number/date/choice, choices, required}",
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "department",
            "name",
            "description",
            "category",
            "form_schema",
            "default_priority",
            "sla_policy",
            "is_active",
            "consumer_departments",
        ]


class UserSummarySerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = User
        fields = ["id", "username", "name"]


class TicketSerializer(serializers.ModelSerializer):
    service_name = serializers.CharField(source="service.name", read_only=True)
    provider_department_code = serializers.CharField(
        source="provider_department.code", read_only=True
    )
    requester_summary = UserSummarySerializer(source="requester", read_only=True)
    assignee_summary = UserSummarySerializer(source="assignee", read_only=True, allow_null=True)
    sla_warnings = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        read_only=True,
        help_text="SLA caveats, e.g. {code: calendar_year_unknown, detail}.",
    )
    response_remaining_minutes = serializers.SerializerMethodField(
        help_text="Business minutes left to respond (negative: overdue); null when not running."
    )
    resolution_remaining_minutes = serializers.SerializerMethodField(
        help_text="Business minutes left to resolve (negative: overdue); null when not running."
    )

    def _remaining(self, ticket: Ticket, clock: str) -> int | None:
        from slas.clocks import remaining_minutes

        # One policy/calendar load per distinct policy per response, not per row.
        cache = self.context.setdefault("sla_contexts", {}) if self.context is not None else {}
        return remaining_minutes(ticket, clock, cache=cache)

    def get_response_remaining_minutes(self, ticket: Ticket) -> int | None:
        return self._remaining(ticket, "response")

    def get_resolution_remaining_minutes(self, ticket: Ticket) -> int | None:
        return self._remaining(ticket, "resolution")

    class Meta:
        model = Ticket
        fields = [
            "id",
            "reference",
            "title",
            "description",
            "service",
            "provider_department",
            "requester",
            "requester_department",
            "assignee",
            "priority",
            "status",
            "form_data",
            "source",
            "created_at",
            "updated_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "response_due_at",
            "resolution_due_at",
            "response_breached",
            "resolution_breached",
            "sla_policy",
            "sla_warnings",
            "response_remaining_minutes",
            "resolution_remaining_minutes",
            "service_name",
            "provider_department_code",
            "requester_summary",
            "assignee_summary",
        ]
        read_only_fields = fields


def iso_time(value: datetime | None, zone: tzinfo) -> str | None:
    """DRF's DateTimeField output: ISO 8601 in `zone` (the current time zone), UTC written Z."""
    if value is None:
        return None
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:
        return serializers.DateTimeField().to_representation(value)  # DRF's own error
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def parsed_json(text: str | None) -> Any:
    """A JSON column's text (`selectors._ticket_rows`) as JSONField reads it; the empty object
    and list, most tickets' form data and SLA warnings, without the parser."""
    if text == "{}":
        return {}
    if text == "[]":
        return []
    return None if text is None else json.loads(text)


# `iso_time`'s texts already written, per time zone: a list shows the same tickets request
# after request, and writing a time took longer than looking it up (issue #6). A zone's are
# dropped when there are this many.
ISO_TIMES_KEPT = 10_000
_iso_times: dict[tzinfo, dict[datetime, str | None]] = {}


class TicketRows:
    """TicketSerializer's output for plain rows of `selectors.visible_ticket_rows`, built directly.

    The same JSON byte for byte (field names and order, ids, ISO times in the current time zone,
    nulls, summaries, remaining minutes): a page of 50 model objects with five related objects
    each, through the serializer's field machinery, cost four times its query (issue #6).
    tests/tickets/test_ticket_rows.py holds the two equal; the schema still documents
    TicketSerializer. One instance per response: `now`, time zone and policies are shared.
    """

    def __init__(self, *, now: datetime | None = None) -> None:
        self.now = now or timezone.now()
        self.zone: tzinfo = timezone.get_current_timezone()
        self.sla_contexts: dict[int, ClockContext] = {}
        self.people: dict[int, dict[str, Any]] = {}
        self.times = _iso_times.setdefault(self.zone, {})
        self.catalog: tuple[dict[int, str], dict[int, str]] | None = None

    def data(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        if api_settings.DATETIME_FORMAT != "iso-8601":
            raise NotImplementedError("TicketRows writes ISO 8601 times, as the API's settings do")
        return [self.row(row) for row in rows]

    def row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        time = self._time
        warnings = parsed_json(row["sla_warnings_json"])
        return {
            "id": row["id"],
            "reference": row["reference"],
            "title": row["title"],
            "description": row["description"],
            "service": row["service_id"],
            "provider_department": row["provider_department_id"],
            "requester": row["requester_id"],
            "requester_department": row["requester_department_id"],
            "assignee": row["assignee_id"],
            "priority": row["priority"],
            "status": row["status"],
            "form_data": parsed_json(row["form_data_json"]),
            "source": row["source"],
            "created_at": time(row["created_at"]),
            "updated_at": time(row["updated_at"]),
            "first_response_at": time(row["first_response_at"]),
            "resolved_at": time(row["resolved_at"]),
            "closed_at": time(row["closed_at"]),
            "response_due_at": time(row["response_due_at"]),
            "resolution_due_at": time(row["resolution_due_at"]),
            "response_breached": row["response_breached"],
            "resolution_breached": row["resolution_breached"],
            "sla_policy": row["sla_policy_id"],
            # As ListField(DictField(CharField())) writes them: values as text, None kept.
            "sla_warnings": None
            if warnings is None
            else [
                None
                if warning is None
                else {
                    str(key): None if value is None else str(value)
                    for key, value in warning.items()
                }
                for warning in warnings
            ],
            "response_remaining_minutes": self._remaining(row, RESPONSE, row["response_due_at"]),
            "resolution_remaining_minutes": self._remaining(
                row, RESOLUTION, row["resolution_due_at"]
            ),
            "service_name": self._catalog_name(0, row["service_id"]),
            "provider_department_code": self._catalog_name(1, row["provider_department_id"]),
            "requester_summary": self._person(row, "requester"),
            "assignee_summary": self._person(row, "assignee"),
        }

    def _time(self, value: datetime | None) -> str | None:
        """`iso_time` in the response's zone."""
        if value is None:
            return None
        text = self.times.get(value)
        if text is None:
            text = iso_time(value, self.zone)
            if len(self.times) >= ISO_TIMES_KEPT:
                self.times.clear()
            self.times[value] = text
        return text

    def _remaining(self, row: Mapping[str, Any], clock: str, due: datetime | None) -> int | None:
        if due is None or not row["sla_policy_id"]:
            return None
        return remaining_minutes_of(
            clock=clock,
            status=row["status"],
            first_response_at=row["first_response_at"],
            sla_policy_id=row["sla_policy_id"],
            due=due,
            now=self.now,
            cache=self.sla_contexts,
        )

    def _catalog_name(self, kind: int, pk: int) -> str:
        """A service's name (`kind` 0) or a department's code (1), from `catalog_names`."""
        if self.catalog is None:
            self.catalog = catalog_names()
        name = self.catalog[kind].get(pk)
        if name is None:  # added since the catalog was kept (tickets keep theirs: PROTECT)
            self.catalog = catalog_names(fresh=True)
            name = self.catalog[kind][pk]
        return name

    def _person(self, row: Mapping[str, Any], role: str) -> dict[str, Any] | None:
        """UserSummarySerializer's output, once per person per response."""
        user_id = row[f"{role}_id"]
        if user_id is None:
            return None
        summary = self.people.get(user_id)
        if summary is None:
            names = row[f"{role}_names"]
            summary = {"id": user_id, "username": names[0], "name": name_of(names)}
            self.people[user_id] = summary
        return summary


class FilingServiceField(serializers.PrimaryKeyRelatedField):
    """A service by id with what filing checks of it (its department, its consumer departments),
    read as PrimaryKeyRelatedField reads it, with its errors; the process keeps it while the
    catalog and SLA configuration are unchanged (slas.config_cache): building and running those
    queries cost every filing 0.5 ms (issue #6). Shared between requests: never changed."""

    # A class attribute, not an argument: DRF deep-copies a field's arguments (the queryset too)
    # for every serializer instance.
    queryset = Service.objects.select_related("department").prefetch_related("allowed_consumers")

    def to_internal_value(self, data: Any) -> Service:
        try:
            if isinstance(data, bool):
                raise TypeError
            pk = Service._meta.pk.get_prep_value(data)  # as the lookup converts it
        except (TypeError, ValueError):
            self.fail("incorrect_type", data_type=type(data).__name__)
        version = config_cache.version()  # before the rows are read
        service = config_cache.get("service", pk, version)
        if service is None:
            service = super().to_internal_value(data)
            config_cache.keep("service", pk, version, service)
        return service


class TicketCreateSerializer(serializers.Serializer):
    service = FilingServiceField()
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=20000, default=""
    )
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    form_data = serializers.DictField(
        required=False, default=dict, help_text="Answers to the service's form fields by key."
    )


class TicketUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Status.choices)
    assignee = serializers.PrimaryKeyRelatedField(
        queryset=User.objects.all(), required=False, allow_null=True
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=20000, default="")


class AttachmentSerializer(serializers.ModelSerializer):
    # Null once the uploader's account is deleted.
    uploaded_by = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()

    class Meta:
        model = Attachment
        fields = [
            "id",
            "filename",
            "content_type",
            "size",
            "internal",
            "uploaded_by",
            "comment",
            "created_at",
            "url",
        ]

    def get_url(self, attachment: Attachment) -> str:
        return f"/api/v1/tickets/{attachment.ticket_id}/attachments/{attachment.pk}/"


class AttachmentUploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    internal = serializers.BooleanField(required=False, default=False)


class CommentSerializer(serializers.ModelSerializer):
    # Null once the author's account is deleted.
    author = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    author_name = serializers.SerializerMethodField()
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = Comment
        fields = [
            "id",
            "author",
            "author_name",
            "body",
            "body_html",
            "internal",
            "created_at",
            "attachments",
        ]
        read_only_fields = ["id", "author", "author_name", "body_html", "created_at", "attachments"]

    def get_author_name(self, comment: Comment) -> str:
        return str(comment.author) if comment.author else _("Service Desk")


class CommentCreateSerializer(serializers.Serializer):
    body = serializers.CharField(max_length=20000)
    internal = serializers.BooleanField(required=False, default=False)


class TicketEventSerializer(serializers.ModelSerializer):
    # Null for the system's own events (SLA breaches, auto-close): the schema must say so.
    actor = serializers.PrimaryKeyRelatedField(read_only=True, allow_null=True)
    actor_name = serializers.SerializerMethodField()

    class Meta:
        model = TicketEvent
        fields = [
            "id",
            "kind",
            "actor",
            "actor_name",
            "from_value",
            "to_value",
            "internal",
            "comment",
            "at",
        ]

    def get_actor_name(self, event: TicketEvent) -> str | None:
        return str(event.actor) if event.actor else None


def event_rows_data(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """TicketEventSerializer's output for rows of `selectors.ticket_event_rows`, built directly
    (tests/tickets/test_ticket_rows.py holds the two equal)."""
    zone = timezone.get_current_timezone()
    return [
        {
            "id": row["id"],
            "kind": row["kind"],
            "actor": row["actor_id"],
            "actor_name": None if row["actor_id"] is None else name_of(row["actor_names"]),
            "from_value": row["from_value"],
            "to_value": row["to_value"],
            "internal": row["internal"],
            "comment": row["comment_id"],
            "at": iso_time(row["at"], zone),
        }
        for row in rows
    ]


class PromiseQuerySerializer(serializers.Serializer):
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    at = serializers.DateTimeField(required=False, help_text="Filing time; default now.")
    consumer_department = serializers.PrimaryKeyRelatedField(
        queryset=Department.objects.all(),
        required=False,
        help_text="Default: the caller's home department.",
    )


class SlaWarningSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()


class PromiseSerializer(serializers.Serializer):
    """The service standard a requester gets before filing."""

    policy = serializers.IntegerField(allow_null=True, source="policy.pk", default=None)
    agreement = serializers.IntegerField(allow_null=True, source="agreement.pk", default=None)
    calendar = serializers.IntegerField(allow_null=True, source="calendar.pk", default=None)
    response_target_minutes = serializers.IntegerField(allow_null=True)
    resolution_target_minutes = serializers.IntegerField(allow_null=True)
    response_due_at = serializers.DateTimeField(allow_null=True)
    resolution_due_at = serializers.DateTimeField(allow_null=True)
    warnings = SlaWarningSerializer(many=True)
