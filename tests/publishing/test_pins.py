"""Pinned posts: the account's own, five at most, with the publisher role."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from parvis.identity.models import Account, Staff
from parvis.publishing import pins
from parvis.publishing.services import Content, delete_post, publish_post


def test_pins_newest_first_and_at_most_five(publisher: Staff, account: Account) -> None:
    posts = [publish_post(publisher, account, Content(f"N° {n}")) for n in range(6)]
    for post in posts[:5]:
        pins.pin_post(publisher, post)
    # Pinning again changes nothing.
    pins.pin_post(publisher, posts[0])
    assert list(pins.pinned_posts(account)) == posts[4::-1]
    with pytest.raises(ValidationError) as refused:
        pins.pin_post(publisher, posts[5])
    assert refused.value.code == "pin_limit"
    pins.unpin_post(publisher, posts[2])
    pins.unpin_post(publisher, posts[2])
    pins.pin_post(publisher, posts[5])
    assert pins.pinned_posts(account).first() == posts[5]
    assert posts[2] not in pins.pinned_posts(account)


def test_a_deleted_post_is_no_longer_pinned(publisher: Staff, account: Account) -> None:
    post = publish_post(publisher, account, Content("Bientôt effacé"))
    pins.pin_post(publisher, post)
    delete_post(publisher, post)
    post.refresh_from_db()
    assert post.pinned_at is None
    with pytest.raises(ValidationError):
        pins.pin_post(publisher, post)


def test_an_editor_cannot_pin(editor: Staff, publisher: Staff, account: Account) -> None:
    post = publish_post(publisher, account, Content("Annonce"))
    with pytest.raises(PermissionDenied):
        pins.pin_post(editor, post)
    with pytest.raises(PermissionDenied):
        pins.unpin_post(editor, post)
    assert not pins.pinned_posts(account).exists()
