from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    """The project package itself: process-wide hooks (see servicedesk/db.py)."""

    name = "servicedesk"
    verbose_name = "Service Desk"

    def ready(self) -> None:
        from django.core.signals import request_finished, request_started
        from django.db.backends.signals import connection_created

        from . import tasks
        from .db import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="servicedesk-c-timestamps")
        request_started.connect(tasks.request_starts, dispatch_uid="servicedesk-tasks-start")
        request_finished.connect(tasks.request_ends, dispatch_uid="servicedesk-tasks-after")
