import datetime as dt

from django.db import migrations

# DATA_CONTRACT.md's default dayparts, in store local time; the chain can edit them.
DEFAULT_DAYPARTS = [
    ("breakfast", dt.time(5, 0), dt.time(10, 30)),
    ("lunch", dt.time(10, 30), dt.time(14, 0)),
    ("afternoon", dt.time(14, 0), dt.time(17, 0)),
    ("dinner", dt.time(17, 0), dt.time(21, 0)),
    ("late_night", dt.time(21, 0), dt.time(5, 0)),
]


def create_dayparts(apps, schema_editor):
    Daypart = apps.get_model("offers", "Daypart")
    for name, start, end in DEFAULT_DAYPARTS:
        Daypart.objects.get_or_create(name=name, defaults={"start": start, "end": end})


class Migration(migrations.Migration):
    dependencies = [("offers", "0001_initial")]
    operations = [migrations.RunPython(create_dayparts, migrations.RunPython.noop)]
