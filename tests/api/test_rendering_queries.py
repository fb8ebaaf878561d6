"""Pages of statuses: what they cost in queries, and what the page-wide reads render.

The Renderer reads counts, the caller's reactions, media, mentions, tags and mandates for
a whole page at once: a page of twelve statuses costs the statements of a page of two.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.core.cache import cache
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from oauth2_provider.models import AccessToken

from parvis.api.auth import ANONYMOUS, caller_for
from parvis.api.entities import Renderer
from parvis.identity.models import Account, AccountKind, Mandate, Official, RoleKind, Staff
from parvis.identity.services import create_account, current_mandates, grant_role
from parvis.interactions.models import Reaction
from parvis.interactions.services import react, record_follow
from parvis.publishing.models import Post
from parvis.publishing.services import Content, edit_post, publish_post, upload_media
from tests.api.conftest import Api


def remote_account(name: str) -> Account:
    """An account of another server, as federation records it."""
    return Account.objects.create(
        handle=name.lower(),
        uri=f"https://remote.example/users/{name.lower()}",
        remote_host="remote.example",
        kind=AccountKind.PERSON,
        display_name=name,
    )


def _fill(publisher: Staff, account: Account, mayor: Mandate, jpeg: bytes, n: int) -> list[Post]:
    """``n`` posts of ``account`` (tags, an image, mentions and favourites of two accounts
    of their own, a reply), each followed by a boost by ``account`` of a post of a
    function account of its own, held under a mandate: the more statuses on a page, the
    more accounts it shows."""
    record_follow(remote_account("Abonné"), account, "", approved=True)
    posts = []
    for i in range(n):
        fans = [remote_account(f"Zoé{i}"), remote_account(f"Alain{i}")]
        media = upload_media(publisher, account, jpeg, filename="a.jpg", description="Une image")
        post = publish_post(
            publisher, account, Content(f"Conseil n°{i} #blois #voirie"), media_ids=[media.pk]
        )
        post.mentions.add(*fans)
        for fan in fans:
            react(fan, post, Reaction.Kind.FAVOURITE)
        publish_post(publisher, account, Content("Suite", in_reply_to=post))
        function = create_account(
            domain=account.domain,
            handle=f"adjoint{i}",
            kind=AccountKind.FUNCTION,
            display_name=f"Adjoint n°{i}",
            institution=mayor.institution,
        )
        Mandate.objects.create(
            official=mayor.official,
            institution=mayor.institution,
            function_label=f"Adjoint n°{i}",
            function_account=function,
            start_date=mayor.start_date,
        )
        grant_role(publisher, function, RoleKind.PUBLISHER)
        react(account, publish_post(publisher, function, Content(f"De l'adjoint {i}")), "boost")
        posts.append(post)
    return posts


def _statements(api: Api, path: str, limit: int) -> tuple[int, list[dict]]:
    with CaptureQueriesContext(connection) as queries:
        response = api.get(path, {"limit": str(limit)})
    assert response.status_code == 200, response.content
    return len(queries), response.json()


def test_a_page_costs_the_same_statements_whatever_its_size(
    api: Api, publisher: Staff, account: Account, mayor: Mandate, jpeg: bytes
) -> None:
    _fill(publisher, account, mayor, jpeg, 6)
    for path in (f"/api/v1/accounts/{account.pk}/statuses", "/api/v1/timelines/public"):
        for reader in (api, Api()):
            small, few = _statements(reader, path, 2)
            large, many = _statements(reader, path, 12)
            assert len(few) == 2 and len(many) == 12, path
            assert small == large, (path, reader.token is not None)


def test_page_wide_reads_render_what_each_status_holds(
    api: Api, publisher: Staff, account: Account, mayor: Mandate, jpeg: bytes
) -> None:
    latest = _fill(publisher, account, mayor, jpeg, 2)[-1]
    page = api.get(f"/api/v1/accounts/{account.pk}/statuses").json()
    boost, reply, post = page[:3]
    assert post["id"] == str(latest.pk) and reply["in_reply_to_id"] == post["id"]
    assert reply["in_reply_to_account_id"] == str(account.pk)
    assert boost["reblog"]["account"]["username"] == "adjoint1"
    assert boost["reblogged"] is True and boost["reblog"]["reblogs_count"] == 1
    assert boost["account"]["id"] == str(account.pk)
    assert boost["reblog"]["account"]["parvis"]["mandate"] == "Adjoint n°1"
    assert boost["reblog"]["account"]["parvis"]["official"] is True
    assert post["account"]["parvis"] == {
        "kind": "institution",
        "official": False,
        "institution": "Ville de Blois",
        "mandate": None,
        "frozen": False,
        "claimed": True,
    }
    # Mentions in the order of their names, tags, the image, counts of everyone.
    assert [m["acct"] for m in post["mentions"]] == [
        "alain1@remote.example",
        "zoé1@remote.example",
    ]
    assert sorted(t["name"] for t in post["tags"]) == ["blois", "voirie"]
    assert post["tags"][0]["url"].startswith("http://social.blois.fr/tags/")
    assert [m["description"] for m in post["media_attachments"]] == ["Une image"]
    assert post["favourites_count"] == 2 and post["favourited"] is False
    assert post["replies_count"] == 1 and post["reblogs_count"] == 0
    author = post["account"]
    assert (author["followers_count"], author["following_count"]) == (1, 0)
    assert author["statuses_count"] == 4
    # Anonymous readers get the counts, not the caller's flags.
    anonymous = Api().get(f"/api/v1/accounts/{account.pk}/statuses").json()
    assert anonymous[2]["favourites_count"] == 2 and anonymous[2]["favourited"] is None
    react(account, latest, Reaction.Kind.FAVOURITE)
    again = api.get(f"/api/v1/accounts/{account.pk}/statuses").json()[2]
    assert again["favourited"] is True and again["favourites_count"] == 3


def test_joined_posts_render_as_prepared_ones(
    api: Api, publisher: Staff, account: Account, mayor: Mandate, jpeg: bytes
) -> None:
    _fill(publisher, account, mayor, jpeg, 3)
    request = RequestFactory().get("/", HTTP_HOST="social.blois.fr")
    posts = Post.objects.filter(account=account).order_by("-pk")
    for caller in (caller_for(api.token), ANONYMOUS):
        prepared = Renderer(request, caller).statuses(list(Renderer.prepare(posts)))
        joined = list(Renderer.joined(posts))
        cache.clear()  # the statuses' fragments are rendered again
        with CaptureQueriesContext(connection) as queries:
            assert Renderer(request, caller).statuses(joined) == prepared
        # Media, mentions and tags, the posts' counts, the author's counts, and for a
        # caller with an account, its reactions and bookmarks, and the threads it muted.
        assert len(queries) == 3 + 1 + 1 + 2 * (caller.account is not None)


def test_mandates_are_read_for_all_accounts_at_once(domain, commune, mayor: Mandate) -> None:
    official = Official.objects.create(given_name="Anne", family_name="MARTIN")
    person = create_account(
        domain=domain,
        handle="anne",
        kind=AccountKind.PERSON,
        display_name="Anne Martin",
        official=official,
    )
    today = timezone.localdate()
    for label, start, end in (
        ("Conseillère", date(2014, 1, 1), None),
        ("Adjointe", date(2020, 1, 1), None),
        ("Ancienne", date(2022, 1, 1), today - timedelta(days=1)),
    ):
        Mandate.objects.create(
            official=official,
            institution=commune,
            function_label=label,
            start_date=start,
            end_date=end,
        )
    nobody = remote_account("Personne")
    with CaptureQueriesContext(connection) as queries:
        found = current_mandates([mayor.function_account, person, nobody])
    assert len(queries) == 1
    assert {pk: m.function_label for pk, m in found.items()} == {
        mayor.function_account_id: "Maire",
        person.pk: "Adjointe",
    }
    with CaptureQueriesContext(connection) as queries:
        assert current_mandates([nobody]) == {}
    assert len(queries) == 0


def test_a_deactivated_staff_members_or_expired_token_gets_401(api: Api, publisher: Staff) -> None:
    assert api.get("/api/v1/accounts/verify_credentials").status_code == 200
    publisher.is_active = False
    publisher.save(update_fields=["is_active"])
    assert api.get("/api/v1/accounts/verify_credentials").status_code == 401
    publisher.is_active = True
    publisher.save(update_fields=["is_active"])
    AccessToken.objects.update(expires=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/v1/accounts/verify_credentials").status_code == 401


def test_what_a_status_shows_everyone_is_rendered_once_per_version(
    api: Api, publisher: Staff, account: Account, mayor: Mandate, jpeg: bytes
) -> None:
    latest = _fill(publisher, account, mayor, jpeg, 2)[-1]
    path = f"/api/v1/accounts/{account.pk}/statuses"
    cold, first = _statements(api, path, 20)
    warm, second = _statements(api, path, 20)
    # Media, mentions and tags are read for the first page only.
    assert cold - warm == 3 and second == first
    # Counts and the caller's flags are those of the moment, not of the fragment.
    react(account, latest, Reaction.Kind.FAVOURITE)
    third = _statements(api, path, 20)[1]
    entity = next(s for s in third if s["id"] == str(latest.pk))
    assert entity["favourited"] is True and entity["favourites_count"] == 3
    # An edit is a new version: its text, not the kept one.
    edit_post(publisher, Post.objects.get(pk=latest.pk), Content("Conseil reporté #blois"))
    fourth = _statements(api, path, 20)[1]
    entity = next(s for s in fourth if s["id"] == str(latest.pk))
    assert "Conseil reporté" in entity["content"] and entity["edited_at"] is not None
    assert [t["name"] for t in entity["tags"]] == ["blois"]
    # Links are those of the host asked: another host's fragment is its own.
    elsewhere = api.get(path, Host="127.0.0.1").json()
    entity = next(s for s in elsewhere if s["id"] == str(latest.pk))
    assert entity["tags"][0]["url"].startswith("http://127.0.0.1/tags/")
