from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("slas", "0004_sla_figures"),
    ]

    operations = [
        migrations.AddField(
            model_name="figuresbuild",
            name="folds",
            field=models.PositiveBigIntegerField(default=0, db_default=0),
        ),
    ]
