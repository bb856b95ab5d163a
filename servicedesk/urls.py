from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from departments.api import DepartmentViewSet, MembershipViewSet, UserViewSet
from slas.api import (
    AgreementViewSet,
    BusinessCalendarViewSet,
    CalendarDayViewSet,
    SlaPolicyViewSet,
)
from slas.metrics_api import SlaMetricsView
from tickets.api import ServiceViewSet, TicketViewSet

from .auth import ObtainTokenView
from .health import healthz

router = DefaultRouter()
router.register("departments", DepartmentViewSet, basename="department")
router.register(
    r"departments/(?P<department_id>\d+)/members", MembershipViewSet, basename="department-member"
)
router.register("users", UserViewSet, basename="user")
router.register("services", ServiceViewSet, basename="service")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("calendars", BusinessCalendarViewSet, basename="calendar")
router.register(r"calendars/(?P<calendar_id>\d+)/days", CalendarDayViewSet, basename="calendar-day")
router.register("sla-policies", SlaPolicyViewSet, basename="sla-policy")
router.register("agreements", AgreementViewSet, basename="agreement")

api_v1 = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("metrics/sla/", SlaMetricsView.as_view(), name="metrics-sla"),
    *router.urls,
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("notifications/", include("tickets.urls_notifications")),
    path("", include("tickets.urls_queue")),
    path("", include("slas.urls")),
    path("", include("tickets.urls")),
]
