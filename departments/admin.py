from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import Department, Membership, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "parent", "is_active", "default_sla_policy"]
    list_filter = ["is_active"]
    search_fields = ["code", "name"]
    inlines = [MembershipInline]


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "last_name", "email", "department", "is_staff"]
    list_filter = [*BaseUserAdmin.list_filter, "department"]
    list_select_related = ["department"]
    fieldsets = [*BaseUserAdmin.fieldsets, (None, {"fields": ["department"]})]
    add_fieldsets = [*BaseUserAdmin.add_fieldsets, (None, {"fields": ["email", "department"]})]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "department", "role"]
    list_filter = ["role", "department"]
    list_select_related = ["user", "department"]
    autocomplete_fields = ["user", "department"]
