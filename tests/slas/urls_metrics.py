"""The project's URLs plus the SLA metrics route, until servicedesk/urls.py wires it."""

from django.urls import path

from servicedesk.urls import urlpatterns as project_urlpatterns
from slas.metrics_api import SlaMetricsView

urlpatterns = [
    path("api/v1/metrics/sla/", SlaMetricsView.as_view(), name="metrics-sla"),
    *project_urlpatterns,
]
