import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    """The lake's manifest moves from segments to core, keeping its table (state only)."""

    dependencies = [
        ("core", "0003_schedule"),
        ("segments", "0006_lake_moves_to_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="LakeFile",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("table", models.CharField(max_length=50)),
                        ("month", models.CharField(max_length=7)),
                        ("path", models.CharField(max_length=500, unique=True)),
                        ("rows", models.PositiveBigIntegerField()),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "run",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="lake_files",
                                to="core.run",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "segments_lakefile",
                        "ordering": ["table", "month", "path"],
                        "indexes": [
                            models.Index(
                                fields=["table", "month"], name="segments_la_table_180d40_idx"
                            )
                        ],
                    },
                ),
            ],
        )
    ]
