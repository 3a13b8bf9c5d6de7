from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0005_feedback_landing_runs"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="committed_at",
            field=models.DateTimeField(
                blank=True,
                help_text=(
                    "When the run switched its active result: from then on it cannot be cancelled."
                ),
                null=True,
            ),
        ),
    ]
