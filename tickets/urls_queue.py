"""Agent workspace pages: the department queue."""

from django.urls import path

from . import queue_views

urlpatterns = [
    path("queue/", queue_views.queue, name="queue"),
    path("queue/assign/", queue_views.bulk_assign, name="queue-assign"),
]
