"""insert_rows: many rows in one prepared statement, with the ORM's defaults and values."""

import pytest
from django.db import IntegrityError

from parvis.core.bulk import insert_rows
from parvis.federation.models import Delivery, OutboundActivity, RemoteHost
from parvis.identity.models import Account
from parvis.publishing.models import Post

pytestmark = pytest.mark.django_db


def test_rows_get_the_model_defaults_and_duplicates_are_skipped(account: Account) -> None:
    activity = OutboundActivity.objects.create(uri="https://x.test/a/1", actor=account, body="{}")
    hosts = ["a.example", "b.example", "a.example"]
    assert insert_rows(RemoteHost, ["domain"], ([h] for h in hosts), unique=["domain"]) == 2
    ids = dict(RemoteHost.objects.values_list("domain", "pk"))
    rows = [(activity.pk, f"https://{h}/inbox", ids[h]) for h in hosts]
    new = insert_rows(
        Delivery, ["activity", "inbox", "host"], rows, unique=["activity", "inbox"], batch=2
    )
    assert new == 2
    delivery = Delivery.objects.get(inbox="https://b.example/inbox")
    assert delivery.state == Delivery.State.PENDING and delivery.attempts == 0
    assert delivery.next_attempt_at is not None and delivery.last_error == ""
    assert RemoteHost.objects.get(domain="a.example").signature_scheme == "cavage"


def test_without_unique_a_duplicate_raises() -> None:
    insert_rows(RemoteHost, ["domain"], [["a.example"]])
    with pytest.raises(IntegrityError):
        insert_rows(RemoteHost, ["domain"], [["a.example"]])


def test_rows_of_the_wrong_length_and_keys_that_a_default_would_repeat_are_refused() -> None:
    with pytest.raises(ValueError, match="2 values for 1 fields"):
        insert_rows(RemoteHost, ["domain"], [["a.example", 3]])
    with pytest.raises(ValueError, match="primary key must be given"):
        insert_rows(Post, ["uri"], [["https://x.test/1"]])
    assert not RemoteHost.objects.exists()
