"""Pinned posts: the few an account keeps at the top of its profile.

As on Mastodon: an account pins its own posts (not direct ones, not deleted ones), at most
:data:`MAX_PINNED`, newest pin first; pinning is a public act, so it takes the publisher
role. Other servers read them in the actor's ``featured`` collection.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from parvis.identity.models import Account, Staff
from parvis.identity.services import Capability, require, touch
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import ensure_can_speak

MAX_PINNED = 5


def pinned_posts(account: Account) -> QuerySet[Post]:
    """``account``'s pinned posts, newest pin first."""
    return Post.objects.filter(
        account=account, pinned_at__isnull=False, deleted_at__isnull=True
    ).order_by("-pinned_at")


@transaction.atomic
def pin_post(staff: Staff, post: Post) -> Post:
    """Pin ``post`` to its account's profile; pinning it again changes nothing."""
    # The account's row is locked: two pins at once cannot both be the fifth.
    account = Account.objects.select_for_update().get(pk=post.account_id)
    require(staff, account, Capability.PUBLISH)
    ensure_can_speak(account)
    post = Post.objects.select_for_update().get(pk=post.pk)
    if post.deleted_at is not None or not account.is_local:
        raise ValidationError(_("Ce message ne peut pas être épinglé."), code="pin")
    if post.visibility == Visibility.DIRECT:
        raise ValidationError(_("Un message direct ne peut pas être épinglé."), code="pin")
    if post.pinned_at is not None:
        return post
    if pinned_posts(account).count() >= MAX_PINNED:
        raise ValidationError(
            _("Un compte épingle au plus %(max)d messages.") % {"max": MAX_PINNED},
            code="pin_limit",
        )
    post.pinned_at = timezone.now()
    post.save(update_fields=["pinned_at"])
    touch(account)
    return post


@transaction.atomic
def unpin_post(staff: Staff, post: Post) -> Post:
    """Take ``post`` off its account's profile; unpinning it again changes nothing."""
    require(staff, post.account, Capability.PUBLISH)
    ensure_can_speak(post.account)
    if Post.objects.filter(pk=post.pk, pinned_at__isnull=False).update(pinned_at=None):
        touch(post.account)
    post.pinned_at = None
    return post
