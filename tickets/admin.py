from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from slas import figures

from .form_schema import SchemaError, validate_schema
from .models import Attachment, Comment, Service, Ticket, TicketEvent


class ServiceAdminForm(forms.ModelForm):
    class Meta:
        model = Service
        fields = [
            "department",
            "name",
            "description",
            "category",
            "form_schema",
            "default_priority",
            "sla_policy",
            "is_active",
            "allowed_consumers",
        ]

    def clean_form_schema(self) -> list:
        try:
            return validate_schema(self.cleaned_data.get("form_schema") or [])
        except SchemaError as error:
            raise forms.ValidationError([f"{k}: {v}" for k, v in error.errors.items()]) from None


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    form = ServiceAdminForm
    list_display = ["name", "department", "category", "default_priority", "is_active"]
    list_filter = ["department", "is_active", "category"]
    search_fields = ["name", "category"]
    list_select_related = ["department"]
    filter_horizontal = ["allowed_consumers"]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class EventInline(ReadOnlyInline):
    model = TicketEvent
    fields = ["at", "kind", "actor", "from_value", "to_value", "internal"]


class CommentInline(ReadOnlyInline):
    model = Comment
    fields = ["created_at", "author", "internal", "body"]


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    """Read-only: ticket state changes go through the workflow (API and pages), never here."""

    list_display = [
        "reference",
        "title",
        "provider_department",
        "requester",
        "assignee",
        "priority",
        "status",
        "created_at",
    ]
    list_filter = ["status", "priority", "provider_department"]
    search_fields = ["reference", "title"]
    list_select_related = ["provider_department", "requester", "assignee"]
    show_full_result_count = False
    inlines = [CommentInline, EventInline]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    # Deleting tickets changes SLA figures and open-ticket counts (slas.figures).
    def delete_model(self, request: HttpRequest, obj: Ticket) -> None:
        with transaction.atomic():
            figures.tickets_removed([obj])
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Ticket]) -> None:
        with transaction.atomic():
            figures.tickets_removed(queryset)
            super().delete_queryset(request, queryset)


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    list_display = ["filename", "ticket", "size", "internal", "created_at"]
    list_select_related = ["ticket"]
    raw_id_fields = ["ticket", "comment"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
