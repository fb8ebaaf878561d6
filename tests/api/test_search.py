"""Search through the API: accounts, statuses and hashtags found as Mastodon finds them,
and addresses and URLs resolved through federation.

Remote accounts and posts are resolved against a loopback server (the federation tests'
sink) serving WebFinger, actor and note documents for real.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.utils import timezone

from parvis.federation.models import BlockedDomain, RemoteActor
from parvis.identity.models import Account, AccountKind, Domain, Staff
from parvis.identity.services import create_account
from parvis.interactions.models import Block
from parvis.interactions.services import record_follow
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api
from tests.federation.signed import Remote, make_remote
from tests.federation.sink import Sink, running_sink

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


# --- helpers ---------------------------------------------------------------------------


def remote_account(name: str, host: str = "remote.example") -> Account:
    """An account of another server, as federation records it."""
    return Account.objects.create(
        handle=name,
        uri=f"https://{host}/users/{name}",
        remote_host=host,
        kind=AccountKind.PERSON,
        display_name=name.title(),
    )


def search(api: Api, q: str, **params: str):
    return api.get("/api/v2/search", {"q": q, **params})


def names(results: list[dict[str, Any]]) -> list[str]:
    return [entry["acct"] for entry in results]


@pytest.fixture
def elodie(domain: Domain) -> Account:
    return create_account(
        domain=domain, handle="elodie", kind=AccountKind.PERSON, display_name="Élodie Dupré-Lœuvre"
    )


@pytest.fixture
def musee(domain: Domain) -> Account:
    return create_account(
        domain=domain, handle="musee", kind=AccountKind.INSTITUTION, display_name="Musée"
    )


@pytest.fixture
def stranger(token_for: Callable[..., str], make_staff, musee: Account) -> Api:
    """The API as the publisher of another account, which follows nobody."""
    return Api(token_for(make_staff("musee-com", (musee, "publisher")), musee))


@pytest.fixture
def sink(settings) -> Iterator[Sink]:
    """Another server on loopback; addresses are looked up over plain HTTP."""
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    settings.PARVIS_URL_SCHEME = "http"
    with running_sink() as running:
        yield running


@pytest.fixture
def alice(sink: Sink, account: Account) -> Remote:
    """A remote actor with WebFinger, its profile page and two notes (one public)."""
    remote = make_remote(sink)
    address = f"alice@127.0.0.1:{sink.port}"
    path = f"/.well-known/webfinger?resource=acct:{address}"
    sink.documents[path] = {
        "subject": f"acct:{address}",
        "links": [{"rel": "self", "type": "application/activity+json", "href": remote.uri}],
    }
    sink.content_types[path] = "application/jrd+json"
    actor = sink.documents["/users/alice"]
    actor["name"] = "Alice Martin"
    actor["followers"] = f"{remote.uri}/followers"
    # The profile page answers the actor, whose id is another URL (as on Mastodon).
    sink.documents["/@alice"] = actor
    note = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{remote.uri}/statuses/1",
        "type": "Note",
        "attributedTo": remote.uri,
        "content": "<p>Bonjour de loin</p>",
        "to": [PUBLIC],
        "cc": [f"{remote.uri}/followers"],
        "published": "2025-01-01T10:00:00Z",
        "url": sink.url("/@alice/1"),
    }
    sink.documents["/users/alice/statuses/1"] = note
    sink.documents["/@alice/1"] = note
    sink.documents["/users/alice/statuses/2"] = {
        **note,
        "id": f"{remote.uri}/statuses/2",
        "content": "<p>Pour mes abonnés</p>",
        "to": [f"{remote.uri}/followers"],
        "cc": [],
    }
    return remote


# --- search: accounts ----------------------------------------------------------------


def test_accounts_are_found_by_name_accents_and_case_ignored(
    elodie: Account, account: Account
) -> None:
    anonymous = Api()
    for q in ("elodie", "ÉLODIE", "dupre loeuvre", "Dupré"):
        found = search(anonymous, q).json()
        assert names(found["accounts"]) == ["elodie"], q
        assert found["statuses"] == [] and found["hashtags"] == []
    assert search(anonymous, "elodie martin").json()["accounts"] == []
    # The institution's name is searched too.
    assert "ville" in names(search(anonymous, "ville de blois", type="accounts").json()["accounts"])


def test_accounts_are_found_by_handle_and_by_address(
    api: Api, account: Account, function_account: Account, musee: Account
) -> None:
    paul = remote_account("paul")
    assert names(search(api, "@maire").json()["accounts"])[0] == "maire"
    assert names(search(api, "maire@social.blois.fr").json()["accounts"]) == ["maire"]
    assert names(search(api, "@paul@remote.example").json()["accounts"]) == [paul.acct]
    assert names(search(api, "pau@remote.example").json()["accounts"]) == [paul.acct]
    v1 = api.get("/api/v1/accounts/search", {"q": "paul"})
    assert v1.status_code == 200 and names(v1.json()) == [paul.acct]
    # The exact handle comes first, hosted accounts before remote ones.
    remote_account("musee", "musees.example")
    assert names(search(api, "musee").json()["accounts"]) == ["musee", "musee@musees.example"]


def test_account_search_filters_and_pages(
    api: Api, account: Account, function_account: Account, musee: Account
) -> None:
    record_follow(account, musee, "", approved=True)
    followed = api.get("/api/v1/accounts/search", {"q": "blois", "following": "true"})
    assert followed.json() == []
    following = api.get("/api/v1/accounts/search", {"q": "m", "following": "true"}).json()
    assert names(following) == ["musee"]
    first = api.get("/api/v1/accounts/search", {"q": "blois", "limit": "1"}).json()
    second = api.get("/api/v1/accounts/search", {"q": "blois", "limit": "1", "offset": "1"}).json()
    assert len(first) == len(second) == 1 and first[0]["id"] != second[0]["id"]
    # Suspended accounts and accounts that block the caller are not found.
    musee.suspended_at = timezone.now()
    musee.save()
    assert search(api, "musee").json()["accounts"] == []
    Block.objects.create(account=function_account, target=account)
    assert "maire" not in names(search(api, "maire").json()["accounts"])


def test_search_refusals_as_mastodon(api: Api, account: Account) -> None:
    anonymous = Api()
    assert anonymous.get("/api/v2/search").status_code == 400
    assert search(anonymous, "ville", offset="1").status_code == 401
    refused = search(anonymous, "alice@remote.example", resolve="true")
    assert refused.status_code == 401 and "connecté" in refused.json()["error"]
    assert search(api, "ville", limit="beaucoup").status_code == 400
    assert search(api, "ville", offset="-1").status_code == 400
    assert search(api, "ville", account_id="nope", type="statuses").status_code == 404
    assert anonymous.get("/api/v1/accounts/search", {"q": "ville"}).status_code == 401
    # An unknown type and a blank query find nothing.
    assert search(api, "ville", type="lists").json() == {
        "accounts": [],
        "statuses": [],
        "hashtags": [],
    }
    assert search(api, "  ").json()["accounts"] == []


# --- search: statuses and hashtags ---------------------------------------------------


def test_statuses_are_found_among_those_the_caller_may_see(
    api: Api, stranger: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    public = publish_post(publisher, function_account, Content("Le budget est voté"))
    private = publish_post(
        publisher,
        function_account,
        Content("Budget : réunion des abonnés", visibility=Visibility.FOLLOWERS),
    )
    found = search(stranger, "BUDGET", type="statuses").json()
    assert [s["id"] for s in found["statuses"]] == [str(public.pk)]
    assert found["accounts"] == [] and found["hashtags"] == []
    # Followers see the followers-only one too, newest first.
    record_follow(account, function_account, "", approved=True)
    mine = search(api, "budget", type="statuses").json()["statuses"]
    assert [s["id"] for s in mine] == [str(private.pk), str(public.pk)]
    older = search(api, "budget", type="statuses", max_id=str(private.pk)).json()["statuses"]
    assert [s["id"] for s in older] == [str(public.pk)]
    by_author = search(api, "budget", type="statuses", account_id=str(account.pk)).json()
    assert by_author["statuses"] == []
    # Anonymous callers get no statuses, as on Mastodon.
    assert search(Api(), "budget").json()["statuses"] == []


def test_hashtags_are_found_by_the_start_of_their_name(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    publish_post(publisher, function_account, Content("Vote du #Budget2025 et du #Budget"))
    publish_post(
        publisher,
        function_account,
        Content("Entre nous #BudgetSecret", visibility=Visibility.FOLLOWERS),
    )
    found = search(Api(), "#budg", type="hashtags").json()
    assert found["hashtags"] == [
        {"name": "budget", "url": "http://social.blois.fr/tags/budget", "history": []},
        {"name": "budget2025", "url": "http://social.blois.fr/tags/budget2025", "history": []},
    ]
    # Accents and case are folded as hashtags are stored; private ones stay unknown.
    assert [t["name"] for t in search(api, "BÚDGET2", type="hashtags").json()["hashtags"]] == [
        "budget2025"
    ]
    assert search(api, "budgetsecret", type="hashtags").json()["hashtags"] == []


# --- search: resolving through federation --------------------------------------------


def test_an_address_of_another_server_is_resolved_with_webfinger(
    api: Api, alice: Remote, sink: Sink
) -> None:
    address = f"@alice@127.0.0.1:{sink.port}"
    found = search(api, address, resolve="true")
    assert found.status_code == 200, found.content
    [entity] = found.json()["accounts"]
    assert entity["uri"] == alice.uri and entity["display_name"] == "Alice Martin"
    account = Account.objects.get(uri=alice.uri)
    assert RemoteActor.objects.filter(account=account).exists()
    # Known now: found without resolving, and by /v1/accounts/search too.
    assert search(api, address[1:]).json()["accounts"][0]["id"] == str(account.pk)
    v1 = api.get("/api/v1/accounts/search", {"q": address, "resolve": "true"}).json()
    assert [a["id"] for a in v1] == [str(account.pk)]


def test_urls_of_another_server_are_resolved_from_their_origin(
    api: Api, alice: Remote, sink: Sink
) -> None:
    # A profile page: the actor it names is fetched from its own id.
    by_page = search(api, sink.url("/@alice"), resolve="true").json()
    assert [a["uri"] for a in by_page["accounts"]] == [alice.uri]
    # A post's page, then its id: stored once, shown as a status.
    found = search(api, sink.url("/@alice/1"), resolve="true").json()
    [status] = found["statuses"]
    assert status["content"] == "<p>Bonjour de loin</p>" and status["account"]["uri"] == alice.uri
    post = Post.objects.get(uri=f"{alice.uri}/statuses/1")
    again = search(api, f"{alice.uri}/statuses/1", resolve="true").json()["statuses"]
    assert [s["id"] for s in again] == [str(post.pk)]
    assert Post.objects.filter(account__uri=alice.uri).count() == 1
    # type= keeps the kind asked for.
    assert (
        search(api, sink.url("/@alice"), resolve="true", type="statuses").json()["accounts"] == []
    )


def test_hosted_urls_are_resolved_here(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    post = publish_post(publisher, function_account, Content("Conseil municipal"))
    found = search(api, f"https://social.blois.fr/@maire/{post.pk}", resolve="true").json()
    assert [s["id"] for s in found["statuses"]] == [str(post.pk)]
    page = search(api, "https://social.blois.fr/@maire", resolve="true").json()
    assert [a["id"] for a in page["accounts"]] == [str(function_account.pk)]
    assert not Account.objects.remote().exists()


def test_failed_resolutions_give_no_result(
    api: Api, alice: Remote, sink: Sink, account: Account
) -> None:
    empty = {"accounts": [], "statuses": [], "hashtags": []}
    # The trap answers a document claiming to be one of ours: never fetched, never stored.
    sink.documents["/trap"] = {"id": "https://social.blois.fr/@ville", "type": "Person"}
    sink.documents["/thing"] = {"id": sink.url("/thing"), "type": "Collection"}
    sink.documents["/forged"] = {
        **sink.documents["/users/alice/statuses/1"],
        "id": sink.url("/forged"),
        "attributedTo": "https://elsewhere.example/users/eve",
    }
    for q in (
        f"nobody@127.0.0.1:{sink.port}",  # no WebFinger answer
        sink.url("/missing"),  # 404
        "http://127.0.0.1:1/users/x",  # nothing listens there
        sink.url("/trap"),
        sink.url("/thing"),  # not an actor nor a post
        sink.url("/forged"),  # a note of an author on another origin
        sink.url("/users/alice/statuses/2"),  # followers-only: not Parvis's to show
        "https://social.blois.fr/@personne",
    ):
        answer = search(api, q, resolve="true")
        assert answer.status_code == 200, (q, answer.content)
        assert answer.json() == empty, q
    assert not Account.objects.remote().exists()
    assert not Post.objects.exists()
    # A blocked server is not even asked.
    BlockedDomain.objects.create(domain="127.0.0.1")
    sink.fetches.clear()
    assert search(api, f"alice@127.0.0.1:{sink.port}", resolve="true").json() == empty
    assert search(api, sink.url("/@alice"), resolve="true").json() == empty
    assert sink.fetches == []
