"""Two real Parvis servers federating with each other on loopback.

Server A hosts ``@prefecture@127.0.0.1``, server B ``@ville@127.0.0.2``: two
``parvis serve`` processes (granian, embedded worker), each with its own SQLite
file, data directory, secret key and settings, on two loopback addresses used as
their domain names (``*.localhost`` names do not resolve everywhere; addresses
do). Every step is asserted on the *other* server's database or public documents:

1. B follows A by address with ``parvis follow`` (WebFinger with a port, then the
   actor): Follow, Accept, and the follow accepted on both sides;
2. A publishes: the post arrives on B;
3. B replies: A stores the reply under its post and notifies its team;
4. B likes and boosts the post: A records both and notifies;
5. A edits the post: B's copy changes and keeps the earlier version;
6. A deletes it: B's copy is erased;
7. A blocks B: B's follow of A ends on B's side too;
8. forged deliveries to A's inbox (a wrong key; B's real key claiming A's actor)
   are refused with 401 and change nothing.

Each wait is bounded (20 s); the whole test takes well under a minute.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from parvis.federation import signatures
from tests.interop import harness
from tests.interop.harness import Server

AP = "application/activity+json"
WAIT = 20.0


@dataclass
class Peer:
    """One of the two servers, as the test sees it."""

    name: str
    server: Server
    domain: str  # its hosted domain: the loopback address it listens on
    port: int
    handle: str

    @property
    def origin(self) -> str:
        return f"http://{self.domain}:{self.port}"

    @property
    def actor(self) -> str:
        return f"{self.origin}/@{self.handle}"

    @property
    def address(self) -> str:
        return f"{self.handle}@{self.domain}:{self.port}"

    def json(self, code: str) -> Any:
        return self.server.console.json(code)

    def run(self, code: str) -> str:
        return self.server.console.run(code)


def _settings(domain: str, port: int) -> dict[str, str]:
    return {
        "PARVIS_SECRET_KEY": secrets.token_urlsafe(32),
        "PARVIS_ALLOWED_HOSTS": domain,
        "PARVIS_DEFAULT_DOMAIN": domain,
        "PARVIS_URL_SCHEME": "http",
        "PARVIS_URL_PORT": str(port),
        # The other server is on loopback: let the guarded client reach it.
        "PARVIS_HTTP_ALLOW_PRIVATE": "127.0.0.0/8",
    }


def _setup(handle: str, domain: str, name: str) -> str:
    """Console code creating the hosted account and a superuser, and helpers for later."""
    return (
        "import json\n"
        "from parvis.federation import ids\n"
        "from parvis.identity.models import Account, Staff\n"
        "from parvis.identity.services import create_account, get_or_create_domain\n"
        "from parvis.interactions import services as interactions\n"
        "from parvis.interactions.models import Block, Follow, Notification, Reaction\n"
        "from parvis.publishing import services as publishing\n"
        "from parvis.publishing.models import Post\n"
        f"create_account(domain=get_or_create_domain({domain!r}), handle={handle!r},"
        f" kind='institution', display_name={name!r})\n"
        "Staff.objects.create_superuser('root', 'root@example.invalid', 's3cret-pass')\n"
        f"def me(): return Account.objects.local().get(handle={handle!r})\n"
        "def staff(): return Staff.objects.get(username='root')\n"
        "def remote(uri): return Account.objects.remote().get(uri=uri)\n"
    )


def _free_port(address: str) -> int:
    try:
        return harness.free_port(address)
    except OSError as error:
        pytest.fail(
            f"Cannot listen on {address} ({error}). Linux routes all of 127.0.0.0/8 to the "
            f"loopback interface; elsewhere add the address (macOS: ifconfig lo0 alias {address})."
        )


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[Peer, Peer]]:
    """A and B, running, each with its account; stopped on the way out."""
    a_port, b_port = _free_port("127.0.0.1"), _free_port("127.0.0.2")
    a_env = harness.environment(tmp_path / "a", **_settings("127.0.0.1", a_port))
    b_env = harness.environment(tmp_path / "b", **_settings("127.0.0.2", b_port))
    (tmp_path / "a").mkdir()
    harness.migrate(a_env)
    harness.copy_database(tmp_path / "a", tmp_path / "b")
    with ExitStack() as stack:

        def start(name: str, env: dict[str, str], domain: str, port: int, handle: str) -> Peer:
            server = harness.serving(env, tmp_path / name.lower(), domain, port)
            return Peer(name, stack.enter_context(server), domain, port, handle)

        def stop_both() -> None:
            # Unwound before the servers' own exits: both stop at once, then each is awaited.
            for peer in (a, b):
                peer.server.process.terminate()

        # Both start at once: each start-up spends seconds collecting static files.
        a = start("A", a_env, "127.0.0.1", a_port, "prefecture")
        b = start("B", b_env, "127.0.0.2", b_port, "ville")
        stack.callback(stop_both)
        a.run(_setup(a.handle, a.domain, "Préfecture de Loopback"))
        b.run(_setup(b.handle, b.domain, "Ville de Loopback"))
        a.server.wait_until_up()
        b.server.wait_until_up()
        yield a, b


def test_two_parvis_servers_federate(servers: tuple[Peer, Peer]) -> None:
    a, b = servers

    def report() -> str:
        return "\n".join(
            f"--- {peer.name}\n{peer.server.federation_state()}\n{harness.tail(peer.server.log)}"
            for peer in (a, b)
        )

    def wait(what: str, peer: Peer, code: str) -> Any:
        """Poll ``code`` (printing JSON) on ``peer`` until it prints something truthy."""
        return harness.poll(what, lambda: peer.json(code), WAIT, report)

    # 1. B follows A by its address, port included, from the command line.
    done = harness.run(b.server.env, "follow", f"{b.handle}@{b.domain}", a.address, timeout=60)
    assert done.returncode == 0, done.stderr
    assert a.actor in done.stdout and "pending" in done.stdout
    wait(
        "B's follow accepted on B",
        b,
        f"print(json.dumps(Follow.objects.filter(follower=me(), target__uri={a.actor!r},"
        " state='accepted').exists()))",
    )
    assert a.json(
        "print(json.dumps(list(Follow.objects.filter(target=me())"
        ".values_list('follower__uri', 'state'))))"
    ) == [[b.actor, "accepted"]]
    # The public collections say the same.
    for url, count in ((f"{a.actor}/followers", 1), (f"{b.actor}/following", 1)):
        status, body = harness.request(url, headers={"Accept": AP})
        assert status == 200 and json.loads(body)["totalItems"] == count, (url, body)

    # 2. A publishes; the post reaches its follower B.
    note = a.json(
        "post = publishing.publish_post(staff(), me(),"
        " publishing.Content(text='Vigilance orange : orages cet après-midi.'))\n"
        "print(json.dumps(ids.note_uri(post)))"
    )
    assert note.startswith(f"{a.actor}/")
    received = wait(
        "A's post on B",
        b,
        f"post = Post.objects.filter(uri={note!r}).first()\n"
        "print(json.dumps(post and {'text': post.text, 'author': post.account.uri,"
        " 'visibility': post.visibility}))",
    )
    assert received == {
        "text": "Vigilance orange : orages cet après-midi.",
        "author": a.actor,
        "visibility": "public",
    }

    # 3. B replies; A keeps the reply under its post and tells its team.
    reply = b.json(
        f"parent = Post.objects.get(uri={note!r})\n"
        "post = publishing.publish_post(staff(), me(), publishing.Content("
        "text='Merci, nous fermons les parcs.', in_reply_to=parent))\n"
        "print(json.dumps(ids.note_uri(post)))"
    )
    stored = wait(
        "B's reply on A",
        a,
        f"post = Post.objects.filter(uri={reply!r}).first()\n"
        "print(json.dumps(post and {'parent': ids.note_uri(post.in_reply_to),"
        " 'text': post.text, 'notified': list(Notification.objects.filter(post=post,"
        " recipient=me()).values_list('kind', 'from_account__uri'))}))",
    )
    assert stored == {
        "parent": note,
        "text": "Merci, nous fermons les parcs.",
        "notified": [["mention", b.actor]],
    }

    # 4. B likes and boosts the post: Like and Announce reach A.
    b.run(
        f"parent = Post.objects.get(uri={note!r})\n"
        "interactions.react(me(), parent, Reaction.Kind.FAVOURITE)\n"
        "interactions.react(me(), parent, Reaction.Kind.BOOST)\n"
    )
    reactions = wait(
        "B's like and boost on A",
        a,
        "rows = Reaction.objects.filter(post__account=me()).order_by('kind')\n"
        "print(json.dumps(len(rows) == 2 and [(r.kind, r.account.uri) for r in rows]))",
    )
    assert reactions == [["boost", b.actor], ["favourite", b.actor]]
    assert a.json(
        "print(json.dumps(sorted(Notification.objects.filter(recipient=me(),"
        " kind__in=['favourite', 'reblog']).values_list('kind', flat=True))))"
    ) == ["favourite", "reblog"]

    # 5. A edits the post; B's copy changes and keeps the earlier version.
    a.run(
        f"post = Post.objects.get(pk={note.rsplit('/', 1)[1]})\n"
        "publishing.edit_post(staff(), post,"
        " publishing.Content(text='Vigilance rouge : orages violents cet après-midi.'))\n"
    )
    versions = wait(
        "A's edit on B",
        b,
        f"post = Post.objects.get(uri={note!r})\n"
        "print(json.dumps(post.edited_at is not None and"
        " list(post.edits.values_list('text', flat=True))))",
    )
    assert versions == [
        "Vigilance orange : orages cet après-midi.",
        "Vigilance rouge : orages violents cet après-midi.",
    ]

    # 6. A deletes it; B's copy is erased.
    a.run(f"publishing.delete_post(staff(), Post.objects.get(pk={note.rsplit('/', 1)[1]}))\n")
    erased = wait(
        "A's deletion on B",
        b,
        f"post = Post.objects.get(uri={note!r})\n"
        "print(json.dumps(post.deleted_at is not None and"
        " {'text': post.text, 'versions': post.edits.count()}))",
    )
    assert erased == {"text": "", "versions": 0}

    # 7. A blocks B: the follow ends on A at once, and on B when the Block arrives.
    a.run(f"interactions.record_block(me(), remote({b.actor!r}))\n")
    assert a.json("print(json.dumps(Follow.objects.filter(target=me()).count()))") == 0
    wait(
        "A's block on B",
        b,
        f"print(json.dumps(Block.objects.filter(account__uri={a.actor!r}, target=me()).exists()"
        " and not Follow.objects.filter(follower=me()).exists()))",
    )
    status, body = harness.request(f"{b.actor}/following", headers={"Accept": AP})
    assert status == 200 and json.loads(body)["totalItems"] == 0

    # 8. Forged deliveries to A's inbox are refused and change nothing.
    _forgeries_are_refused(a, b)


def _forgeries_are_refused(a: Peer, b: Peer) -> None:
    count = "print(json.dumps(InboundActivity.objects.count()))"
    a.run("from parvis.federation.models import InboundActivity\n")
    before = a.json(count)
    # B's real private key, read from B's database (a test may; a server never shows it).
    pem = b.json(
        "from cryptography.hazmat.primitives import serialization\n"
        "from parvis.federation.keys import keys_for, rsa_private_key\n"
        "key = rsa_private_key(keys_for(me()))\n"
        "print(json.dumps(key.private_bytes(serialization.Encoding.PEM,"
        " serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()))"
    )
    b_key = load_pem_private_key(pem.encode(), None)
    inbox = f"{a.origin}/inbox"

    def deliver(actor: str, key: object, suffix: str) -> tuple[int, bytes]:
        note = f"{actor}/forged-{suffix}"
        activity = {
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": f"{note}/activity",
            "type": "Create",
            "actor": actor,
            "object": {
                "id": note,
                "type": "Note",
                "attributedTo": actor,
                "content": "<p>Alerte levée, tout va bien.</p>",
                "to": ["https://www.w3.org/ns/activitystreams#Public"],
            },
        }
        body = json.dumps(activity).encode()
        headers = {"Content-Type": AP}
        headers.update(
            signatures.sign_cavage("POST", inbox, headers, body, f"{b.actor}#main-key", key)
        )
        return harness.request(inbox, "POST", headers=headers, body=body)

    # Signed with a key that is not B's, under B's key id.
    status, body = deliver(b.actor, signatures.generate_rsa_key(), "wrong-key")
    assert status == 401, body
    # Signed with B's real key, claiming to come from A's own account.
    status, body = deliver(a.actor, b_key, "wrong-actor")
    assert status == 401 and b.actor.encode() in body, body
    assert a.json(count) == before
    assert a.json("print(json.dumps(Post.objects.filter(uri__contains='/forged-').count()))") == 0
    # The control: the same delivery, signed by B as B, is taken (so the refusals above
    # are the signatures' doing, not the test's).
    status, body = deliver(b.actor, b_key, "control")
    assert status == 202, body
    assert a.json(count) == before + 1
