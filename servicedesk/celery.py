"""The Celery application (broker from settings: Redis in production, filesystem embedded)."""

import os

from celery import Celery

from .observability import connect_task_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "servicedesk.settings")

app = Celery("servicedesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# One log line per task start and end, with the task's name and id (JSON with LOG_FORMAT=json).
connect_task_logging()
