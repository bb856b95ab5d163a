from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import calendars
from .models import BusinessCalendar, CalendarDay, SlaPolicy


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


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "calendar", "warning_percent"]
