"""Threads: the first status of a reply's thread, and threads an account muted.

Parvis stores no thread id on statuses: a thread is found by climbing ``in_reply_to``
from a status to the first one known here, a level at a time for many statuses at once.
Muting a thread (Mastodon's conversation mute) silences the notifications its statuses
would bring the account; the statuses themselves stay where they are.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from parvis.identity.models import Account
from parvis.interactions.models import ConversationState
from parvis.publishing.models import Post

# How many replies up a thread is climbed to find its first status; a longer chain is
# cut there (the same place every time, so its conversation stays the same).
MAX_THREAD_DEPTH = 500


def thread_roots(parents: dict[int, int | None]) -> dict[int, int]:
    """The first known status of the thread of each of ``parents`` (message → parent).

    Parents outside the messages (a public status answered privately) are read a level
    at a time for all threads together.
    """
    parent_of = dict(parents)
    missing: set[int] = set()  # deleted meanwhile: asked once, not at every level
    for _level in range(MAX_THREAD_DEPTH):
        unknown = {
            p
            for p in parent_of.values()
            if p is not None and p not in parent_of and p not in missing
        }
        if not unknown:
            break
        found = dict(Post.objects.filter(pk__in=unknown).values_list("pk", "in_reply_to_id"))
        parent_of.update(found)
        missing |= unknown - found.keys()
    roots: dict[int, int] = {}
    for pk in parents:
        path: list[int] = []
        seen: set[int] = set()
        node = pk
        while node not in roots:
            parent = parent_of.get(node)
            # The climb ends at a status without a parent read here (so a conversation's
            # id is always a status that exists), in a loop of replies (a bad server's),
            # or when the chain is too long.
            if (
                parent is None
                or parent not in parent_of
                or node in seen
                or len(path) >= MAX_THREAD_DEPTH
            ):
                roots[node] = node
                break
            path.append(node)
            seen.add(node)
            node = parent
        for step in path:
            roots[step] = roots[node]
    return {pk: roots[pk] for pk in parents}


def roots_of(posts: Iterable[Post]) -> dict[int, int]:
    """The first status of the thread of each of ``posts``, by post id."""
    return thread_roots({post.pk: post.in_reply_to_id for post in posts})


def muted_roots(account: Account) -> set[int]:
    """The first statuses of the threads ``account`` muted."""
    return set(
        ConversationState.objects.filter(account=account, muted=True).values_list(
            "root_post", flat=True
        )
    )


def is_muted(account: Account, post: Post) -> bool:
    """Whether ``post`` is in a thread ``account`` muted (one query when it muted none)."""
    muted = muted_roots(account)
    return bool(muted) and roots_of([post])[post.pk] in muted


@transaction.atomic
def mute_thread(account: Account, post: Post) -> None:
    """``account`` hears no more of the thread of ``post``; muting again changes nothing."""
    root = roots_of([post])[post.pk]
    ConversationState.objects.update_or_create(
        account=account, root_post_id=root, defaults={"muted": True}
    )


def unmute_thread(account: Account, post: Post) -> None:
    """``account`` hears of the thread of ``post`` again."""
    root = roots_of([post])[post.pk]
    ConversationState.objects.filter(account=account, root_post_id=root).update(muted=False)
