"""Remote peers for the federation benchmarks: actors, their activities, a loopback sink.

``inbox.py`` and ``drain.py`` play many remote servers at once. Every remote
actor lives on one small HTTP server on 127.0.0.1 (the *sink*): it serves the
actor documents, in case Parvis fetches them, and answers 202 to deliveries
(the Accept that a Follow makes Parvis send). It counts both, so that a
benchmark can prove that no fetch happened while it measured.

Activities are shaped like Mastodon's (ids on the actor's origin, a Like's id
as ``actor#likes/n``…) so that the bodies stored, parsed and handled have the
sizes of real traffic.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from _common import HOST, BenchmarkError

AS_PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
AS_CONTEXT = "https://www.w3.org/ns/activitystreams"
ACTOR_CONTEXT = [AS_CONTEXT, "https://w3id.org/security/v1"]
KINDS = ("Like", "Announce", "Create", "Follow", "Undo")
# What an institution's server receives most: favourites, then boosts, then
# replies; follows and unfollows are fewer. Overridden with --mix.
DEFAULT_MIX = "Like=45,Announce=20,Create=15,Follow=12,Undo=8"


def parse_mix(text: str) -> dict[str, float]:
    """``Like=45,Follow=12`` → shares summing to 1, in the order of KINDS."""
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _sep, value = part.strip().partition("=")
        if name not in KINDS:
            raise BenchmarkError(f"unknown activity kind {name!r} in --mix (known: {KINDS})")
        try:
            weights[name] = float(value)
        except ValueError as error:
            raise BenchmarkError(f"--mix: {part!r} is not KIND=WEIGHT") from error
    total = sum(weights.values())
    if total <= 0 or any(weight < 0 for weight in weights.values()):
        raise BenchmarkError("--mix needs positive weights")
    return {kind: weights[kind] / total for kind in KINDS if weights.get(kind)}


def mix_label(mix: Mapping[str, float]) -> str:
    """``Like 45%, Follow 12%``: the mix as the reports print it."""
    return ", ".join(f"{kind} {share:.0%}" for kind, share in mix.items())


def counts_for(mix: Mapping[str, float], total: int) -> dict[str, int]:
    """How many activities of each kind make ``total`` (largest remainders)."""
    exact = {kind: share * total for kind, share in mix.items()}
    counts = {kind: int(value) for kind, value in exact.items()}
    short = total - sum(counts.values())
    for kind in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[:short]:
        counts[kind] += 1
    return counts


# --- keys ---------------------------------------------------------------------


def _new_key_pem(_index: int) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def key_pool(size: int) -> list[str]:
    """``size`` RSA-2048 private keys (PEM), made on every core.

    Actors share the keys of a small pool: thousands of distinct keys would
    take minutes to make and change nothing measured (Parvis parses the cached
    PEM of the signer on every request whichever key it is).
    """
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return list(pool.map(_new_key_pem, range(size)))


# --- actors -------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    uri: str
    key_id: str
    key_index: int

    @property
    def origin(self) -> str:
        return self.uri.split("/users/", 1)[0]


def make_actors(origin: str, count: int, keys: int) -> list[Actor]:
    """``count`` actors ``origin/users/peerN``, keys assigned round-robin from the pool."""
    return [
        Actor(f"{origin}/users/peer{n}", f"{origin}/users/peer{n}#main-key", n % keys)
        for n in range(count)
    ]


def actor_document(actor: Actor, public_pem: str) -> dict[str, Any]:
    """The actor as its server publishes it (Mastodon's shape, trimmed)."""
    name = actor.uri.rsplit("/", 1)[1]
    return {
        "@context": ACTOR_CONTEXT,
        "id": actor.uri,
        "type": "Person",
        "preferredUsername": name,
        "name": f"Pair {name[4:]}",
        "url": f"{actor.origin}/@{name}",
        "inbox": f"{actor.uri}/inbox",
        "outbox": f"{actor.uri}/outbox",
        "followers": f"{actor.uri}/followers",
        "endpoints": {"sharedInbox": f"{actor.origin}/inbox"},
        "publicKey": {"id": actor.key_id, "owner": actor.uri, "publicKeyPem": public_pem},
    }


def public_pems(private_pems: Sequence[str]) -> list[str]:
    """The public halves of the pool's keys, as actor documents publish them."""
    from cryptography.hazmat.primitives import serialization

    public = []
    for pem in private_pems:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
        public.append(
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
    return public


# --- activities -----------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """The local objects activities point at: actor URIs and public post URIs."""

    accounts: list[str]
    posts: list[str]


def local_targets() -> Targets:
    """The hosted accounts and public hosted posts of the install (Django set up)."""
    from parvis.federation import ids
    from parvis.identity.models import Account
    from parvis.publishing.models import Post

    accounts = [
        ids.actor_uri(a) for a in Account.objects.local().select_related("domain").order_by("id")
    ]
    posts = [
        ids.note_uri(p)
        for p in Post.objects.public().select_related("account__domain").order_by("id")
    ]
    if not accounts or not posts:
        raise BenchmarkError("the demo has no accounts or no posts to aim activities at")
    return Targets(accounts, posts)


def _now() -> str:
    """The current time as ActivityPub's ``published`` writes it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def like(actor: Actor, n: int, post: str) -> dict[str, Any]:
    """A favourite of ``post``, with Mastodon's ``actor#likes/n`` id."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor.uri}#likes/{n}",
        "type": "Like",
        "actor": actor.uri,
        "object": post,
    }


def announce(actor: Actor, n: int, post: str, author: str) -> dict[str, Any]:
    """A boost of ``post`` (by ``author``), public, copied to the actor's followers."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor.uri}/statuses/{n}/activity",
        "type": "Announce",
        "actor": actor.uri,
        "published": _now(),
        "to": [AS_PUBLIC],
        "cc": [author, f"{actor.uri}/followers"],
        "object": post,
    }


def reply(actor: Actor, n: int, post: str, author: str) -> dict[str, Any]:
    """A public Create of a Note replying to ``post`` and mentioning its ``author``."""
    handle = author.rsplit("/@", 1)[1]
    note_id = f"{actor.uri}/statuses/{n}"
    published = _now()
    return {
        "@context": [AS_CONTEXT, {"sensitive": "as:sensitive", "Hashtag": "as:Hashtag"}],
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor.uri,
        "published": published,
        "to": [AS_PUBLIC],
        "cc": [f"{actor.uri}/followers", author],
        "object": {
            "id": note_id,
            "type": "Note",
            "summary": None,
            "inReplyTo": post,
            "published": published,
            "url": f"{actor.origin}/@{actor.uri.rsplit('/', 1)[1]}/{n}",
            "attributedTo": actor.uri,
            "to": [AS_PUBLIC],
            "cc": [f"{actor.uri}/followers", author],
            "sensitive": False,
            "content": (
                f'<p><span class="h-card"><a href="{author}" class="u-url mention">'
                f"@<span>{handle}</span></a></span> Merci pour l'information ! Est-ce que "
                "la collecte passe aussi rue du Bourg-Neuf cette semaine ? "
                f'<a href="{actor.origin}/tags/Blois" class="mention hashtag" rel="tag">'
                "#<span>Blois</span></a></p>"
            ),
            "contentMap": {"fr": "Merci pour l'information !"},
            "attachment": [],
            "tag": [
                {"type": "Mention", "href": author, "name": f"@{handle}"},
                {"type": "Hashtag", "href": f"{actor.origin}/tags/blois", "name": "#Blois"},
            ],
            "replies": {
                "id": f"{note_id}/replies",
                "type": "Collection",
                "first": {
                    "type": "CollectionPage",
                    "next": f"{note_id}/replies?only_other_accounts=true&page=true",
                    "partOf": f"{note_id}/replies",
                    "items": [],
                },
            },
        },
    }


def follow(actor: Actor, n: int, target: str) -> dict[str, Any]:
    """A Follow of the local account ``target``."""
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor.uri}#follows/{n}",
        "type": "Follow",
        "actor": actor.uri,
        "object": target,
    }


def undo_follow(actor: Actor, n: int, target: str) -> dict[str, Any]:
    """The Undo of ``follow(actor, n, target)``."""
    followed = follow(actor, n, target)
    del followed["@context"]
    return {
        "@context": AS_CONTEXT,
        "id": f"{actor.uri}#follows/{n}/undo",
        "type": "Undo",
        "actor": actor.uri,
        "object": followed,
    }


@dataclass
class Stream:
    """A reproducible sequence of distinct activities following a mix.

    When the activities will be processed (``consistent``), Follows go from an
    actor to an account it does not follow yet, and Undos end the follows
    listed in ``existing_follows`` (made before the stream starts, so every
    Undo finds its Follow whatever order the workers take them in). When they
    are only stored (inbox.py), actors and accounts are drawn at random.
    """

    actors: list[Actor]
    targets: Targets
    mix: Mapping[str, float]
    seed: int = 1
    consistent: bool = True
    # (actor index, account index, follow number) of the follows the Undos end.
    existing_follows: list[tuple[int, int, int]] = field(default_factory=list)
    _rng: random.Random = field(init=False)
    _serial: int = field(init=False, default=0)
    _free_pairs: Iterator[tuple[int, int]] = field(init=False)
    _undos: Iterator[tuple[int, int, int]] = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        taken = {(a, t) for a, t, _n in self.existing_follows}
        self._free_pairs = (
            (a, t)
            for t in range(len(self.targets.accounts))
            for a in range(len(self.actors))
            if (a, t) not in taken
        )
        self._undos = iter(self.existing_follows)

    def kinds(self, total: int) -> list[str]:
        """``total`` kinds in the proportions of the mix, shuffled reproducibly."""
        kinds = [kind for kind, n in counts_for(self.mix, total).items() for _ in range(n)]
        self._rng.shuffle(kinds)
        return kinds

    def take(self, total: int) -> list[dict[str, Any]]:
        """``total`` new activities in the proportions of the mix."""
        return [self.activity(kind) for kind in self.kinds(total)]

    def _pair(self) -> tuple[int, int]:
        if not self.consistent:
            return self._rng.randrange(len(self.actors)), self._rng.randrange(
                len(self.targets.accounts)
            )
        pair = next(self._free_pairs, None)
        if pair is None:
            raise BenchmarkError("more Follows than (actor, account) pairs: raise --actors")
        return pair

    def _undone(self) -> tuple[int, int, int]:
        if not self.consistent:
            return (*self._pair(), 10**9 + self._serial)
        existing = next(self._undos, None)
        if existing is None:
            raise BenchmarkError("more Undos than existing follows were prepared")
        return existing

    def activity(self, kind: str) -> dict[str, Any]:
        """One new activity of ``kind`` (ids never repeat within a stream)."""
        self._serial += 1
        n = self._serial
        rng = self._rng
        if kind == "Follow":
            actor_index, account_index = self._pair()
            return follow(self.actors[actor_index], n, self.targets.accounts[account_index])
        if kind == "Undo":
            actor_index, account_index, number = self._undone()
            return undo_follow(
                self.actors[actor_index], number, self.targets.accounts[account_index]
            )
        actor = self.actors[rng.randrange(len(self.actors))]
        post = self.targets.posts[rng.randrange(len(self.targets.posts))]
        author = post.rsplit("/", 1)[0]
        if kind == "Like":
            return like(actor, n, post)
        if kind == "Announce":
            return announce(actor, n, post, author)
        if kind == "Create":
            return reply(actor, n, post, author)
        raise BenchmarkError(f"no builder for {kind}")


# --- the loopback sink -------------------------------------------------------------


@dataclass
class Sink:
    """Counters of what the remote servers were asked."""

    port: int = 0
    documents: dict[str, bytes] = field(default_factory=dict)
    gets: Counter[str] = field(default_factory=Counter)
    posts: int = 0
    # Deliveries received, by activity type.
    posted: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def origin(self) -> str:
        return f"http://{HOST}:{self.port}"

    def serve(self, path: str, document: Mapping[str, Any]) -> None:
        self.documents[path] = json.dumps(document).encode()

    @property
    def fetches(self) -> int:
        with self.lock:
            return sum(self.gets.values())


@contextmanager
def running_sink() -> Iterator[Sink]:
    """Start the sink on a free loopback port, in a thread of this process."""
    sink = Sink()

    class Handler(BaseHTTPRequestHandler):
        # Keep-alive would let one client connection pin one handler thread;
        # Parvis's guarded client opens a connection per request anyway.
        protocol_version = "HTTP/1.0"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            try:
                kind = str(json.loads(body).get("type"))
            except (ValueError, AttributeError):
                kind = "(not a JSON object)"
            with sink.lock:
                sink.posts += 1
                sink.posted[kind] += 1
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:
            with sink.lock:
                sink.gets[self.path] += 1
            body = sink.documents.get(self.path.split("?", 1)[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/activity+json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            """Silent: a line per request would bury the benchmark's own report."""

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    sink.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, name="sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
