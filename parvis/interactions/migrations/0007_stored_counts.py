# Counting triggers on reactions and follows, and the counts of those there already are.

from django.db import migrations

from parvis.core.triggers import CountingTrigger, install

REACTION_COUNTS = CountingTrigger(
    name="parvis_reaction_counts",
    table="interactions_reaction",
    watched=["kind", "post_id"],
    minus=[
        "UPDATE publishing_poststats SET "
        "reblogs_count = reblogs_count - CASE WHEN OLD.kind = 'boost' THEN 1 ELSE 0 END, "
        "favourites_count = favourites_count - CASE WHEN OLD.kind = 'favourite' THEN 1 ELSE 0 END "
        "WHERE post_id = OLD.post_id",
    ],
    plus=[
        "INSERT INTO publishing_poststats (post_id, replies_count, reblogs_count, "
        "favourites_count) VALUES (NEW.post_id, 0, "
        "CASE WHEN NEW.kind = 'boost' THEN 1 ELSE 0 END, "
        "CASE WHEN NEW.kind = 'favourite' THEN 1 ELSE 0 END) "
        "ON CONFLICT (post_id) DO UPDATE SET "
        "reblogs_count = publishing_poststats.reblogs_count + excluded.reblogs_count, "
        "favourites_count = publishing_poststats.favourites_count + excluded.favourites_count",
    ],
)

# An accepted follow counts as a follower of its target and a follow of its follower.
FOLLOW_COUNTS = CountingTrigger(
    name="parvis_follow_counts",
    table="interactions_follow",
    watched=["state", "follower_id", "target_id"],
    minus=[
        "UPDATE identity_accountstats SET followers_count = followers_count - 1 "
        "WHERE account_id = OLD.target_id AND OLD.state = 'accepted'",
        "UPDATE identity_accountstats SET following_count = following_count - 1 "
        "WHERE account_id = OLD.follower_id AND OLD.state = 'accepted'",
    ],
    plus=[
        "INSERT INTO identity_accountstats (account_id, followers_count, following_count, "
        "statuses_count) SELECT NEW.target_id, 1, 0, 0 WHERE NEW.state = 'accepted' "
        "ON CONFLICT (account_id) DO UPDATE SET "
        "followers_count = identity_accountstats.followers_count + 1",
        "INSERT INTO identity_accountstats (account_id, followers_count, following_count, "
        "statuses_count) SELECT NEW.follower_id, 0, 1, 0 WHERE NEW.state = 'accepted' "
        "ON CONFLICT (account_id) DO UPDATE SET "
        "following_count = identity_accountstats.following_count + 1",
    ],
)

# ``WHERE 1 = 1``: SQLite needs a WHERE before ON CONFLICT in an INSERT … SELECT.
FILL = [
    "INSERT INTO publishing_poststats (post_id, replies_count, reblogs_count, favourites_count) "
    "SELECT post_id, 0, SUM(CASE WHEN kind = 'boost' THEN 1 ELSE 0 END), "
    "SUM(CASE WHEN kind = 'favourite' THEN 1 ELSE 0 END) FROM interactions_reaction "
    "WHERE 1 = 1 GROUP BY post_id ON CONFLICT (post_id) DO UPDATE SET "
    "reblogs_count = excluded.reblogs_count, favourites_count = excluded.favourites_count",
    "INSERT INTO identity_accountstats (account_id, followers_count, following_count, "
    "statuses_count) SELECT target_id, COUNT(*), 0, 0 FROM interactions_follow "
    "WHERE state = 'accepted' GROUP BY target_id ON CONFLICT (account_id) DO UPDATE SET "
    "followers_count = excluded.followers_count",
    "INSERT INTO identity_accountstats (account_id, followers_count, following_count, "
    "statuses_count) SELECT follower_id, 0, COUNT(*), 0 FROM interactions_follow "
    "WHERE state = 'accepted' GROUP BY follower_id ON CONFLICT (account_id) DO UPDATE SET "
    "following_count = excluded.following_count",
]


class Migration(migrations.Migration):

    dependencies = [
        ('interactions', '0006_conversation_muted'),
        ('publishing', '0008_post_stats'),
        ('identity', '0004_account_stats'),
    ]

    operations = [
        migrations.RunSQL(FILL, migrations.RunSQL.noop),
        migrations.RunPython(*install([REACTION_COUNTS, FOLLOW_COUNTS])),
    ]
