from django.apps import AppConfig


class ServiceDeskConfig(AppConfig):
    """The project package itself: process-wide hooks (see servicedesk/db.py)."""

    name = "servicedesk"
    verbose_name = "Service Desk"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from .db import use_c_timestamp_loader

        connection_created.connect(use_c_timestamp_loader, dispatch_uid="servicedesk-c-timestamps")
