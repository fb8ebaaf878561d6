from django.db import migrations, models

import parvis.core.ids


def number_existing(apps, schema_editor):
    # Each existing reaction gets an id of its own time, as a new one would.
    Reaction = apps.get_model("interactions", "Reaction")
    for reaction in Reaction.objects.filter(timeline_id__isnull=True).only("pk", "created_at"):
        reaction.timeline_id = parvis.core.ids.time_id(reaction.created_at)
        reaction.save(update_fields=["timeline_id"])


class Migration(migrations.Migration):

    dependencies = [
        ("interactions", "0002_notification_notification_event"),
    ]

    operations = [
        migrations.AddField(
            model_name="reaction",
            name="timeline_id",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="reaction",
            name="timeline_id",
            field=models.BigIntegerField(
                default=parvis.core.ids.time_id, editable=False, unique=True
            ),
        ),
    ]
