"""Public pages: what anyone sees without an account, and how caches may keep it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from parvis.identity.models import Account, AccountKind, Domain, Institution, InstitutionKind, Staff
from parvis.identity.services import create_account
from parvis.publishing import services
from parvis.publishing.models import Visibility
from parvis.publishing.services import Content


@pytest.fixture
def client_on(domain: Domain) -> Client:
    return Client(HTTP_HOST=domain.name)


@pytest.fixture(autouse=True)
def _hosts(settings) -> None:
    settings.ALLOWED_HOSTS = ["*"]


def test_profile_lists_public_and_unlisted_posts_newest_first(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    services.publish_post(publisher, account, Content(text="premier"))
    services.publish_post(
        publisher, account, Content(text="non listé", visibility=Visibility.UNLISTED)
    )
    services.publish_post(
        publisher, account, Content(text="abonnés", visibility=Visibility.FOLLOWERS)
    )
    html = client_on.get("/@ville").content.decode()
    assert html.index("non listé") < html.index("premier")
    assert "abonnés</p>" not in html
    assert client_on.get("/@ville@social.blois.fr").status_code == 200


def test_profile_pagination_by_max_id(
    client_on: Client, publisher: Staff, account: Account, settings
) -> None:
    settings.PARVIS_PAGE_SIZE = 2
    posts = [
        services.publish_post(publisher, account, Content(text=f"message {i}")) for i in range(3)
    ]
    first = client_on.get("/@ville").content.decode()
    assert f"max_id={posts[1].id}" in first and "message 0" not in first
    second = client_on.get(f"/@ville?max_id={posts[1].id}").content.decode()
    assert "message 0" in second and "message 2" not in second


@pytest.mark.parametrize("value", ["abc", "-1", "9" * 30, "1e9"])
def test_malformed_max_id_is_a_400(client_on: Client, account: Account, value: str) -> None:
    assert client_on.get(f"/@ville?max_id={value}").status_code == 400


def test_home_shows_only_public_posts(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    services.publish_post(publisher, account, Content(text="publique"))
    services.publish_post(
        publisher, account, Content(text="discret", visibility=Visibility.UNLISTED)
    )
    html = client_on.get("/").content.decode()
    assert "publique" in html and "discret" not in html


def test_permalink_shows_edit_history_and_mandate(
    client_on: Client, publisher: Staff, function_account: Account, mayor
) -> None:
    post = services.publish_post(publisher, function_account, Content(text="Version 1"))
    services.edit_post(publisher, post, Content(text="Version 2"))
    response = client_on.get(f"/@maire/{post.id}")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Version 2" in html and "Version 1" in html and "version originale" in html
    assert "Marc GRICOURT" in html and "Maire" in html
    assert "com" not in html.split("<main")[1].split("</main>")[0].split()  # publisher hidden


def test_deleted_post_is_a_410_tombstone(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    post = services.publish_post(publisher, account, Content(text="oups"))
    services.delete_post(publisher, post)
    response = client_on.get(f"/@ville/{post.id}")
    assert response.status_code == 410
    assert "supprimé" in response.content.decode() and "oups" not in response.content.decode()


def test_followers_only_post_and_unknown_account_are_404(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    post = services.publish_post(
        publisher, account, Content(text="x", visibility=Visibility.FOLLOWERS)
    )
    assert client_on.get(f"/@ville/{post.id}").status_code == 404
    assert client_on.get("/@personne").status_code == 404
    assert client_on.get("/@ville@ailleurs.example").status_code == 404


def test_profile_answers_conditional_requests_with_304(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    services.publish_post(publisher, account, Content(text="x"))
    response = client_on.get("/@ville")
    etag, modified = response["ETag"], response["Last-Modified"]
    assert "public" in response["Cache-Control"] and "max-age" in response["Cache-Control"]
    not_modified = client_on.get("/@ville", HTTP_IF_NONE_MATCH=etag)
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert not_modified["ETag"] == etag
    assert client_on.get("/@ville", HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    # A new post changes the page: the old validator no longer matches.
    account.last_change_at = timezone.now() + timedelta(seconds=2)
    Account.objects.filter(pk=account.pk).update(last_change_at=account.last_change_at)
    assert client_on.get("/@ville", HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_each_language_has_its_own_validator(client_on: Client, account: Account) -> None:
    french = client_on.get("/@ville")
    english = client_on.get("/en/@ville")
    assert english.status_code == 200 and 'lang="en"' in english.content.decode()
    assert french["ETag"] != english["ETag"]
    assert "Vary" not in french or "Accept-Language" not in french["Vary"]


def test_home_and_permalink_304(client_on: Client, publisher: Staff, account: Account) -> None:
    post = services.publish_post(publisher, account, Content(text="x"))
    for path in ("/", f"/@ville/{post.id}", "/directory/", "/@ville.rss", "/@ville.atom"):
        etag = client_on.get(path)["ETag"]
        assert client_on.get(path, HTTP_IF_NONE_MATCH=etag).status_code == 304, path


@pytest.fixture
def directory_accounts(domain: Domain) -> None:
    an = Domain.objects.create(name="social.assemblee-nationale.fr")
    assembly = Institution.objects.create(
        kind=InstitutionKind.NATIONAL_ASSEMBLY, name="Assemblée nationale"
    )
    dep = Institution.objects.create(
        kind=InstitutionKind.DEPARTEMENT,
        name="Loir-et-Cher",
        departement_code="41",
        insee_code="41",
    )
    blois = Institution.objects.create(
        kind=InstitutionKind.COMMUNE,
        name="Blois",
        insee_code="41018",
        departement_code="41",
        parent=dep,
    )
    vendome = Institution.objects.create(
        kind=InstitutionKind.COMMUNE,
        name="Vendôme",
        insee_code="41269",
        departement_code="41",
        parent=dep,
    )
    create_account(
        domain=an,
        handle="helene.lefevre",
        kind=AccountKind.PERSON,
        display_name="Hélène Lefèvre",
        institution=assembly,
    )
    create_account(
        domain=domain,
        handle="ville",
        kind=AccountKind.INSTITUTION,
        display_name="Ville de Blois",
        institution=blois,
    )
    create_account(
        domain=domain,
        handle="vendome",
        kind=AccountKind.INSTITUTION,
        display_name="Ville de Vendôme",
        institution=vendome,
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=helene+lefevre", {"Hélène Lefèvre"}),
        ("q=HÉLÈNE", {"Hélène Lefèvre"}),
        ("q=vendome", {"Ville de Vendôme"}),
        ("kind=commune", {"Ville de Blois", "Ville de Vendôme"}),
        ("kind=national_assembly", {"Hélène Lefèvre"}),
        ("departement=41", {"Ville de Blois", "Ville de Vendôme"}),
        ("commune=41018", {"Ville de Blois"}),
        ("commune=Vendôme", {"Ville de Vendôme"}),
        ("q=personne", set()),
    ],
)
def test_directory_filters_and_accent_insensitive_search(
    directory_accounts: None, query: str, expected: set[str]
) -> None:
    html = Client().get(f"/directory/?{query}").content.decode()
    names = {"Hélène Lefèvre", "Ville de Blois", "Ville de Vendôme"}
    assert {n for n in names if f"<strong>{n}</strong>" in html} == expected


def test_directory_rejects_unknown_kind(directory_accounts: None) -> None:
    assert Client().get("/directory/?kind=pirates").status_code == 400


def test_feeds_of_an_account_and_of_a_directory_filter(
    directory_accounts: None, make_staff
) -> None:
    ville = Account.objects.get(handle="ville")
    admin = make_staff("admin")
    admin.is_superuser = True
    admin.save()
    services.publish_post(admin, ville, Content(text="Marché #Blois"))
    atom = Client(HTTP_HOST="social.blois.fr").get("/@ville.atom")
    assert atom["Content-Type"].startswith("application/atom+xml")
    assert "Marché" in atom.content.decode()
    rss = Client().get("/directory/feed.rss?kind=commune")
    assert rss["Content-Type"].startswith("application/rss+xml")
    assert "Marché" in rss.content.decode()
    assembly_feed = Client().get("/directory/feed.rss?kind=national_assembly")
    assert "Marché" not in assembly_feed.content.decode()


def test_suspended_account_pages_and_feeds_are_gone(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    post = services.publish_post(publisher, account, Content(text="x"))
    Account.objects.filter(pk=account.pk).update(suspended_at=timezone.now())
    assert client_on.get("/@ville").status_code == 410
    assert client_on.get(f"/@ville/{post.id}").status_code == 404
    assert client_on.get("/@ville.rss").status_code == 404
    assert "x</p>" not in client_on.get("/").content.decode()


def test_public_pages_do_not_depend_on_the_session(
    client_on: Client, publisher: Staff, account: Account
) -> None:
    services.publish_post(publisher, account, Content(text="x"))
    anonymous = client_on.get("/@ville")
    client_on.force_login(publisher)
    logged_in = client_on.get("/@ville")
    assert "Cookie" not in anonymous.get("Vary", "")
    assert anonymous.content == logged_in.content


def test_health_is_trivial() -> None:
    assert Client().get("/health").json() == {"status": "ok"}
