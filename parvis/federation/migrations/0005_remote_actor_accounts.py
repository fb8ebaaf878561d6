"""Remote actors become identity accounts; their follows move to interactions.Follow.

See docs/decisions/0007-remote-accounts-and-posts.md.
"""

import django.db.models.deletion
from django.db import migrations, models

ACTOR_KINDS = {"Organization": "institution", "Service": "function", "Application": "function"}


def actors_to_accounts(apps, schema_editor):
    RemoteActor = apps.get_model("federation", "RemoteActor")
    OldFollow = apps.get_model("federation", "Follow")
    Account = apps.get_model("identity", "Account")
    NewFollow = apps.get_model("interactions", "Follow")
    for actor in RemoteActor.objects.all():
        account = Account.objects.create(
            domain=None,
            uri=actor.uri,
            handle=(actor.username or actor.uri.rstrip("/").rsplit("/", 1)[-1])[:255],
            remote_host=actor.domain,
            display_name=actor.display_name[:100],
            url=actor.url,
            kind=ACTOR_KINDS.get(actor.kind, "person"),
            discoverable=False,
        )
        actor.account = account
        actor.save(update_fields=["account"])
    for follow in OldFollow.objects.select_related("follower"):
        NewFollow.objects.get_or_create(
            follower_id=follow.follower.account_id,
            target_id=follow.target_id,
            defaults={
                "state": follow.state,
                "uri": follow.activity_uri,
                "created_at": follow.created_at,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("federation", "0004_blockeddomain"),
        ("identity", "0002_remove_account_account_handle_format_and_more"),
        ("interactions", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="remoteactor",
            options={"verbose_name": "acteur distant", "verbose_name_plural": "acteurs distants"},
        ),
        migrations.AddField(
            model_name="inboundactivity",
            name="object_uri",
            field=models.CharField(blank=True, db_index=True, default="", max_length=2048),
        ),
        migrations.AddField(
            model_name="remoteactor",
            name="account",
            field=models.OneToOneField(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="remote_actor",
                to="identity.account",
                verbose_name="compte",
            ),
        ),
        migrations.AddField(
            model_name="remoteactor",
            name="also_known_as",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="remoteactor",
            name="followers_uri",
            field=models.CharField(blank=True, default="", max_length=2048),
        ),
        migrations.RunPython(actors_to_accounts, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="remoteactor",
            name="account",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="remote_actor",
                to="identity.account",
                verbose_name="compte",
            ),
        ),
        migrations.RemoveField(model_name="remoteactor", name="display_name"),
        migrations.RemoveField(model_name="remoteactor", name="kind"),
        migrations.RemoveField(model_name="remoteactor", name="url"),
        migrations.RemoveField(model_name="remoteactor", name="username"),
        migrations.DeleteModel(name="Follow"),
    ]
