from django.conf import settings
from django.db import migrations, models

LANDING = {"kind": "import", "parameters__source": "feedback"}


def landings_get_their_kind(apps, schema_editor) -> None:
    apps.get_model("core", "Run").objects.filter(**LANDING).update(kind="feedback_landing")


def landings_back_to_imports(apps, schema_editor) -> None:
    apps.get_model("core", "Run").objects.filter(kind="feedback_landing").update(kind="import")


class Migration(migrations.Migration):
    """Feedback landings get a kind of their own; as lake writers they still exclude an import
    (one active run per kind, the lake writers counting as one). Past landings, recorded as
    imports with source "feedback", take the new kind."""

    dependencies = [
        ("core", "0004_lake_file"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="run",
            name="one_active_run_per_kind",
        ),
        migrations.AlterField(
            model_name="run",
            name="kind",
            field=models.CharField(
                choices=[
                    ("import", "Import"),
                    ("segmentation", "Segmentation"),
                    ("training", "Training"),
                    ("assignment", "Assignment"),
                    ("preview", "Rule preview"),
                    ("system_check", "System check"),
                    ("feedback_landing", "Feedback landing"),
                ],
                max_length=32,
            ),
        ),
        migrations.AddConstraint(
            model_name="run",
            constraint=models.UniqueConstraint(
                models.Case(
                    models.When(
                        kind__in=("import", "feedback_landing"), then=models.Value("lake_writer")
                    ),
                    default=models.F("kind"),
                    output_field=models.CharField(),
                ),
                condition=models.Q(("status__in", ["queued", "running"])),
                name="one_active_run_per_kind",
            ),
        ),
        migrations.RunPython(landings_get_their_kind, landings_back_to_imports),
    ]
