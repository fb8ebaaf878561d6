"""The public pages in a real Chromium: styles load, the keyboard reaches everything.

Chromium is the Debian package (``apt-get install chromium``); a missing binary
fails these tests, it never skips them. Playwright's sync API drives it from the
test thread while pytest-django's live server answers from another thread.

The data is written before Playwright starts: its sync API runs an event loop in
the test thread, where Django refuses ORM calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import Page, Response, sync_playwright

from parvis.identity.models import Account, Staff
from parvis.publishing.models import Post
from parvis.publishing.services import Content, edit_post, publish_post, upload_media
from tests.conftest import image_bytes

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
ALT = "Le pont Jacques-Gabriel au coucher du soleil"


@dataclass
class Site:
    account: Account
    posts: list[Post]  # newest first, as the profile lists them
    edited: Post
    base_url: str

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def permalink(self, post: Post) -> str:
        return f"/@{self.account.handle}/{post.id}"


@pytest.fixture
def site(
    live_server,
    settings,
    publisher: Staff,
    account: Account,
) -> Site:
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
    # The live server answers on 127.0.0.1/localhost, not on the hosted domain.
    settings.PARVIS_DEFAULT_DOMAIN = account.domain.name

    tagged = publish_post(
        publisher, account, Content(text="Conseil municipal ce soir à 18 h #ConseilMunicipal")
    )
    media = upload_media(publisher, account, image_bytes(), filename="pont.jpg", description=ALT)
    illustrated = publish_post(
        publisher, account, Content(text="Le pont ce soir."), media_ids=[media.id]
    )
    edited = publish_post(publisher, account, Content(text="Marché le samedi à 7 h"))
    edited = edit_post(publisher, edited, Content(text="Marché le samedi à 8 h"))
    return Site(account, [edited, illustrated, tagged], edited, live_server.url)


@pytest.fixture
def page(site: Site) -> Iterator[Page]:
    """A fresh headless Chromium tab; Playwright gives it a new temporary profile."""
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"{CHROMIUM} is missing: install the Debian package with "
            "`apt-get update && apt-get install -y chromium` (never `playwright install`)."
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            tab = context.new_page()
            tab.set_default_timeout(15_000)
            yield tab
        finally:
            browser.close()


def visit(page: Page, url: str, status: int = 200) -> list[str]:
    """Open ``url`` and return the sub-resources that failed to load."""
    failures: list[str] = []

    def record(response: Response) -> None:
        if response.status >= 400 and response.url != url:
            failures.append(f"{response.status} {response.url}")

    page.on("response", record)
    page.on("requestfailed", lambda request: failures.append(f"failed {request.url}"))
    response = page.goto(url, wait_until="load")
    assert response is not None, url
    assert response.status == status, f"{url}: HTTP {response.status}"
    return failures


def check_structure(page: Page, lang: str) -> None:
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("h1").count() == 1, page.locator("h1").all_inner_texts()
    missing_alt = page.eval_on_selector_all(
        "img", "images => images.filter(i => !i.hasAttribute('alt')).map(i => i.src)"
    )
    assert missing_alt == [], f"images without alt: {missing_alt}"
    # The DSFR stylesheet is loaded and applied (the skip link is hidden until focused).
    dsfr_rules = page.evaluate(
        """() => [...document.styleSheets]
            .filter(s => s.href && s.href.includes('/static/dsfr/'))
            .map(s => s.cssRules.length)"""
    )
    assert dsfr_rules and all(count > 0 for count in dsfr_rules), dsfr_rules


def focused(page: Page) -> dict[str, str | None]:
    return page.evaluate(
        """() => { const e = document.activeElement;
            return {tag: e.tagName.toLowerCase(), id: e.id || null,
                    href: e.getAttribute('href'), text: e.innerText.trim()}; }"""
    )


def test_profile_page_in_a_browser(page: Page, site: Site) -> None:
    failures = visit(page, site.url("/@ville"))
    assert "Ville de Blois" in page.title(), page.title()
    check_structure(page, "fr")
    assert failures == [], f"resources that did not load: {failures}"

    # Keyboard: the first Tab lands on the skip link, which leads into the content.
    page.keyboard.press("Tab")
    first = focused(page)
    assert (first["href"], first["text"]) == ("#contenu", "Contenu"), first
    assert page.locator(".fr-skiplinks a[href='#contenu']").is_visible()
    page.keyboard.press("Enter")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'contenu'")
    assert focused(page)["tag"] == "main"

    # From the content, Tab reaches every post's permalink.
    wanted = {site.permalink(post) for post in site.posts}
    reached: list[str | None] = []
    for _press in range(60):
        page.keyboard.press("Tab")
        reached.append(focused(page)["href"])
        if wanted <= set(reached):
            break
    assert wanted <= set(reached), f"permalinks not reached by Tab: {wanted - set(reached)}"

    # The attached image is shown, with its text alternative.
    image = page.locator("main img")
    assert image.count() == 1
    assert image.get_attribute("alt") == ALT
    image.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const i = document.querySelector('main img');"
        " return i.complete && i.naturalWidth > 0; }"
    )

    page.evaluate("() => { document.activeElement.blur(); window.scrollTo(0, 0); }")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "profile.png", full_page=True)
    assert (SCREENSHOTS / "profile.png").stat().st_size > 10_000


def test_permalink_in_a_browser(page: Page, site: Site) -> None:
    failures = visit(page, site.url(site.permalink(site.edited)))
    assert failures == [], f"resources that did not load: {failures}"
    check_structure(page, "fr")
    assert "Marché le samedi à 8 h" in page.title(), page.title()
    history = page.locator("ol.parvis-history > li")
    assert history.count() == 2
    assert "7 h" in history.nth(1).inner_text()


def test_directory_in_a_browser(page: Page, site: Site) -> None:
    failures = visit(page, site.url("/directory/"))
    assert failures == [], f"resources that did not load: {failures}"
    check_structure(page, "fr")
    # The filter form works from the keyboard: its labels name the fields.
    page.get_by_label("Nom ou identifiant").fill("maire")
    page.get_by_label("Type d\N{RIGHT SINGLE QUOTATION MARK}institution").select_option("commune")
    page.get_by_label("Nom ou identifiant").press("Enter")
    page.wait_for_url("**/directory/?q=maire*")
    names = page.locator(".parvis-directory strong").all_inner_texts()
    assert names == ["Maire de Blois"]
    page.get_by_role("link", name="Maire de Blois").click()
    page.wait_for_url(site.url("/@maire"))


def test_english_profile_in_a_browser(page: Page, site: Site) -> None:
    failures = visit(page, site.url("/en/@ville"))
    assert failures == [], f"resources that did not load: {failures}"
    check_structure(page, "en")
    assert "Ville de Blois" in page.title()
    links = page.eval_on_selector_all("main a", "links => links.map(a => a.getAttribute('href'))")
    assert f"/en{site.permalink(site.edited)}" in links
    # The language switch, named in its own language, leads back to the French page.
    switch = page.locator("a[hreflang='fr']")
    assert (switch.get_attribute("lang"), switch.inner_text().strip()) == ("fr", "Français")
    switch.click()
    page.wait_for_url(site.url("/@ville"))
    assert page.locator("html").get_attribute("lang") == "fr"
