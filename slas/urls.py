"""Department-head pages: SLA dashboard and the internal service map."""

from django.urls import path

from . import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="sla-dashboard"),
    path("map/", views.service_map, name="service-map"),
    path("map/edge/", views.map_edge, name="service-map-edge"),
]
