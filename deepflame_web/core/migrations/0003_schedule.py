from django.db import migrations


def install(apps, schema_editor):
    from deepflame_web.core.schedule import schedule_install

    schedule_install(apps)


class Migration(migrations.Migration):
    """The product's periodic tasks, in the database where Admins edit them."""

    dependencies = [
        ("core", "0002_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
