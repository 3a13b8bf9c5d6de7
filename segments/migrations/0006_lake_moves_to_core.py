from django.db import migrations


class Migration(migrations.Migration):
    """The lake's manifest now belongs to core (the platform); its table stays where it is."""

    dependencies = [("segments", "0005_flows_replace_transitions")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="LakeFile")], database_operations=[]
        )
    ]
