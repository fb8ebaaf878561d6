"""The hand-written timeline SQL selects exactly what the domain querysets select."""

import pytest
from django.utils import timezone

from parvis.identity.models import Account, AccountKind, Staff
from parvis.identity.services import RemoteProfile, create_account, record_remote_account
from parvis.publishing import services
from parvis.publishing.models import LOCAL_VISIBILITIES, Post
from parvis.publishing.received import ReceivedContent, record_received_post
from parvis.publishing.services import Content
from parvis.web.fragments import timeline_rows
from parvis.web.views.public import PROFILE_VISIBILITIES


@pytest.fixture
def mixed_posts(publisher: Staff, account: Account, make_staff) -> Account:
    other = create_account(
        domain=account.domain, handle="suspendu", kind=AccountKind.PERSON, display_name="Suspendu"
    )
    admin = make_staff("root")
    admin.is_superuser = True
    admin.save()
    # A post of another server, public and tagged: never on this server's timelines.
    stranger = record_remote_account(
        RemoteProfile(uri="https://social.example/users/x", handle="x", host="social.example")
    )
    record_received_post(
        stranger,
        ReceivedContent(uri="https://social.example/notes/1", content_html="<p>#x</p>", text="#x"),
    )
    for visibility in LOCAL_VISIBILITIES:
        services.publish_post(
            publisher, account, Content(text=f"{visibility} #x", visibility=visibility)
        )
        services.publish_post(admin, other, Content(text=f"{visibility} #x", visibility=visibility))
    gone = services.publish_post(publisher, account, Content(text="supprimé #x"))
    services.delete_post(publisher, gone)
    Account.objects.filter(pk=other.pk).update(suspended_at=timezone.now())
    return account


def _ids(timeline: str, params: list, max_id: int | None = None) -> list[int]:
    return [row[0] for row in timeline_rows(timeline, params, max_id=max_id, limit=100)]


def test_public_timeline_matches_the_domain_queryset(mixed_posts: Account) -> None:
    expected = list(Post.objects.public().order_by("-id").values_list("id", flat=True))
    assert _ids("public", []) == expected and len(expected) == 1


def test_profile_timeline_matches_the_domain_queryset(mixed_posts: Account) -> None:
    expected = list(
        mixed_posts.posts.live()
        .filter(visibility__in=PROFILE_VISIBILITIES)
        .order_by("-id")
        .values_list("id", flat=True)
    )
    assert _ids("profile", [mixed_posts.pk]) == expected and len(expected) == 2
    assert _ids("profile", [mixed_posts.pk], max_id=expected[0]) == expected[1:]


def test_tag_timeline_matches_the_domain_queryset(mixed_posts: Account) -> None:
    expected = list(
        Post.objects.public()
        .filter(hashtags__name="x")
        .order_by("-id")
        .values_list("id", flat=True)
    )
    assert _ids("tag", ["x"]) == expected and len(expected) == 1
    assert _ids("tag", ["absent"]) == []
