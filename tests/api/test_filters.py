"""Filters through the API: Mastodon's shapes (v2 and v1), forms as Rails reads them,
validation, another account's filters, and the filters applied in each context."""

from __future__ import annotations

import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from parvis.api import schemas
from parvis.api.endpoints.filters import FilterResult, filter_results
from parvis.api.models import Filter, FilterKeyword, FilterStatus
from parvis.api.params import rails_indexed
from parvis.identity.models import Account, Staff
from parvis.interactions import services as interactions
from parvis.interactions.models import Notification
from parvis.publishing.models import Post, Visibility
from parvis.publishing.services import Content, publish_post
from tests.api.conftest import Api

FORM = "application/x-www-form-urlencoded"


def follow(follower: Account, *targets: Account) -> None:
    for target in targets:
        interactions.record_follow(follower, target, "", approved=True)


def send(api: Api, method: str, path: str, data: Any = None, *, form: bool = False):
    """A PUT or DELETE (or POST) with a JSON body, or an url-encoded form (pairs)."""
    headers = {"Authorization": f"Bearer {api.token}"}
    call = getattr(api.client, method)
    if form:
        return call(path, urlencode(data or []), content_type=FORM, headers=headers)
    return call(path, data or {}, content_type="application/json", headers=headers)


# --- filters ---------------------------------------------------------------------------


def test_filters_are_created_with_keywords_read_and_deleted(api: Api) -> None:
    created = api.post(
        "/api/v2/filters",
        {
            "title": "Travaux",
            "context": ["home", "public"],
            "filter_action": "hide",
            "expires_in": 3600,
            "keywords_attributes": [
                {"keyword": "travaux", "whole_word": True},
                {"keyword": "chantier", "whole_word": False},
            ],
        },
    )
    assert created.status_code == 200, created.content
    entity = created.json()
    assert set(entity) == {
        "id",
        "title",
        "context",
        "expires_at",
        "filter_action",
        "keywords",
        "statuses",
    }
    assert entity["context"] == ["home", "public"] and entity["filter_action"] == "hide"
    assert entity["expires_at"].endswith("Z") and entity["statuses"] == []
    assert [(k["keyword"], k["whole_word"]) for k in entity["keywords"]] == [
        ("travaux", True),
        ("chantier", False),
    ]
    assert api.get(f"/api/v2/filters/{entity['id']}").json() == entity
    assert api.get("/api/v2/filters").json() == [entity]
    # Mastodon's v1 shape, one per keyword.
    v1 = api.get("/api/v1/filters").json()
    assert v1 == [
        {
            "id": entity["keywords"][0]["id"],
            "phrase": "travaux",
            "context": ["home", "public"],
            "whole_word": True,
            "expires_at": entity["expires_at"],
            "irreversible": True,
        },
        {
            "id": entity["keywords"][1]["id"],
            "phrase": "chantier",
            "context": ["home", "public"],
            "whole_word": False,
            "expires_at": entity["expires_at"],
            "irreversible": True,
        },
    ]
    assert api.get(f"/api/v1/filters/{entity['keywords'][1]['id']}").json() == v1[1]
    deleted = api.delete(f"/api/v2/filters/{entity['id']}")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert api.get(f"/api/v2/filters/{entity['id']}").status_code == 404
    assert not FilterKeyword.objects.exists()


