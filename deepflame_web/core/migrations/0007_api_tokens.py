import datetime as dt
import hashlib

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils import timezone

MACHINE = "Machine client"
OLD_TABLE = "authtoken_token"  # rest_framework.authtoken's, no longer installed


def tokens_hashed(apps, schema_editor) -> None:
    """Existing clear-text tokens become hashed ones that expire a TTL from now (clients
    keep working), and the clear-text rows are deleted."""
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("core", "ApiToken")
    expires = timezone.now() + dt.timedelta(days=settings.API_TOKEN_TTL_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {OLD_TABLE}")
        rows = cursor.fetchall()
        ApiToken.objects.bulk_create(
            ApiToken(
                user_id=user_id,
                prefix=key[:8],
                key_sha256=hashlib.sha256(key.encode()).hexdigest(),
                expires_at=expires,
            )
            for key, user_id in rows
        )
        cursor.execute(f"DELETE FROM {OLD_TABLE}")


def machine_role(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.get_or_create(name=MACHINE)


def no_machine_role(apps, schema_editor) -> None:
    apps.get_model("auth", "Group").objects.filter(name=MACHINE).delete()


class Migration(migrations.Migration):
    """API tokens are stored hashed with an expiry (the old clear-text ones carried over);
    machine clients get a role of their own."""

    dependencies = [
        ("core", "0006_run_committed_at"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("prefix", models.CharField(max_length=8)),
                ("key_sha256", models.CharField(max_length=64, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("expires_at", models.DateTimeField()),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(
                        fields=["user", "expires_at"], name="core_apitok_user_id_3a7aab_idx"
                    )
                ],
            },
        ),
        migrations.RunPython(tokens_hashed, migrations.RunPython.noop),
        migrations.RunPython(machine_role, no_machine_role),
    ]
