from django.contrib import admin

from .models import BusinessCalendar, CalendarDay, SlaPolicy


class CalendarDayInline(admin.TabularInline):
    model = CalendarDay
    extra = 0


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "timezone"]
    inlines = [CalendarDayInline]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["name", "calendar", "warning_percent"]