def test_filter_forms_are_read_as_rails_reads_them(api: Api) -> None:
    # Mastodon's own example: keywords_attributes[][…], a new keyword at each repeated key.
    pairs = [
        ("title", "test"),
        ("context[]", "public"),
        ("keywords_attributes[][keyword]", "foo"),
        ("keywords_attributes[][whole_word]", "false"),
        ("keywords_attributes[][keyword]", "bar"),
        ("keywords_attributes[][whole_word]", "true"),
    ]
    created = send(api, "post", "/api/v2/filters", pairs, form=True)
    assert created.status_code == 200, created.content
    entity = created.json()
    assert entity["filter_action"] == "warn" and entity["expires_at"] is None
    foo, bar = entity["keywords"]
    assert (foo["keyword"], foo["whole_word"], bar["keyword"], bar["whole_word"]) == (
        "foo",
        False,
        "bar",
        True,
    )
    # Mastodon's update example: remove foo, change bar into baz (a PUT form).
    changed = send(
        api,
        "put",
        f"/api/v2/filters/{entity['id']}",
        [
            ("keywords_attributes[][id]", foo["id"]),
            ("keywords_attributes[][_destroy]", "true"),
            ("keywords_attributes[][id]", bar["id"]),
            ("keywords_attributes[][keyword]", "baz"),
        ],
        form=True,
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["keywords"] == [{"id": bar["id"], "keyword": "baz", "whole_word": True}]
    assert changed.json()["title"] == "test" and changed.json()["context"] == ["public"]
    # Indexed forms (keywords_attributes[0][…]) and multipart forms work as well.
    indexed = api.post(
        "/api/v2/filters",
        {
            "title": "Indexé",
            "context[]": ["home"],
            "keywords_attributes[0][keyword]": "un",
            "keywords_attributes[1][keyword]": "deux",
            "keywords_attributes[1][whole_word]": "0",
        },
        json=False,
    )
    assert indexed.status_code == 200, indexed.content
    assert [(k["keyword"], k["whole_word"]) for k in indexed.json()["keywords"]] == [
        ("un", True),
        ("deux", False),
    ]
    multipart = api.post(
        "/api/v2/filters",
        {
            "title": "Multipart",
            "context[]": ["home", "thread"],
            "keywords_attributes[][keyword]": ["a", "b"],
            "keywords_attributes[][whole_word]": ["1", "0"],
        },
        json=False,
    )
    assert multipart.status_code == 200, multipart.content
    assert [(k["keyword"], k["whole_word"]) for k in multipart.json()["keywords"]] == [
        ("a", True),
        ("b", False),
    ]


def test_rails_indexed_numbers_arrays_of_hashes() -> None:
    form = rails_indexed(
        [
            ("a[][k]", "1"),
            ("a[][j]", "2"),
            ("a[][k]", "3"),
            ("b[]", "x"),
            ("b[]", "y"),
            ("c", "z"),
        ]
    )
    assert form.getlist("a[0][k]") == ["1"] and form.getlist("a[0][j]") == ["2"]
    assert form.getlist("a[1][k]") == ["3"] and form.getlist("b[]") == ["x", "y"]
    assert form["c"] == "z"


def test_invalid_filters_are_refused(api: Api) -> None:
    for body in (
        {"title": "", "context": ["home"]},
        {"title": "Bruit", "context": []},
        {"title": "Bruit", "context": ["home", "partout"]},
        {"title": "Bruit", "context": ["home"], "filter_action": "effacer"},
        {"title": "Bruit", "context": ["home"], "expires_in": "demain"},
        {"title": "Bruit", "context": ["home"], "keywords_attributes": [{"keyword": " "}]},
        {"title": "Bruit"},
        {"context": ["home"]},
    ):
        response = api.post("/api/v2/filters", body)
        assert response.status_code == 422, (body, response.content)
        assert list(response.json()) == ["error"]
    # An id in a new filter's keywords names nothing of it, as on Mastodon.
    with_id = api.post(
        "/api/v2/filters",
        {"title": "Bruit", "context": ["home"], "keywords_attributes": [{"id": "1"}]},
    )
    assert with_id.status_code == 404
    assert not Filter.objects.exists() and not FilterKeyword.objects.exists()
    entity = api.post("/api/v2/filters", {"title": "Bruit", "context": ["home"]}).json()
    path = f"/api/v2/filters/{entity['id']}"
    for body in ({"context": []}, {"context": ["ailleurs"]}, {"filter_action": "x"}):
        assert send(api, "put", path, body).status_code == 422, body
    assert api.get(path).json() == entity
    # A blur filter (Mastodon 4.4) and an expiry set then lifted.
    blurred = send(api, "put", path, {"filter_action": "blur", "expires_in": 60}).json()
    assert blurred["filter_action"] == "blur" and blurred["expires_at"] is not None
    lifted = send(api, "put", path, {"expires_in": None}).json()
    assert lifted["expires_at"] is None
    kept = send(api, "put", path, {"title": "Bruit de fond"}).json()
    assert kept["filter_action"] == "blur" and kept["title"] == "Bruit de fond"


def test_keywords_and_statuses_of_a_filter(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    entity = api.post("/api/v2/filters", {"title": "Bruit", "context": ["home"]}).json()
    base = f"/api/v2/filters/{entity['id']}"
    added = api.post(f"{base}/keywords", {"keyword": "fête"})
    assert added.status_code == 200, added.content
    keyword = added.json()
    assert keyword == {"id": keyword["id"], "keyword": "fête", "whole_word": True}
    assert api.post(f"{base}/keywords", {"keyword": ""}).status_code == 422
    assert api.post(f"{base}/keywords", {}).status_code == 422
    assert api.get(f"{base}/keywords").json() == [keyword]
    one = f"/api/v2/filters/keywords/{keyword['id']}"
    assert api.get(one).json() == keyword
    changed = send(api, "put", one, [("keyword", "musique"), ("whole_word", "false")], form=True)
    assert changed.status_code == 200, changed.content
    assert changed.json() == {"id": keyword["id"], "keyword": "musique", "whole_word": False}
    assert send(api, "put", one, {"keyword": "  "}).status_code == 422
    assert api.delete(one).json() == {}
    assert api.get(one).status_code == 404
    # Statuses.
    post = publish_post(publisher, function_account, Content("Fête de la musique"))
    named = api.post(f"{base}/statuses", {"status_id": str(post.pk)})
    assert named.status_code == 200, named.content
    status = named.json()
    assert status == {"id": status["id"], "status_id": str(post.pk)}
    assert api.post(f"{base}/statuses", {"status_id": str(post.pk)}).status_code == 422
    assert api.post(f"{base}/statuses", {"status_id": "999999"}).status_code == 404
    hidden = publish_post(
        publisher, function_account, Content("Aux abonnés", visibility=Visibility.FOLLOWERS)
    )
    assert api.post(f"{base}/statuses", {"status_id": str(hidden.pk)}).status_code == 404
    assert api.get(f"{base}/statuses").json() == [status]
    assert api.get(base).json()["statuses"] == [status]
    one_status = f"/api/v2/filters/statuses/{status['id']}"
    assert api.get(one_status).json() == status
    assert api.delete(one_status).json() == {}
    assert not FilterStatus.objects.exists()
    assert api.get(one_status).status_code == 404


def test_another_accounts_filters_are_not_found(
    api: Api, token_for, publisher: Staff, function_account: Account
) -> None:
    entity = api.post(
        "/api/v2/filters",
        {"title": "Bruit", "context": ["home"], "keywords_attributes": [{"keyword": "x"}]},
    ).json()
    post = publish_post(publisher, function_account, Content("Public"))
    status = api.post(f"/api/v2/filters/{entity['id']}/statuses", {"status_id": post.pk}).json()
    keyword_id = entity["keywords"][0]["id"]
    other = Api(token_for(publisher, function_account))
    for path in (
        f"/api/v2/filters/{entity['id']}",
        f"/api/v2/filters/{entity['id']}/keywords",
        f"/api/v2/filters/{entity['id']}/statuses",
        f"/api/v2/filters/keywords/{keyword_id}",
        f"/api/v2/filters/statuses/{status['id']}",
        f"/api/v1/filters/{keyword_id}",
    ):
        assert other.get(path).status_code == 404, path
        assert other.delete(path).status_code in (404, 405), path
    assert send(
        other, "put", f"/api/v2/filters/{entity['id']}", {"title": "À moi"}
    ).status_code == (404)
    assert other.post(f"/api/v2/filters/{entity['id']}/keywords", {"keyword": "y"}).status_code == (
        404
    )
    # Keywords of another filter cannot be changed through one's own filter either.
    mine = other.post("/api/v2/filters", {"title": "Le mien", "context": ["home"]}).json()
    stolen = send(
        other,
        "put",
        f"/api/v2/filters/{mine['id']}",
        {"keywords_attributes": [{"id": keyword_id, "_destroy": True}]},
    )
    assert stolen.status_code == 404
    assert (
        other.get("/api/v2/filters").json() == [mine] and other.get("/api/v1/filters").json() == []
    )
    assert FilterKeyword.objects.filter(pk=int(keyword_id)).exists()


# --- applying filters ------------------------------------------------------------------


@pytest.fixture
def timeline(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> dict[str, Any]:
    """A home timeline of @ville: the mayor's statuses, a boost of one, and its own."""
    follow(account, function_account)
    posts = {
        "works": publish_post(publisher, function_account, Content("Travaux rue Denis-Papin")),
        "party": publish_post(publisher, function_account, Content("La fête de la musique")),
        "spoiler": publish_post(
            publisher,
            function_account,
            Content("Détails à lire", spoiler_text="Fermeture de la piscine"),
        ),
        "other": publish_post(publisher, function_account, Content("Travauxmania")),
        "own": publish_post(publisher, account, Content("Nos travaux avancent")),
    }
    boost = api.post(f"/api/v1/statuses/{posts['party'].pk}/reblog").json()
    return {"posts": posts, "boost": boost, "home": api.get("/api/v1/timelines/home").json()}


def test_filter_results_warn_and_hide(api: Api, account: Account, timeline) -> None:
    posts, home = timeline["posts"], timeline["home"]
    works = api.post(
        "/api/v2/filters",
        {
            "title": "Travaux",
            "context": ["home"],
            "keywords_attributes": [{"keyword": "TRAVAUX", "whole_word": True}],
        },
    ).json()
    party = api.post(
        "/api/v2/filters",
        {
            "title": "Fêtes",
            "context": ["home", "public"],
            "filter_action": "hide",
            "keywords_attributes": [{"keyword": "fête", "whole_word": False}],
        },
    ).json()
    pool = api.post(
        "/api/v2/filters",
        {"title": "Piscine", "context": ["home"], "keywords_attributes": [{"keyword": "piscine"}]},
    ).json()
    # Only in public: not applied to home.
    street = api.post(
        "/api/v2/filters",
        {"title": "Public", "context": ["public"], "keywords_attributes": [{"keyword": "rue"}]},
    ).json()
    before = [dict(status) for status in home]
    result = filter_results(account, home)
    by_id = {status["id"]: status for status in result}
    # Hidden: the party post and the boost of it.
    assert str(posts["party"].pk) not in by_id and timeline["boost"]["id"] not in by_id
    warned = by_id[str(posts["works"].pk)]["filtered"]
    assert warned == [{"filter": works, "keyword_matches": ["TRAVAUX"], "status_matches": None}]
    FilterResult.model_validate(warned[0])
    schemas.Status.model_validate(by_id[str(posts["works"].pk)])
    # Spoiler text is searched; whole words only ("Travauxmania" is not "travaux").
    assert by_id[str(posts["spoiler"].pk)]["filtered"][0]["filter"] == pool
    assert by_id[str(posts["other"].pk)]["filtered"] == []
    # The account's own statuses are never filtered.
    assert by_id[str(posts["own"].pk)]["filtered"] == []
    # The entities given are left as they were.
    assert home == before
    # In public, the party and street filters apply, the works filter does not.
    public = {s["id"]: s for s in filter_results(account, home, context="public")}
    assert set(public) == {s["id"] for s in home} - {
        str(posts["party"].pk),
        timeline["boost"]["id"],
    }
    assert public[str(posts["works"].pk)]["filtered"] == [
        {"filter": street, "keyword_matches": ["rue"], "status_matches": None}
    ]
    assert public[str(posts["spoiler"].pk)]["filtered"] == []
    assert party["filter_action"] == "hide" and filter_results(account, []) == []


def test_filter_results_by_status_and_on_boosts(
    api: Api, account: Account, function_account: Account, timeline
) -> None:
    posts, home = timeline["posts"], timeline["home"]
    entity = api.post("/api/v2/filters", {"title": "Ce message", "context": ["home"]}).json()
    api.post(f"/api/v2/filters/{entity['id']}/statuses", {"status_id": str(posts["party"].pk)})
    result = {status["id"]: status for status in filter_results(account, home)}
    fresh = api.get(f"/api/v2/filters/{entity['id']}").json()
    expected = [
        {"filter": fresh, "keyword_matches": None, "status_matches": [str(posts["party"].pk)]}
    ]
    assert result[str(posts["party"].pk)]["filtered"] == expected
    # A boost carries the results of the status it boosts, outside and inside.
    boost = result[timeline["boost"]["id"]]
    assert boost["filtered"] == expected and boost["reblog"]["filtered"] == expected
    assert result[str(posts["works"].pk)]["filtered"] == []
    # Expired filters do not apply; without active filters, the list comes back as is.
    Filter.objects.update(expires_at=timezone.now() - datetime.timedelta(minutes=1))
    assert filter_results(account, home) is home


def test_the_list_timeline_applies_home_filters(
    api: Api, account: Account, function_account: Account, timeline
) -> None:
    posts = timeline["posts"]
    entity = api.post("/api/v1/lists", {"title": "Élus"}).json()
    api.post(f"/api/v1/lists/{entity['id']}/accounts", {"account_ids": [function_account.pk]})
    api.post(
        "/api/v2/filters",
        {
            "title": "Fêtes",
            "context": ["home"],
            "filter_action": "hide",
            "keywords_attributes": [{"keyword": "fête"}],
        },
    )
    warn = api.post(
        "/api/v2/filters",
        {"title": "Travaux", "context": ["home"], "keywords_attributes": [{"keyword": "rue"}]},
    ).json()
    shown = {s["id"]: s for s in api.get(f"/api/v1/timelines/list/{entity['id']}").json()}
    assert str(posts["party"].pk) not in shown and str(posts["spoiler"].pk) in shown
    assert shown[str(posts["works"].pk)]["filtered"][0]["filter"] == warn


def test_filter_results_reads_the_filters_in_three_queries(
    api: Api, account: Account, timeline, django_assert_num_queries
) -> None:
    for n in range(3):
        api.post(
            "/api/v2/filters",
            {"title": f"F{n}", "context": ["home"], "keywords_attributes": [{"keyword": f"k{n}"}]},
        )
    # The filters, their keywords, their statuses: one query each, whatever their number.
    with django_assert_num_queries(3):
        filter_results(account, timeline["home"])


def add_filters(api: Api, context: str) -> dict[str, Any]:
    """A ``hide`` filter of "fête" and a ``warn`` filter of "travaux" in ``context``;
    the entity of the warn one."""
    api.post(
        "/api/v2/filters",
        {
            "title": "Fêtes",
            "context": [context],
            "filter_action": "hide",
            "keywords_attributes": [{"keyword": "fête"}],
        },
    )
    return api.post(
        "/api/v2/filters",
        {"title": "Travaux", "context": [context], "keywords_attributes": [{"keyword": "travaux"}]},
    ).json()


def assert_filtered(
    statuses: list[dict[str, Any]], hidden: Post, warned: Post, warn: dict[str, Any]
) -> None:
    """``hidden`` is left out, ``warned`` carries the warn filter's result."""
    by_id = {status["id"]: status for status in statuses}
    assert str(hidden.pk) not in by_id
    assert by_id[str(warned.pk)]["filtered"] == [
        {"filter": warn, "keyword_matches": ["travaux"], "status_matches": None}
    ]


def test_home_applies_home_filters(api: Api, timeline) -> None:
    posts = timeline["posts"]
    add_filters(api, "public")
    # Filters of another context leave home alone.
    assert len(api.get("/api/v1/timelines/home").json()) == len(timeline["home"])
    warn = add_filters(api, "home")
    home = api.get("/api/v1/timelines/home").json()
    assert_filtered(home, posts["party"], posts["works"], warn)
    assert timeline["boost"]["id"] not in {status["id"] for status in home}


def test_public_and_tag_timelines_apply_public_filters(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    party = publish_post(publisher, function_account, Content("La fête à #Blois"))
    works = publish_post(publisher, function_account, Content("Travaux à #Blois"))
    warn = add_filters(api, "public")
    assert_filtered(api.get("/api/v1/timelines/public").json(), party, works, warn)
    assert_filtered(api.get("/api/v1/timelines/tag/blois").json(), party, works, warn)
    # An anonymous reader has no filters.
    anonymous = {status["id"] for status in Api().get("/api/v1/timelines/public").json()}
    assert {str(party.pk), str(works.pk)} <= anonymous


def test_account_statuses_apply_account_filters(
    api: Api, function_account: Account, timeline
) -> None:
    posts = timeline["posts"]
    warn = add_filters(api, "account")
    path = f"/api/v1/accounts/{function_account.pk}/statuses"
    assert_filtered(api.get(path).json(), posts["party"], posts["works"], warn)
    assert_filtered(
        api.get(path, {"exclude_reblogs": "true"}).json(), posts["party"], posts["works"], warn
    )


def test_a_thread_applies_thread_filters(
    api: Api, publisher: Staff, function_account: Account
) -> None:
    root = publish_post(publisher, function_account, Content("Conseil municipal"))
    party = publish_post(publisher, function_account, Content("La fête", in_reply_to=root))
    works = publish_post(publisher, function_account, Content("Les travaux", in_reply_to=root))
    late = publish_post(publisher, function_account, Content("Après la fête", in_reply_to=party))
    answer = publish_post(publisher, function_account, Content("Suite", in_reply_to=works))
    warn = add_filters(api, "thread")
    below = api.get(f"/api/v1/statuses/{root.pk}/context").json()["descendants"]
    assert_filtered(below, party, works, warn)
    assert str(answer.pk) in {status["id"] for status in below}
    above = api.get(f"/api/v1/statuses/{answer.pk}/context").json()["ancestors"]
    assert [status["id"] for status in above] == [str(root.pk), str(works.pk)]
    assert_filtered(above, party, works, warn)
    hidden_parent = api.get(f"/api/v1/statuses/{late.pk}/context").json()["ancestors"]
    assert [status["id"] for status in hidden_parent] == [str(root.pk)]


def test_notifications_apply_notifications_filters(
    api: Api, publisher: Staff, account: Account, function_account: Account
) -> None:
    party = publish_post(publisher, function_account, Content("La fête, @ville ?"))
    works = publish_post(publisher, function_account, Content("Les travaux, @ville ?"))
    for post in (party, works):
        interactions.notify(account, Notification.Kind.MENTION, function_account, post)
    interactions.record_follow(function_account, account, "", approved=True)
    warn = add_filters(api, "notifications")
    listed = api.get("/api/v1/notifications").json()
    # The follow, which has no status, stays; the mention of the party is left out.
    assert [n["type"] for n in listed] == ["follow", "mention"]
    assert_filtered([n["status"] for n in listed if n["status"]], party, works, warn)
    grouped = api.get("/api/v2/notifications").json()
    assert [g["status_id"] for g in grouped["notification_groups"]] == [None, str(works.pk)]
    assert_filtered(grouped["statuses"], party, works, warn)
