from django.db import migrations

from offers.dayparts import DEFAULT_DAYPARTS


def create_dayparts(apps, schema_editor):
    Daypart = apps.get_model("offers", "Daypart")
    for name, start, end in DEFAULT_DAYPARTS:
        Daypart.objects.get_or_create(name=name, defaults={"start": start, "end": end})


class Migration(migrations.Migration):
    dependencies = [("offers", "0001_initial")]
    operations = [migrations.RunPython(create_dayparts, migrations.RunPython.noop)]
