"""Ticket-page endpoints for rating a ticket and thanking its agents (htmx and plain forms)."""

from django.urls import path

from . import rating_views

urlpatterns = [
    path("tickets/<str:reference>/rating/", rating_views.rate, name="ticket-rate"),
    path("tickets/<str:reference>/kudos/", rating_views.thank, name="ticket-kudos"),
]
