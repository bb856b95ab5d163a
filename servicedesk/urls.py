from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from departments.api import DepartmentViewSet, MembershipViewSet, UserViewSet
from feedback.rating_api import KudosListView, RatingView
from feedback.suggestion_api import ImprovementActionViewSet, SuggestionViewSet
from feedback.survey_api import SurveyViewSet
from slas.api import (
    AgreementViewSet,
    BusinessCalendarViewSet,
    CalendarDayViewSet,
    SlaPolicyViewSet,
)
from slas.metrics_api import SlaMetricsView
from tickets.api import ServiceViewSet, TicketViewSet

from .auth import ObtainTokenView, ThrottledLoginView
from .health import healthz
from .routers import IntegerIdRouter

SWAGGER_CDN = "https://cdn.jsdelivr.net"

router = IntegerIdRouter()
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
router.register("suggestions", SuggestionViewSet, basename="suggestion")
router.register("improvement-actions", ImprovementActionViewSet, basename="improvement-action")
router.register("surveys", SurveyViewSet, basename="survey")

api_v1 = [
    path("auth/token/", ObtainTokenView.as_view(), name="auth-token"),
    path("metrics/sla/", SlaMetricsView.as_view(), name="metrics-sla"),
    path("tickets/<int:pk>/rating/", RatingView.as_view(), name="ticket-rating"),
    path("kudos/", KudosListView.as_view(), name="kudos-list"),
    *router.urls,
]

# Addresses no view answers get the API's JSON error body under /api/.
handler404 = "servicedesk.errors.not_found"
handler500 = "servicedesk.errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path(
        "api/docs/",
        # Swagger UI comes from its CDN and styles itself inline; its script is served by the
        # view (split view), not inline. The page shows the schema only, no user content.
        csp_update(
            {
                "script-src": [SWAGGER_CDN],
                "style-src": [SWAGGER_CDN, UNSAFE_INLINE],
                "img-src": [SWAGGER_CDN],
            }
        )(SpectacularSwaggerSplitView.as_view(url_name="schema")),
        name="api-docs",
    ),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("healthz", healthz, name="healthz"),
    path("notifications/", include("tickets.urls_notifications")),
    path("surveys/", include("feedback.urls")),
    path("", include("feedback.urls_suggestions")),
    path("", include("tickets.urls_queue")),
    path("", include("slas.urls")),
    path("", include("feedback.urls_ratings")),
    path("", include("tickets.urls")),
]
