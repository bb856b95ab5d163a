"""API serializers for business calendars and their days."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import calendars
from .models import Agreement, BusinessCalendar, CalendarDay, SlaPolicy, default_working_hours

_INTERVAL_SCHEMA = {
    "type": "array",
    "items": {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"},
    "minItems": 2,
    "maxItems": 2,
}


@extend_schema_field(
    {
        "type": "object",
        "description": (
            'Working hours per weekday: ["HH:MM", "HH:MM"] intervals in order, without overlap. '
            "A day left out has no working hours."
        ),
        "properties": {
            day: {"type": "array", "items": _INTERVAL_SCHEMA} for day in calendars.WEEKDAYS
        },
        "additionalProperties": False,
        "example": default_working_hours(),
    }
)
class WorkingHoursField(serializers.JSONField):
    pass


def _raise_problems(problems: dict[str, str]) -> None:
    # Keys are full field paths (`working_hours.mon`); the error handler keeps them as given.
    if problems:
        raise serializers.ValidationError({path: [message] for path, message in problems.items()})


class BusinessCalendarSerializer(serializers.ModelSerializer):
    working_hours = WorkingHoursField(required=False)
    years = serializers.ListField(
        child=serializers.IntegerField(
            min_value=calendars.FIRST_YEAR, max_value=calendars.LAST_YEAR
        ),
        required=False,
        max_length=calendars.LAST_YEAR - calendars.FIRST_YEAR + 1,
        help_text="Years whose holidays and make-up working days are in the calendar.",
    )

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "timezone", "working_hours", "years"]

    def validate(self, attrs: dict) -> dict:
        problems: dict[str, str] = {}
        if "timezone" in attrs:
            problems |= calendars.timezone_problems(attrs["timezone"])
        if "working_hours" in attrs:
            problems |= calendars.working_hours_problems(attrs["working_hours"])
        _raise_problems(problems)
        return attrs


class CalendarDaySerializer(serializers.ModelSerializer):
    class Meta:
        model = CalendarDay
        fields = ["id", "date", "kind", "name"]


class CalendarDayQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(
        required=False,
        min_value=calendars.FIRST_YEAR,
        max_value=calendars.LAST_YEAR,
        help_text="Only the days of this year.",
    )
    kind = serializers.ChoiceField(
        choices=CalendarDay.Kind.choices, required=False, help_text="closed or working"
    )


class SlaPolicySerializer(serializers.ModelSerializer):
    targets = serializers.JSONField(
        help_text='Business minutes per priority: {"urgent": {"response": 30, "resolution": 240}, '
        '"high": {...}, "normal": {...}, "low": {...}}'
    )
    ladder = serializers.JSONField(
        required=False,
        help_text='Escalation levels: [{"at_percent": 100, "notify": "department_head"}]; '
        "notify in assignee | department_head | parent_department_head.",
    )

    class Meta:
        model = SlaPolicy
        fields = ["id", "name", "calendar", "targets", "warning_percent", "ladder"]


class AgreementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Agreement
        fields = [
            "id",
            "provider_department",
            "consumer_department",
            "service",
            "policy",
            "relation_type",
        ]
        # Uniqueness (with "all" as null) is checked by the service, which names the field.
        validators: list = []
