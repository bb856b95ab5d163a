"""Daily SLA figures and the open-ticket ledger (slas/figures.py), folded every minute by beat.

A database without tickets is built at once (there is nothing to compute); one with tickets is
served from the tickets until `python manage.py rebuild_sla_figures` has run.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

SCHEDULE = (
    "SLA figures: fold ticket changes into the daily figures",
    "slas.tasks.fold_figure_changes",
    60,
)


def create_schedule_and_build(apps, schema_editor):
    from django.utils import timezone

    from slas.figures import LAYOUT

    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    name, task, seconds = SCHEDULE
    interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.get_or_create(
        name=name, defaults={"task": task, "interval": interval, "enabled": True}
    )
    if not apps.get_model("tickets", "Ticket").objects.exists():
        apps.get_model("slas", "FiguresBuild").objects.create(
            time_zone=settings.TIME_ZONE, layout=LAYOUT, finished_at=timezone.now()
        )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=SCHEDULE[0]).delete()


class Migration(migrations.Migration):

    dependencies = [
        ('departments', '0001_initial'),
        ('slas', '0003_beat_schedule'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
        ("tickets", "0006_bench_indexes"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.CreateModel(
            name='FiguresBuild',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('time_zone', models.CharField(max_length=64)),
                ('layout', models.BigIntegerField()),
                ('finished_at', models.DateTimeField()),
            ],
        ),
        migrations.CreateModel(
            name='PeriodFigures',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('side', models.CharField(choices=[('provider', 'Provider'), ('consumer', 'Consumer')], max_length=8)),
                ('span', models.CharField(choices=[('day', 'Day'), ('month', 'Month')], default='day', max_length=5)),
                ('day', models.DateField()),
                ('tickets', models.PositiveIntegerField(default=0)),
                ('reopened', models.PositiveIntegerField(default=0)),
                ('resolved_once', models.PositiveIntegerField(default=0)),
                ('response_measured', models.PositiveIntegerField(default=0)),
                ('response_met', models.PositiveIntegerField(default=0)),
                ('response_breached', models.PositiveIntegerField(default=0)),
                ('response_timed', models.PositiveIntegerField(default=0)),
                ('response_coarse', models.JSONField(default=dict)),
                ('response_fine', models.JSONField(default=dict)),
                ('resolution_measured', models.PositiveIntegerField(default=0)),
                ('resolution_met', models.PositiveIntegerField(default=0)),
                ('resolution_breached', models.PositiveIntegerField(default=0)),
                ('resolution_timed', models.PositiveIntegerField(default=0)),
                ('resolution_coarse', models.JSONField(default=dict)),
                ('resolution_fine', models.JSONField(default=dict)),
                ('computed_at', models.DateTimeField()),
                ('department', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='departments.department')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('department', 'side', 'span', 'day'), name='period_figures_unique')],
            },
        ),
        migrations.CreateModel(
            name='FigureLedgerEntry',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('side', models.CharField(choices=[('provider', 'Provider'), ('consumer', 'Consumer')], max_length=8)),
                ('ticket_created_at', models.DateTimeField(blank=True, null=True)),
                ('status', models.CharField(blank=True, max_length=12)),
                ('priority', models.CharField(blank=True, max_length=10)),
                ('count', models.IntegerField(default=0)),
                ('assignee', models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('department', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='departments.department')),
            ],
            options={
                'indexes': [models.Index(fields=['department', 'side', 'ticket_created_at'], name='figure_ledger_scope_idx')],
            },
        ),
        migrations.RunPython(create_schedule_and_build, remove_schedule),
    ]
