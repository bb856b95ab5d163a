"""Periodic SLA work in django-celery-beat's tables, so admins can see and edit the schedule."""

from django.db import migrations

SCHEDULES = [
    # (name, task, every seconds)
    ("SLA sweep: escalate due tickets", "slas.tasks.escalate_due_tickets", 60),
    ("Auto-close resolved tickets", "slas.tasks.auto_close_resolved", 600),
    ("Warn admins before a business calendar runs out", "slas.tasks.warn_calendar_coverage",
     86400),
]


def create_schedules(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, seconds in SCHEDULES:
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
        PeriodicTask.objects.get_or_create(
            name=name, defaults={"task": task, "interval": interval, "enabled": True}
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[name for name, _task, _s in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("slas", "0002_agreement_escalation"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
