"""Every public page is well-formed HTML and meets the basic accessibility rules.

The pages are parsed with html5lib in strict mode (the WHATWG parsing
algorithm: any parse error fails), then checked for one ``<h1>``, a language,
a title, a skip link to the content, text alternatives on images and a label
for every form control. The Atom and RSS feeds are parsed as XML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from xml.etree.ElementTree import Element

import html5lib
import pytest
from django.test import Client
from html5lib.html5parser import ParseError

from parvis.identity.models import Account, Staff
from parvis.identity.services import RemoteProfile, record_remote_account
from parvis.interactions import services as interactions
from parvis.publishing.models import Post
from parvis.publishing.received import ReceivedContent, record_received_post
from parvis.publishing.services import Content, delete_post, edit_post, publish_post, upload_media
from tests.conftest import image_bytes

ATOM = "{http://www.w3.org/2005/Atom}"
FORM_CONTROLS = ("input", "select", "textarea")
UNLABELLED_INPUT_TYPES = {"hidden", "submit", "button", "reset", "image"}


@dataclass
class Site:
    """The posts the pages show."""

    account: Account
    tagged: Post
    illustrated: Post
    edited: Post
    deleted: Post

    def permalink(self, post: Post) -> str:
        return f"/@{self.account.handle}/{post.id}"


@pytest.fixture
def site(publisher: Staff, account: Account) -> Site:
    tagged = publish_post(
        publisher,
        account,
        Content(text="Conseil municipal ce soir à 18 h #ConseilMunicipal https://www.blois.fr"),
    )
    media = upload_media(
        publisher,
        account,
        image_bytes(),
        filename="pont.jpg",
        description="Le pont Jacques-Gabriel au coucher du soleil",
    )
    illustrated = publish_post(
        publisher, account, Content(text="Le pont ce soir."), media_ids=[media.id]
    )
    edited = publish_post(publisher, account, Content(text="Marché le samedi à 7 h"))
    edited = edit_post(publisher, edited, Content(text="Marché le samedi à 8 h"))
    publish_post(
        publisher,
        account,
        Content(text="Travaux rue Denis-Papin", spoiler_text="Circulation"),
    )
    deleted = delete_post(publisher, publish_post(publisher, account, Content(text="Erreur")))
    return Site(account, tagged, illustrated, edited, deleted)


def _parser(*, strict: bool) -> html5lib.HTMLParser:
    return html5lib.HTMLParser(
        tree=html5lib.getTreeBuilder("etree"), strict=strict, namespaceHTMLElements=False
    )


def parse_html(html: str, url: str) -> Element:
    """The document tree of ``html``; any parse error fails the test with its position."""
    try:
        return _parser(strict=True).parse(html)
    except ParseError:
        # Strict mode stops at the first error: parse again leniently to list them all.
        lenient = _parser(strict=False)
        lenient.parse(html)
        lines = html.splitlines()
        problems = []
        for (line, column), code, data in lenient.errors:
            source = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            problems.append(f"  line {line}, column {column}: {code} {data or ''}\n    {source}")
        pytest.fail(f"{url} is not valid HTML:\n" + "\n".join(problems))


def text_of(element: Element) -> str:
    return "".join(element.itertext()).strip()


def accessibility_problems(tree: Element) -> Iterator[str]:
    """What the page misses among the rules every page must follow."""
    if not tree.get("lang"):
        yield "<html> has no lang attribute"
    titles = tree.findall("./head/title")
    if len(titles) != 1 or not text_of(titles[0]):
        yield f"expected one non-empty <title>, found {len(titles)}"
    headings = tree.findall(".//h1")
    if len(headings) != 1:
        yield f"expected exactly one <h1>, found {len(headings)}: {[text_of(h) for h in headings]}"
    if not any(a.get("href") == "#contenu" for a in tree.iter("a")):
        yield "no skip link to #contenu"
    if tree.find(".//main[@id='contenu']") is None:
        yield "no <main id='contenu'> for the skip link to reach"
    for img in tree.iter("img"):
        if img.get("alt") is None:
            yield f"<img src={img.get('src')!r}> has no alt attribute"
    labelled = {label.get("for") for label in tree.iter("label") if label.get("for")}
    for tag in FORM_CONTROLS:
        for control in tree.iter(tag):
            if tag == "input" and control.get("type", "text") in UNLABELLED_INPUT_TYPES:
                continue
            name = control.get("name")
            if not control.get("id"):
                yield f"<{tag} name={name!r}> has no id for a label to point to"
            elif control.get("id") not in labelled:
                yield f"<{tag} id={control.get('id')!r}> has no <label for> pointing to it"
    ids = [element.get("id") for element in tree.iter() if element.get("id")]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        yield f"duplicate ids: {duplicates}"


def check_page(client: Client, url: str, status: int = 200) -> Element:
    response = client.get(url)
    assert response.status_code == status, f"{url}: HTTP {response.status_code}"
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    tree = parse_html(response.content.decode(), url)
    problems = list(accessibility_problems(tree))
    assert not problems, f"{url}:\n  " + "\n  ".join(problems)
    return tree


def current_nav(tree: Element) -> list[str | None]:
    """The main-menu links marked as the current page."""
    nav = tree.find(".//nav[@id='navigation']")
    return [a.get("href") for a in nav.iter("a") if a.get("aria-current") == "page"]


def test_home_page(client: Client, site: Site) -> None:
    tree = check_page(client, "/")
    assert current_nav(tree) == ["/"]
    links = {a.get("href") for a in tree.iter("a")}
    assert site.permalink(site.tagged) in links
    assert site.permalink(site.deleted) not in links


def test_profile_page(client: Client, site: Site) -> None:
    tree = check_page(client, "/@ville")
    assert tree.get("lang") == "fr"
    assert current_nav(tree) == []
    assert text_of(tree.find(".//h1")) == "Ville de Blois"
    assert "Ville de Blois" in text_of(tree.find("./head/title"))
    articles = tree.findall(".//article")
    assert len(articles) == 4
    images = list(tree.find(".//main").iter("img"))
    assert [img.get("alt") for img in images] == ["Le pont Jacques-Gabriel au coucher du soleil"]
    assert tree.find(".//details/summary") is not None


def test_english_profile_page(client: Client, site: Site) -> None:
    tree = check_page(client, "/en/@ville")
    assert tree.get("lang") == "en"
    assert any(a.get("href") == f"/en{site.permalink(site.tagged)}" for a in tree.iter("a"))


def test_permalink_with_edit_history(client: Client, site: Site) -> None:
    tree = check_page(client, site.permalink(site.edited))
    history = tree.find(".//ol[@class='parvis-history']")
    assert history is not None
    versions = [text_of(item) for item in history.findall("li")]
    assert len(versions) == 2
    assert "8 h" in versions[0]
    assert "7 h" in versions[1]


def test_permalink_with_image(client: Client, site: Site) -> None:
    tree = check_page(client, site.permalink(site.illustrated))
    (img,) = tree.find(".//main").iter("img")
    assert img.get("alt") == "Le pont Jacques-Gabriel au coucher du soleil"


def test_tombstone(client: Client, site: Site) -> None:
    tree = check_page(client, site.permalink(site.deleted), status=410)
    assert "Erreur" not in text_of(tree.find(".//main"))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["Maire de Blois", "Ville de Blois"]),
        ("?q=blois", ["Maire de Blois", "Ville de Blois"]),
        ("?q=maire&kind=commune&departement=41&commune=41018", ["Maire de Blois"]),
        ("?kind=region", []),
    ],
)
def test_directory(client: Client, site: Site, query: str, expected: list[str]) -> None:
    tree = check_page(client, f"/directory/{query}")
    assert current_nav(tree) == ["/directory/"]
    listing = tree.find(".//ul[@class='parvis-directory']")
    names = [text_of(strong) for strong in listing.iter("strong")]
    assert names == expected
    if not expected:
        assert text_of(listing) == "Aucun compte ne correspond."
    kind = tree.find(".//select[@id='kind']/option[@selected]")
    assert (kind.get("value") if kind is not None else "") in query


def test_tag_page(client: Client, site: Site) -> None:
    tree = check_page(client, "/tags/conseilmunicipal")
    assert text_of(tree.find(".//h1")) == "#conseilmunicipal"
    links = {a.get("href") for a in tree.iter("a")}
    assert site.permalink(site.tagged) in links
    assert site.permalink(site.edited) not in links


def test_backoffice_login_page(client: Client, db: None) -> None:
    tree = check_page(client, "/backoffice/login/")
    assert tree.find(".//input[@id='id_password']").get("type") == "password"


def test_backoffice_login_error_page(client: Client, db: None) -> None:
    response = client.post("/backoffice/login/", {"username": "x", "password": "y"})
    assert response.status_code == 400
    tree = parse_html(response.content.decode(), "/backoffice/login/ (POST)")
    assert not list(accessibility_problems(tree))
    assert tree.find(".//div[@role='alert']") is not None


def fetch_xml(client: Client, url: str, content_type: str) -> Element:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: HTTP {response.status_code}"
    assert response["Content-Type"].startswith(content_type), response["Content-Type"]
    try:
        return ET.fromstring(response.content)  # noqa: S314 (our own output)
    except ET.ParseError as error:
        pytest.fail(f"{url} is not well-formed XML: {error}")


def live_posts(site: Site) -> list[Post]:
    return list(site.account.posts.filter(deleted_at__isnull=True).order_by("-id"))


def post_url(site: Site, post: Post) -> str:
    return f"https://{site.account.domain.name}{site.permalink(post)}"


def test_atom_feed(client: Client, site: Site) -> None:
    feed = fetch_xml(client, "/@ville.atom", "application/atom+xml")
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "Ville de Blois (@ville@social.blois.fr)"
    entries = feed.findall(f"{ATOM}entry")
    posts = live_posts(site)
    assert len(entries) == len(posts) == 4
    for entry, post in zip(entries, posts, strict=True):
        assert entry.findtext(f"{ATOM}title") == (post.spoiler_text or post.text[:80])
        assert entry.find(f"{ATOM}link").get("href") == post_url(site, post)
        assert entry.findtext(f"{ATOM}id") == post_url(site, post)
    illustrated = entries[posts.index(site.illustrated)]
    assert 'alt="Le pont Jacques-Gabriel' in illustrated.findtext(f"{ATOM}summary")
    tagged = entries[posts.index(site.tagged)]
    assert [c.get("term") for c in tagged.findall(f"{ATOM}category")] == ["conseilmunicipal"]


def test_rss_feed(client: Client, site: Site) -> None:
    rss = fetch_xml(client, "/@ville.rss", "application/rss+xml")
    assert rss.tag == "rss"
    assert rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.findtext("title") == "Ville de Blois (@ville@social.blois.fr)"
    assert channel.findtext("link") == "https://social.blois.fr/@ville"
    items = channel.findall("item")
    posts = live_posts(site)
    assert len(items) == len(posts) == 4
    for item, post in zip(items, posts, strict=True):
        assert item.findtext("title") == (post.spoiler_text or post.text[:80])
        assert item.findtext("link") == post_url(site, post)
        assert item.findtext("guid") == post_url(site, post)
    edited = items[posts.index(site.edited)]
    assert "8 h" in edited.findtext("description")


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_directory_feeds(client: Client, site: Site, fmt: str) -> None:
    content_type = f"application/{fmt}+xml"
    root = fetch_xml(client, f"/directory/feed.{fmt}?kind=commune&departement=41", content_type)
    if fmt == "atom":
        titles = [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")]
    else:
        titles = [item.findtext("title") for item in root.findall("channel/item")]
    assert titles == [post.spoiler_text or post.text[:80] for post in live_posts(site)]
    empty = fetch_xml(client, f"/directory/feed.{fmt}?q=personne", content_type)
    assert not empty.findall(f"{ATOM}entry") and not empty.findall("channel/item")


def _received_reply(site: Site, content: str) -> Post:
    stranger = record_remote_account(
        RemoteProfile(
            uri="https://mastodon.example/users/lea",
            handle="lea",
            host="mastodon.example",
            display_name="Léa",
        )
    )
    reply = record_received_post(
        stranger,
        ReceivedContent(
            uri="https://mastodon.example/users/lea/statuses/1",
            url="https://mastodon.example/@lea/1",
            content_html=content,
            text="Merci",
            language="fr",
            in_reply_to=site.tagged,
        ),
    )
    interactions.notify_post(reply)
    return reply


def test_permalink_shows_replies_from_other_servers(client: Client, site: Site) -> None:
    _received_reply(site, "<p>Merci pour l'information</p>")
    tree = check_page(client, site.permalink(site.tagged))
    replies = tree.find(".//ol[@class='parvis-replies']")
    (first,) = replies.findall("li")
    assert text_of(first).startswith("Léa @lea@mastodon.example")
    assert "Merci pour l'information" in text_of(replies)
    interactions.record_block(site.account, Account.objects.get(handle="lea"))
    assert client.get(site.permalink(site.tagged)).content.decode().count("parvis-replies") == 0


def test_backoffice_notifications_page(client: Client, site: Site, publisher: Staff) -> None:
    _received_reply(site, "<p>Bravo</p>")
    assert client.login(username=publisher.username, password="s3cret-pass")
    tree = check_page(client, "/backoffice/")
    assert "1 notification non lue" in text_of(tree.find(".//main"))
    url = f"/backoffice/accounts/{site.account.id}/notifications/"
    tree = check_page(client, url)
    items = tree.find(".//ol[@class='parvis-notifications']").findall("li")
    assert len(items) == 1 and "Bravo" in text_of(items[0]) and "non lue" in text_of(items[0])
    assert client.post(url, {"action": "read"}).status_code == 302
    assert "non lue" not in text_of(check_page(client, url).find(".//ol"))
