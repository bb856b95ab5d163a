from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from servicedesk.errors import InvalidInput

from . import calendars, policies
from .models import Agreement, BusinessCalendar, CalendarDay, Escalation, SlaPolicy


class BusinessCalendarForm(forms.ModelForm):
    """The same rules as the API: IANA time zone, valid weekly hours, plausible years."""

    class Meta:
        model = BusinessCalendar
        fields = ["name", "timezone", "working_hours", "years"]
        help_texts = {
            "working_hours": _(
                'Per weekday mon … sun, intervals in order: {"mon": [["09:00", "12:00"], '
                '["13:00", "18:00"]], …, "sun": []}'
            ),
            "years": _(
                "Years whose holidays and make-up working days are entered below, e.g. "
                "[2025, 2026]. `manage.py import_china_calendar YEAR` fills a year from the "
                "official schedule."
            ),
        }

    def clean(self) -> dict:
        cleaned = super().clean()
        if "years" in cleaned and cleaned["years"] is None:  # the field left empty
            cleaned["years"] = []
        checks = {
            "timezone": calendars.timezone_problems,
            "working_hours": calendars.working_hours_problems,
            "years": calendars.years_problems,
        }
        for field, check in checks.items():
            if field in cleaned:
                for path, message in check(cleaned[field]).items():
                    self.add_error(field, message if path == field else f"{path}: {message}")
        return cleaned


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0
    ordering = ["date"]
    fields = ["date", "kind", "name"]


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    form = BusinessCalendarForm
    list_display = ["name", "timezone", "years_covered"]
    search_fields = ["name"]
    inlines = [CalendarDayInline]

    @admin.display(description=_("years covered"))
    def years_covered(self, calendar: BusinessCalendar) -> str:
        return ", ".join(map(str, calendar.years))

    def save_model(
        self, request: HttpRequest, obj: BusinessCalendar, form: forms.ModelForm, change: bool
    ) -> None:
        fields = {name: form.cleaned_data[name] for name in BusinessCalendarForm.Meta.fields}
        calendars.save_calendar(calendar=obj, **fields)


@admin.register(CalendarDay)
class CalendarDayAdmin(admin.ModelAdmin):
    """All days across calendars, filterable by year: easier than the inline for a long calendar."""

    list_display = ["date", "kind", "name", "calendar"]
    list_filter = ["calendar", "kind"]
    date_hierarchy = "date"
    search_fields = ["name"]
    ordering = ["calendar", "date"]
    list_select_related = ["calendar"]


class SlaPolicyForm(forms.ModelForm):
    """The same checks as the API (slas.policies), with the messages next to the fields."""

    class Meta:
        model = SlaPolicy
        fields = ["name", "calendar", "targets", "warning_percent", "ladder"]

    def _clean_with(self, field: str, cleaner) -> object:  # type: ignore[no-untyped-def]
        try:
            return cleaner(self.cleaned_data.get(field))
        except InvalidInput as error:
            raise forms.ValidationError(
                [f"{path}: {'; '.join(messages)}" for path, messages in error.fields.items()]
            ) from None

    def clean_targets(self) -> object:
        return self._clean_with("targets", policies.clean_targets)

    def clean_ladder(self) -> object:
        return self._clean_with("ladder", lambda value: policies.clean_ladder(value or []))


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    form = SlaPolicyForm
    list_display = ["name", "calendar", "warning_percent"]

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        # Through the service, so open tickets under an edited policy are recomputed.
        fields = {name: form.cleaned_data[name] for name in form.Meta.fields}
        policies.save_policy(policy=obj, **fields)


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = [
        "provider_department",
        "consumer_department",
        "service",
        "policy",
        "relation_type",
    ]
    list_filter = ["relation_type", "provider_department"]
    list_select_related = ["provider_department", "consumer_department", "service", "policy"]


@admin.register(Escalation)
class EscalationAdmin(admin.ModelAdmin):
    """Read-only audit of fired SLA steps and their notification delivery."""

    list_display = ["ticket", "clock", "step", "due_at", "fired_at", "notified_at", "attempts"]
    list_filter = ["clock", "step"]
    list_select_related = ["ticket"]
    show_full_result_count = False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
