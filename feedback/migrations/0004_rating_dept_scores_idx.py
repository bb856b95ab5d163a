"""The department's ratings index covers the scores and moments the dashboard counts, so its
breakdowns are an index-only scan (PostgreSQL; elsewhere the same index without them)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("feedback", "0003_suggestion_day_only"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="ticketrating", name="rating_dept_idx"),
        migrations.AddIndex(
            model_name="ticketrating",
            index=models.Index(
                fields=["provider_department", "created_at"],
                include=["score", "end_score", "best_moment", "worst_moment"],
                name="rating_dept_scores_idx",
            ),
        ),
    ]
