from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps

OLD_TASK = "parvis.federation.inbox.process_inbound"


def drop_per_activity_tasks(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Activities were each handed to a task; the drain now claims the unprocessed rows
    themselves, so the waiting tasks would only fail as unknown."""
    task_results = apps.get_model("django_tasks_database", "DBTaskResult")
    task_results.objects.filter(task_path=OLD_TASK, status="READY").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0006_instance_actor_keys"),
        ("django_tasks_database", "0021_conditional_partial_index_ordering"),
    ]

    operations = [
        migrations.AddField(
            model_name="inboundactivity",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="inboundactivity",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="inboundactivity",
            index=models.Index(
                condition=models.Q(("processed_at__isnull", True)),
                fields=["id"],
                name="inbound_pending",
            ),
        ),
        migrations.RunPython(drop_per_activity_tasks, migrations.RunPython.noop),
    ]
