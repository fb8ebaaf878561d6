"""Client API benchmark: timelines and an account's statuses on a large data set.

One run builds, for each database (SQLite, and PostgreSQL when it can be had), a
throw-away install holding 1,000 hosted accounts and 100,000 public posts (with
replies, mentions, hashtags, images, favourites and boosts), one of the accounts
following 500 others, written straight into the database (not through the API). It
serves the install with ``parvis serve --workers 2 --no-worker`` on 127.0.0.1 and
measures with ``wrk --latency``, using that account's bearer token:

- ``GET /api/v1/timelines/home``,
- ``GET /api/v1/accounts/:id/statuses`` (the busiest account it follows),
- ``GET /api/v1/timelines/public``,

each next to ``GET /api/v1/instance`` of the same server (the framework's floor),
measured before and after them and averaged. Target: home timeline p50 ≤ 3× the
floor's p50.

Usage: ``.venv/bin/python benchmarks/api.py`` (see benchmarks/README.md). Rewrites
its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import (
    DEFAULT_DOMAIN,
    HOST,
    RESULTS,
    SBIN_PATH,
    BenchmarkError,
    Load,
    Measure,
    averaged,
    ensure_tools,
    fetch,
    free_port,
    install_env,
    machine_facts,
    parvis_command,
    quiet_step,
    running,
    sql_summary,
    tool_version,
    wait_until_up,
    write_section,
)

SECTION = "api"
TARGET = 3.0
FLOOR = "/api/v1/instance"
DATABASES = ("sqlite", "postgresql")
PAGE = 20  # Mastodon's default page: what the requests ask for (no limit parameter)


class PostgresUnavailable(BenchmarkError):
    """No PostgreSQL for this run: reported, and the other databases are still measured."""


# --- the data set (in a child process, with the install's environment) ---------------

TOWNS = [
    "Blois", "Vendôme", "Romorantin", "Mer", "Onzain", "Contres", "Montoire", "Salbris",
    "Chambord", "Cheverny", "Vineuil", "Chailles", "Montrichard", "Selles-sur-Cher", "Lamotte",
    "Suèvres", "Cour-Cheverny", "Bracieux", "Morée", "Droué", "Savigny", "Ouzouer", "Neung",
    "Herbault", "Marchenoir", "Oucques", "Saint-Aignan", "Mondoubleau", "Veuzain", "Mennetou",
    "Tours", "Orléans", "Amboise", "Chinon", "Loches", "Gien", "Pithiviers", "Châteaudun",
    "Dreux", "Chartres", "Bourges", "Vierzon", "Issoudun", "Châteauroux", "Le Blanc",
]  # fmt: skip
FIRST_NAMES = ["Camille", "Dominique", "Claude", "Sacha", "Morgan", "Alix", "Yannick", "Maxime"]
LAST_NAMES = ["Martin", "Bernard", "Petit", "Durand", "Leroy", "Moreau", "Simon", "Laurent"]
TEXTS = [
    "Collecte des encombrants jeudi {day} dans le quartier {district}. Inscription sur "
    "https://www.{slug}.fr/encombrants #{tag} #Déchets",
    "Le conseil municipal se réunit lundi {day} à 18 h 30, salle du conseil. L'ordre du jour "
    "et les délibérations sont en ligne : https://www.{slug}.fr/conseil/{n} #ConseilMunicipal",
    "Merci aux bénévoles du Secours populaire pour la collecte de ce week-end : {n} colis "
    "préparés pour les familles de {town} !",
    "Fermeture exceptionnelle de la médiathèque samedi {day} au matin pour inventaire. "
    "Réouverture à 14 h. #Culture #{tag}",
    "Vigilance crue : la Loire monte, les quais bas sont fermés jusqu'à nouvel ordre. Suivez "
    "les consignes de la préfecture sur https://vigicrues.gouv.fr #Vigilance #Loire",
    "Inscriptions scolaires pour la rentrée : dossier à déposer avant le {day} mai, en mairie "
    "ou sur https://www.{slug}.fr/ecoles #Éducation",
    "Travaux de voirie rue {street} du {day} au {day2} : circulation alternée, stationnement "
    "interdit. Merci de votre patience.\n\nPlan des déviations : https://www.{slug}.fr/travaux",
    "Marché de producteurs place {street} ce dimanche, de 8 h à 13 h : {n} exposants, "
    "animations pour les enfants. #{tag} #MarchéLocal",
    "Le budget participatif {year} est ouvert : proposez vos projets pour {town} jusqu'au "
    "{day} juin. Les {n} projets de l'an dernier : https://www.{slug}.fr/budget",
    "Alerte canicule : le plan est activé. Les personnes isolées peuvent s'inscrire au "
    "registre au 0 800 {n:03d} {day:02d}. Pensez à vos voisins. #Canicule",
    "Réunion publique sur le plan local d'urbanisme mercredi {day} à 19 h, salle des fêtes. "
    "Venez poser vos questions aux élus.",
    "Bravo aux {n} coureurs des foulées de {town} ! Résultats et photos sur "
    "https://www.{slug}.fr/sport #Sport #{tag}",
]
REPLIES = [
    "@{handle} Merci pour l'information, c'est noté.",
    "@{handle} Pouvez-vous préciser les horaires ? Plusieurs habitants se posent la question.",
    "@{handle} Nous relayons auprès des habitants de {town}.",
    "@{handle} La page indiquée ne s'ouvre pas chez moi, est-ce normal ?",
]
DISTRICTS = ["Vienne", "Centre", "Nord", "Gare", "Les Provinces", "Bas-Rivière", "Croix-Chevalier"]
STREETS = ["Denis-Papin", "du Commerce", "Porte-Côté", "de la République", "Jean-Jaurès"]


@dataclass
class Sizes:
    """The data set: the issue's figures by default (``--accounts``, ``--posts``…)."""

    accounts: int
    posts: int
    follows: int
    replies: float
    images: float
    favourites: float
    boosts: float
    seed: int


def _slug(name: str) -> str:
    from parvis.core.text import fold

    return "".join(c if c.isalnum() else "-" for c in fold(name)).strip("-")


def _account_specs(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Handles, names and kinds: mostly institutions, some function accounts, a few people."""
    specs = []
    for i in range(count):
        town = TOWNS[i % len(TOWNS)]
        kind = ("institution",) * 6 + ("function",) * 3 + ("person",)
        kind_of = kind[i % 10]
        if kind_of == "institution":
            name = f"Ville de {town}"
        elif kind_of == "function":
            name = f"Maire de {town}"
        else:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        specs.append(
            {
                "handle": f"{_slug(name)}-{i:04d}",
                "kind": kind_of,
                "display_name": name,
                "town": town,
                "bio": f"Compte officiel : {name}.\n\nActualités, démarches et alertes de {town}.",
            }
        )
    return specs


def prepare(config: dict[str, Any]) -> None:
    """Build the data set in the database of the install (runs in a child process)."""
    import django

    django.setup()
    import datetime

    from django.db import connection, transaction
    from django.utils import timezone
    from oauth2_provider.models import AccessToken

    from parvis.api.models import Application, TokenAccount
    from parvis.core import text
    from parvis.core.bulk import insert_rows
    from parvis.core.ids import time_id
    from parvis.core.urls import absolute
    from parvis.identity.models import Staff
    from parvis.identity.services import create_account, get_or_create_domain
    from parvis.interactions.models import Follow, Reaction
    from parvis.publishing.models import Hashtag, MediaAttachment, Post

    _check_defaults([Post, MediaAttachment, Follow, Reaction, Post.hashtags.through])
    sizes = Sizes(**config["sizes"])
    rng = random.Random(sizes.seed)
    began = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str) -> None:
        timings[name] = round(time.monotonic() - began - sum(timings.values()), 1)

    with transaction.atomic():
        domain = get_or_create_domain(DEFAULT_DOMAIN)
        specs = _account_specs(sizes.accounts, rng)
        accounts = [
            create_account(
                domain=domain,
                handle=spec["handle"],
                kind=spec["kind"],
                display_name=spec["display_name"],
                bio=spec["bio"],
            )
            for spec in specs
        ]
    ids = [account.pk for account in accounts]
    handle_of = {account.pk: account.handle for account in accounts}
    town_of = {account.pk: spec["town"] for account, spec in zip(accounts, specs, strict=True)}
    lap("accounts")

    # Who posts: some accounts much more than others (weight 1/sqrt(rank)), as with
    # real institutions; the reader is the first account.
    reader = ids[0]
    ranked = ids[:]
    rng.shuffle(ranked)
    weights = [1 / (rank + 1) ** 0.5 for rank in range(len(ranked))]
    authors = rng.choices(ranked, weights, k=sizes.posts)

    # Published over the last 100 days, oldest first; ids follow the times.
    now = timezone.now()
    start = now - timedelta(days=100)
    step = (now - timedelta(minutes=1) - start) / sizes.posts
    known = set(handle_of.values())

    def mention_url(handle: str, host: str | None) -> str | None:
        if handle in known and host in (None, DEFAULT_DOMAIN):
            return absolute(DEFAULT_DOMAIN, f"/@{handle}")
        return None

    def tag_url(name: str) -> str:
        return absolute(DEFAULT_DOMAIN, f"/tags/{name}")

    posts: list[tuple[Any, ...]] = []
    post_tags: list[tuple[str, int]] = []
    mentions: list[tuple[int, int]] = []
    media: list[tuple[Any, ...]] = []
    post_ids: list[int] = []
    replies = 0
    for index, author in enumerate(authors):
        at = start + step * index + timedelta(milliseconds=rng.randrange(0, 1000))
        post_id = time_id(at)
        town = town_of[author]
        parent = None
        if index > 100 and rng.random() < sizes.replies:
            # Replies come soon: to a post a few dozen posts back (about an hour at these
            # sizes), rarely further.
            parent_index = index - 1 - min(int(rng.expovariate(1 / 30)), index - 1)
            parent, parent_author = post_ids[parent_index], authors[parent_index]
            body = rng.choice(REPLIES).format(handle=handle_of[parent_author], town=town)
            if parent_author != author:
                mentions.append((post_id, parent_author))
            replies += 1
        else:
            day = rng.randrange(1, 28)
            body = rng.choice(TEXTS).format(
                day=day,
                day2=day + 1,
                n=rng.randrange(2, 400),
                town=town,
                slug=_slug(town),
                tag=_slug(town).replace("-", ""),
                district=rng.choice(DISTRICTS),
                street=rng.choice(STREETS),
                year=at.year,
            )
        rendered = text.render(body, tag_url=tag_url, mention_url=mention_url)
        spoiler = "Alerte météo" if "Vigilance" in body and rng.random() < 0.5 else ""
        posts.append((post_id, author, body, rendered.html, spoiler, "fr", parent, at))
        post_tags.extend((text.normalize_hashtag(name), post_id) for name in rendered.hashtags)
        if parent is None and rng.random() < sizes.images:
            stem = f"media/{at:%Y}/{at:%m}/{post_id}"
            media.append(
                (
                    time_id(at),
                    author,
                    post_id,
                    f"{stem}.jpg",
                    f"{stem}-thumb.jpg",
                    1600,
                    900,
                    "image/jpeg",
                    f"Affiche : {body[:60]}",
                    at,
                )
            )
        post_ids.append(post_id)
    lap("texts")

    with transaction.atomic():
        insert_rows(
            Post,
            [
                "id",
                "account",
                "text",
                "content_html",
                "spoiler_text",
                "language",
                "in_reply_to",
                "published_at",
            ],
            posts,
        )
        tags = {name: Hashtag.objects.get_or_create(name=name)[0].pk for name, _ in post_tags}
        tagging = Post.hashtags.through
        insert_rows(tagging, ["post", "hashtag"], [(p, tags[n]) for n, p in post_tags])
        insert_rows(Post.mentions.through, ["post", "account"], mentions)
        insert_rows(
            MediaAttachment,
            [
                "id",
                "account",
                "post",
                "file",
                "thumbnail",
                "width",
                "height",
                "content_type",
                "description",
                "position",
                "created_at",
            ],
            [(*row[:9], 0, row[9]) for row in media],
        )
        lap("posts")

        # The reader follows `follows` others; everyone else follows 0 to 60 accounts.
        followed = rng.sample(ids[1:], min(sizes.follows, len(ids) - 1))
        pairs = {(reader, target) for target in followed}
        for follower in ids[1:]:
            for target in rng.sample(ids, rng.randrange(0, min(61, len(ids)))):
                if target != follower:
                    pairs.add((follower, target))
        insert_rows(
            Follow,
            ["follower", "target", "state", "created_at"],
            [(a, b, Follow.State.ACCEPTED, start) for a, b in sorted(pairs)],
        )

        # Favourites and boosts: Poisson-like counts per post, more on recent posts, each
        # within two days of its post; the reader favourites one post in ten of the
        # accounts it follows.
        reacted: dict[tuple[str, int, int], Any] = {}
        followed_set = set(followed)
        for index, (post_id, author) in enumerate(zip(post_ids, authors, strict=True)):
            recent = 0.5 + index / len(post_ids)
            posted = posts[index][-1]
            for kind, mean in (("favourite", sizes.favourites), ("boost", sizes.boosts)):
                for _ in range(_poisson(rng, mean * recent)):
                    delay = rng.uniform(1, min(2 * 86400, (now - posted).total_seconds()))
                    reacted[(kind, rng.choice(ids), post_id)] = posted + timedelta(seconds=delay)
            if author in followed_set and rng.random() < 0.1:
                reacted[("favourite", reader, post_id)] = posted + timedelta(seconds=30)
        rows = [(*key, at) for key, at in sorted(reacted.items())]
        fields = ["kind", "account", "post", "created_at"]
        if _has_field(Reaction, "timeline_id"):
            # Boosts are timeline entries with time-sortable ids of their own time.
            fields.append("timeline_id")
            rows = [(*row, number) for row, number in zip(rows, _unique_ids(rows), strict=True)]
        insert_rows(Reaction, fields, rows)
        reactions = Counter(kind for kind, _account, _post in reacted)
        lap("follows and reactions")
        homes = _fill_homes(pairs, post_ids, authors)
        lap("home feeds")

        # The token, as a client would hold after the OAuth dance (see
        # tests/interop/test_openapi.py): a staff member's token acting as the reader.
        staff = Staff.objects.create_superuser("bench", "bench@example.invalid", None)
        app = Application.objects.create(
            name="benchmark",
            redirect_uris="https://app.example/cb",
            client_type="confidential",
            authorization_grant_type="authorization-code",
            scopes="read write follow push",
        )
        token = AccessToken(
            user=staff,
            application=app,
            scope="read write follow push",
            expires=timezone.now() + datetime.timedelta(days=1),
        )
        token.token = config["token"]
        token.save()
        TokenAccount.objects.create(token=token, account=accounts[0])

    if connection.vendor == "postgresql":
        # What autovacuum does shortly after a bulk load; SQLite installs are never
        # analysed by Parvis, so the SQLite database is left as loaded.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    lap("analyse" if connection.vendor == "postgresql" else "done")
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()" if connection.vendor == "postgresql" else "SELECT 1")
        server = cursor.fetchone()[0]
    if connection.vendor == "sqlite":
        import sqlite3

        server = f"SQLite {sqlite3.sqlite_version}"
    else:
        server = " ".join(str(server).split()[:2])

    per_author = Counter(authors)
    busiest = max(followed, key=lambda pk: per_author[pk])
    result = {
        "reader": reader,
        "followed": len(followed),
        "followed_ids": sorted(followed),
        "busiest": busiest,
        "busiest_posts": per_author[busiest],
        "busiest_handle": handle_of[busiest],
        "home_posts": sum(per_author[pk] for pk in [*followed, reader]),
        "accounts": len(ids),
        "posts": len(posts),
        "replies": replies,
        "mentions": len(mentions),
        "images": len(media),
        "tagged": len(post_tags),
        "hashtags": len(tags),
        "follows": len(pairs),
        "favourites": reactions["favourite"],
        "boosts": reactions["boost"],
        "reader_favourites": sum(1 for _k, a, _p in reacted if a == reader),
        "home_entries": homes,
        "max_posts": max(per_author.values()),
        "median_posts": sorted(per_author[pk] for pk in ids)[len(ids) // 2],
        "seconds": timings,
        "server": server,
    }
    print("RESULT " + json.dumps(result), flush=True)


def _fill_homes(
    pairs: set[tuple[int, int]], post_ids: Sequence[int], authors: Sequence[int]
) -> int:
    """Write every account's home feed as living through the data set would have: the
    follows came first, so each post and boost reached the author's (booster's) home and
    the homes of its followers. Returns the rows written (none before home feeds existed).
    """
    try:
        from parvis.interactions.models import HomeEntry
    except ImportError:
        return 0
    from parvis.core.bulk import insert_rows
    from parvis.interactions.models import Reaction

    followers: dict[int, list[int]] = {}
    for follower, target in pairs:
        followers.setdefault(target, []).append(follower)
    # Every account here is hosted, so each has a home, where its own posts are too.
    rows: list[tuple[int, int, int, int | None, int]] = []
    for post_id, author in zip(post_ids, authors, strict=True):
        for owner in (author, *followers.get(author, ())):
            rows.append((owner, post_id, post_id, None, author))
    boosts = Reaction.objects.filter(kind=Reaction.Kind.BOOST).values_list(
        "pk", "account", "post", "timeline_id"
    )
    for pk, booster, post_id, timeline_id in boosts.iterator():
        for owner in (booster, *followers.get(booster, ())):
            rows.append((owner, timeline_id, post_id, pk, booster))
    return insert_rows(
        HomeEntry,
        ["owner", "position", "post", "boost", "via"],
        rows,
        unique=["owner", "position"],
    )


def _unique_ids(rows: Sequence[tuple[Any, ...]]) -> list[int]:
    """time_id of each row's last value (its time), one more where two would collide."""
    from parvis.core.ids import time_id

    taken: set[int] = set()
    numbers = []
    for row in rows:
        number = time_id(row[-1])
        while number in taken:
            number += 1
        taken.add(number)
        numbers.append(number)
    return numbers


def _has_field(model: Any, name: str) -> bool:
    return any(f.name == name for f in model._meta.concrete_fields)


def _check_defaults(models: Sequence[Any]) -> None:
    """Stop if a model gained a unique field with a computed default: ``insert_rows`` would
    give every row the same value (the script must then give it, as for timeline_id)."""
    handled = {("interactions.Reaction", "timeline_id")}
    for model in models:
        for f in model._meta.concrete_fields:
            if (
                f.unique
                and not f.primary_key
                and callable(f.default)
                and (model._meta.label, f.name) not in handled
            ):
                raise BenchmarkError(
                    f"{model._meta.label}.{f.name} is unique with a computed default: "
                    "benchmarks/api.py must give it per row"
                )


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson-distributed count (Knuth's method; means here are small)."""
    limit, count, product = pow(2.718281828459045, -mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# --- where the time goes (in a child process, after the server stopped) ------------------


def breakdown(config: dict[str, Any]) -> None:
    """Each path through Django's test client: time, SQL statements and time in SQL."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    client = Client(HTTP_HOST=config["host"], HTTP_AUTHORIZATION=f"Bearer {config['token']}")
    statements: list[tuple[str, float]] = []

    def record(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((sql, time.perf_counter() - began))

    result = {}
    count = config["requests"]
    for name, path in config["paths"].items():
        for _ in range(5):
            client.get(path)
        statements.clear()
        began = time.perf_counter()
        with connection.execute_wrapper(record):
            for _ in range(count):
                status = client.get(path).status_code
        total = (time.perf_counter() - began) / count
        if status != 200:
            raise BenchmarkError(f"{path} answered {status} in the test client")
        costs: Counter[str] = Counter()
        for sql, seconds in statements:
            costs[sql_summary(sql)] += seconds
        # A cached answer (the instance's counts) may run no statement at all.
        slowest = max(statements, key=lambda item: item[1], default=("(no SQL)", 0.0))
        result[name] = {
            "ms": total * 1000,
            "statements": len(statements) / count,
            "sql_ms": sum(seconds for _sql, seconds in statements) / count * 1000,
            "costliest": [(sql, seconds / count * 1000) for sql, seconds in costs.most_common(4)],
            "slowest_sql": _shortened(slowest[0]),
            "slowest_ms": slowest[1] * 1000,
        }
    print("RESULT " + json.dumps(result), flush=True)


def _shortened(sql: str) -> str:
    """A statement without its column list, which says little and takes the room."""
    flat = " ".join(sql.split())
    head, found, rest = flat.partition(" FROM ")
    if found and head.upper().startswith("SELECT") and len(head) > 80:
        verb = "SELECT DISTINCT" if "DISTINCT" in head[:16] else "SELECT"
        flat = f"{verb} … FROM {rest}"
    return flat


# --- PostgreSQL ------------------------------------------------------------------------


@contextmanager
def throwaway_postgres(work: Path) -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 for this run only, as scripts/postgres.sh starts one.

    Raises :class:`PostgresUnavailable` with the reason when it cannot be started.
    """
    bins = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: [int(part) for part in path.parent.name.split(".") if part.isdigit()],
    )
    if not bins or not (bins[-1] / "initdb").exists():
        raise PostgresUnavailable(
            "no PostgreSQL server installed (apt-get install postgresql), and no --database-url"
        )
    if os.geteuid() != 0:
        raise PostgresUnavailable(
            "starting a throw-away server needs root (it runs as the postgres user): run as "
            "root or give --database-url"
        )
    if shutil.which("runuser", path=SBIN_PATH) is None:
        raise PostgresUnavailable("no runuser command to start the server as postgres")
    pg_bin = bins[-1]
    folder = work / "postgresql"
    folder.mkdir()
    shutil.chown(folder, "postgres")
    folder.parent.chmod(0o755)
    port = free_port()

    def as_postgres(*command: str) -> None:
        done = subprocess.run(
            [
                shutil.which("runuser", path=SBIN_PATH) or "runuser",
                "-u",
                "postgres",
                "--",
                *command,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise PostgresUnavailable(
                f"{Path(command[0]).name} failed: {(done.stdout + done.stderr).strip()[-800:]}"
            )

    data = folder / "data"
    as_postgres(
        str(pg_bin / "initdb"),
        "-D",
        str(data),
        "--auth=trust",
        "--username=postgres",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
    )
    options = (
        f"-c listen_addresses={HOST} -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    )
    try:
        as_postgres(
            str(pg_bin / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w", "start",
            "-o", options,
        )  # fmt: skip
        as_postgres(str(pg_bin / "createdb"), "-h", str(folder), "-p", str(port), "parvis_api")
        yield f"postgres://postgres@{HOST}:{port}/parvis_api"
    finally:
        runuser = shutil.which("runuser", path=SBIN_PATH) or "runuser"
        stop = [runuser, "-u", "postgres", "--", str(pg_bin / "pg_ctl"), "-D", str(data)]
        subprocess.run([*stop, "-m", "fast", "stop"], capture_output=True, timeout=60, check=False)


# --- one database ----------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    path: str
    measure: Measure

    def ms(self, percentile: float) -> float:
        return self.measure.latency.get(percentile, float("nan")) * 1000


@dataclass
class DatabaseRun:
    name: str
    label: str
    floor: Measure | None = None
    health: Measure | None = None
    figures: list[Figure] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    costs: dict[str, Any] = field(default_factory=dict)
    unavailable: str = ""

    def ratio(self, figure: Figure) -> float:
        floor = self.floor.latency.get(50.0) if self.floor else None
        return figure.ms(50.0) / (floor * 1000) if floor else float("nan")

    @property
    def home(self) -> Figure | None:
        return next((f for f in self.figures if f.name == "home"), None)

    @property
    def met(self) -> bool | None:
        return None if self.home is None else self.ratio(self.home) <= TARGET


def _statuses(port: int, path: str, headers: Mapping[str, str]) -> list[dict[str, Any]]:
    answer = fetch(port, path, headers)
    if answer.status != 200:
        raise BenchmarkError(f"GET {path} answered {answer.status}: {answer.body[:300]!r}")
    statuses = json.loads(answer.body)
    if not isinstance(statuses, list) or len(statuses) != PAGE:
        raise BenchmarkError(f"GET {path} gave {len(statuses)} statuses, expected {PAGE}")
    return statuses


def preflight(
    port: int, paths: Mapping[str, str], headers: Mapping[str, str], data: Mapping[str, Any]
) -> dict[str, Any]:
    """Every URL answers what it should before anything is measured."""
    floor = fetch(port, FLOOR, headers)
    if floor.status != 200:
        raise BenchmarkError(f"GET {FLOOR} answered {floor.status}")
    if fetch(port, paths["home"]).status != 401:
        raise BenchmarkError("the home timeline answered without a token")
    home = _statuses(port, paths["home"], headers)
    allowed = {str(pk) for pk in data["followed_ids"]} | {str(data["reader"])}
    strangers = [s["account"]["id"] for s in home if s["account"]["id"] not in allowed]
    if strangers:
        raise BenchmarkError(f"home timeline shows accounts not followed: {strangers}")
    own = _statuses(port, paths["account"], headers)
    if {s["account"]["id"] for s in own} != {str(data["busiest"])}:
        raise BenchmarkError("the account's statuses show other accounts")
    public = _statuses(port, paths["public"], headers)
    pages = home + own + public
    counted = {
        key: sum(1 for s in pages if s[key])
        for key in ("favourites_count", "reblogs_count", "replies_count", "favourited")
    }
    counted["media_attachments"] = sum(1 for s in pages if s["media_attachments"])
    counted["in_reply_to_id"] = sum(1 for s in pages if s["in_reply_to_id"])
    counted["reblog"] = sum(1 for s in pages if s.get("reblog"))
    if not counted["favourites_count"]:
        raise BenchmarkError(f"the pages show no favourites: {counted}")
    if not counted["replies_count"]:
        # Possible with small data sets (the newest posts have had no reply yet).
        print(f"note: no status of the first pages has replies: {counted}", flush=True)
    instance = json.loads(floor.body)
    return {
        "counted": counted,
        "statuses": len(pages),
        "instance_stats": instance.get("stats", {}),
    }


def _child(args: list[str], env: Mapping[str, str], timeout: float) -> dict[str, Any]:
    output = quiet_step([sys.executable, __file__, *args], env, timeout=timeout)
    lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
    if not lines:
        raise BenchmarkError(f"no result from {args[0]}:\n{output[-2000:]}")
    return json.loads(lines[-1][len("RESULT ") :])  # type: ignore[no-any-return]


def run_database(
    run: DatabaseRun, url: str | None, args: argparse.Namespace, load: Load, work: Path
) -> None:
    """Build the data set in a fresh install on ``url`` (SQLite when None) and measure."""
    port = free_port()
    folder = work / run.name
    env = install_env(folder / "data", port, **({"DATABASE_URL": url} if url else {}))
    print(f"[{run.name}] migrating a throw-away database…", flush=True)
    quiet_step(parvis_command("migrate", "--verbosity", "0"), env, timeout=900)
    sizes = Sizes(
        accounts=args.accounts,
        posts=args.posts,
        follows=args.follows,
        replies=args.replies,
        images=args.images,
        favourites=args.favourites,
        boosts=args.boosts,
        seed=args.seed,
    )
    token = secrets.token_urlsafe(32)
    print(
        f"[{run.name}] building {sizes.accounts:,} accounts, {sizes.posts:,} posts "
        f"(a reader following {sizes.follows})…",
        flush=True,
    )
    began = time.monotonic()
    config = {"sizes": sizes.__dict__, "token": token}
    run.data = _child(["--prepare", json.dumps(config)], env, timeout=7200)
    run.data["build_seconds"] = round(time.monotonic() - began)
    print(f"[{run.name}] built in {run.data['build_seconds']} s: {run.data['seconds']}", flush=True)
    paths = {
        "home": "/api/v1/timelines/home",
        "account": f"/api/v1/accounts/{run.data['busiest']}/statuses",
        "public": "/api/v1/timelines/public",
    }
    headers = {"Authorization": f"Bearer {token}"}
    serve = parvis_command(
        "serve", "--host", HOST, "--port", str(port), "--workers", str(args.workers), "--no-worker"
    )
    log = folder / "parvis.log"
    with running(serve, log, env) as server:
        wait_until_up(port, server, log, limit=90)
        run.checks = preflight(port, paths, headers, run.data)
        print(f"[{run.name}] measuring (wrk, {load.duration} s each)…", flush=True)
        floor_before = _report(
            run.name, "floor GET /api/v1/instance", load.measure(port, FLOOR, headers)
        )
        figures = []
        for name, label in (
            ("home", "GET /api/v1/timelines/home"),
            ("account", "GET /api/v1/accounts/:id/statuses"),
            ("public", "GET /api/v1/timelines/public"),
        ):
            measure = _report(run.name, label, load.measure(port, paths[name], headers))
            figures.append(Figure(name, label, measure))
        floor_after = _report(
            run.name, "floor GET /api/v1/instance", load.measure(port, FLOOR, headers)
        )
        if args.health:
            run.health = _report(run.name, "GET /health", load.measure(port, "/health"))
        run.floor = averaged(floor_before, floor_after)
        run.figures = figures
        bad = [f.path for f in figures if f.measure.bad_status or f.measure.socket_errors]
        if run.floor.bad_status or bad:
            print(f"[{run.name}] warning: refused requests or socket errors: {bad}", flush=True)
    if args.breakdown:
        print(f"[{run.name}] timing each path in one process (test client)…", flush=True)
        config = {
            "host": f"{HOST}:{port}",
            "token": token,
            "requests": args.breakdown,
            "paths": {"floor": FLOOR, **paths},
        }
        run.costs = _child(["--internal-breakdown", json.dumps(config)], env, timeout=1800)


def _report(database: str, name: str, measure: Measure) -> Measure:
    p50, p99 = (measure.latency.get(p, float("nan")) * 1000 for p in (50.0, 99.0))
    line = (
        f"  [{database}] {name:<36} {measure.rps:>9,.0f} req/s   p50 {p50:>7.2f} ms"
        f"   p99 {p99:>7.2f} ms"
    )
    if measure.bad_status:
        line += f"  ({measure.bad_status} non-2xx/3xx responses)"
    if measure.socket_errors:
        line += f"  (socket errors: {measure.socket_errors})"
    print(line, flush=True)
    return measure


# --- report ----------------------------------------------------------------------------

HEADER = [
    "Database",
    "Request",
    "req/s",
    "Requests",
    "p50 ms",
    "p99 ms",
    "p50 ÷ floor p50",
    "Target",
    "Met?",
    "Bytes/response",
    "Non-2xx/3xx",
]


def _bad(measure: Measure) -> str:
    text = str(measure.bad_status)
    return text + (f" ({measure.socket_errors})" if measure.socket_errors else "")


def _cell(text: str, limit: int = 400) -> str:
    """Text that fits in one Markdown table cell."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + "…"


def _rps(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.2f}"


def table(runs: Sequence[DatabaseRun]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for run in runs:
        if run.unavailable or run.floor is None:
            reason = _cell(run.unavailable or "not measured")
            lines.append(f"| {run.label} | not measured: {reason} |" + " |" * (len(HEADER) - 2))
            continue
        floor = run.floor
        before, after = floor.runs if len(floor.runs) == 2 else (floor.rps, floor.rps)
        lines.append(
            f"| {run.label} | `GET {FLOOR}` (floor; before / after) | {_rps(floor.rps)} "
            f"({_rps(before)} / {_rps(after)}) | {floor.requests:,} | "
            f"{_ms(floor.latency.get(50.0))} | "
            f"{_ms(floor.latency.get(99.0))} | 1 | — | — | "
            f"{floor.bytes_per_response:,.0f} | {_bad(floor)} |"
        )
        for figure in run.figures:
            m = figure.measure
            is_home = figure.name == "home"
            met = "—" if not is_home else ("yes" if run.met else "**no**")
            lines.append(
                f"| {run.label} | `{figure.path}` | {_rps(m.rps)} | {m.requests:,} | "
                f"{_ms(m.latency.get(50.0))} | "
                f"{_ms(m.latency.get(99.0))} | {run.ratio(figure):.2f}x | "
                f"{f'<= {TARGET:g}x' if is_home else '—'} | {met} | "
                f"{m.bytes_per_response:,.0f} | {_bad(m)} |"
            )
        if run.health is not None:
            h = run.health
            lines.append(
                f"| {run.label} | `GET /health` (no API, for scale) | {_rps(h.rps)} | "
                f"{h.requests:,} | "
                f"{_ms(h.latency.get(50.0))} | {_ms(h.latency.get(99.0))} | "
                f"{h.latency.get(50.0, 0) / floor.latency.get(50.0, 1):.2f}x | — | — | "
                f"{h.bytes_per_response:,.0f} | {_bad(h)} |"
            )
    return "\n".join(lines)


def costs_table(runs: Sequence[DatabaseRun]) -> str:
    measured = [run for run in runs if run.costs]
    if not measured:
        return ""
    names = {"floor": f"GET {FLOOR}"} | {f.name: f.path for run in measured for f in run.figures}
    lines = [
        "| Database | Request | ms per request | SQL statements | ms in SQL | "
        "Costliest statements (ms per request) | Slowest statement |",
        "|---|---|---|---|---|---|---|",
    ]
    for run in measured:
        for name, cost in run.costs.items():
            costliest = ", ".join(f"`{sql}` {ms:.2f}" for sql, ms in cost["costliest"])
            slowest = _cell(cost["slowest_sql"], 300)
            lines.append(
                f"| {run.label} | `{names.get(name, name)}` | {cost['ms']:.2f} | "
                f"{cost['statements']:.0f} | {cost['sql_ms']:.2f} | {costliest} | "
                f"{cost['slowest_ms']:.2f} ms: `{slowest}` |"
            )
    return "\n".join(lines)


def data_line(run: DatabaseRun) -> str:
    d = run.data
    if not d or "build_seconds" not in d:
        return f"- {run.label}: {_cell(run.unavailable or 'not measured')}"
    checks = run.checks.get("counted", {})
    return (
        f"- {run.label} ({d['server']}): {d['accounts']:,} hosted accounts, {d['posts']:,} "
        f"public posts over 100 days ({d['replies']:,} replies, {d['mentions']:,} mentions, "
        f"{d['images']:,} with an image, {d['tagged']:,} hashtag uses of {d['hashtags']} "
        f"hashtags; posts per account: median {d['median_posts']}, most "
        f"{d['max_posts']:,}), {d['follows']:,} accepted follows, {d['favourites']:,} "
        f"favourites and {d['boosts']:,} boosts; {d.get('home_entries', 0):,} rows of home "
        f"feeds (every account's). The reader follows {d['followed']} "
        f"accounts: its home timeline draws on {d['home_posts']:,} posts and it favourited "
        f"{d['reader_favourites']:,} of them; `:id` is @{d['busiest_handle']}, the busiest "
        f"account it follows ({d['busiest_posts']:,} posts). Built in "
        f"{d['build_seconds']} s ({', '.join(f'{k} {v} s' for k, v in d['seconds'].items())}). "
        f"The {run.checks.get('statuses', 0)} statuses of the three first pages: "
        f"{checks.get('favourites_count', 0)} with favourites, "
        f"{checks.get('reblogs_count', 0)} with boosts, {checks.get('replies_count', 0)} "
        f"with replies, {checks.get('in_reply_to_id', 0)} replies, "
        f"{checks.get('media_attachments', 0)} with an image, {checks.get('reblog', 0)} "
        f"boosts, "
        f"{checks.get('favourited', 0)} favourited by the reader; `/api/v1/instance` stats "
        f"{run.checks.get('instance_stats', {})}"
    )


def summary(runs: Sequence[DatabaseRun]) -> str:
    parts = []
    for run in runs:
        if run.home is None:
            parts.append(f"{run.label}: not measured ({_cell(run.unavailable or 'failed')}).")
            continue
        verdict = "met" if run.met else "**missed**"
        health = ""
        if run.health is not None and run.health.latency.get(50.0):
            times = run.home.ms(50.0) / (run.health.latency[50.0] * 1000)
            health = f" (and {times:.1f}× the p50 of `/health`)"
        parts.append(
            f"{run.label}: home timeline p50 {run.ratio(run.home):.2f}× the floor's p50"
            f"{health}, target <= {TARGET:g}× {verdict}."
        )
        floor_p50 = run.floor.latency.get(50.0) if run.floor else None
        if floor_p50 and run.health is not None and run.health.latency.get(50.0):
            times = floor_p50 / run.health.latency[50.0]
            if times > 5:
                parts.append(
                    f"Note: on {run.label} the floor is no floor: `GET {FLOOR}`'s p50 is "
                    f"{times:.0f}× that of `/health`, which makes the ratios look better "
                    "than the request costs are."
                )
    return " ".join(parts)


def write_results(
    runs: Sequence[DatabaseRun],
    facts: Mapping[str, str],
    load: Load,
    args: argparse.Namespace,
    command: str,
    path: Path,
) -> None:
    data = "\n".join(data_line(run) for run in runs)
    costs = costs_table(runs)
    if costs:
        costs = f"""
Where the time goes: each request {args.breakdown} times in one process through Django's
test client after the server stopped (no HTTP server, no concurrency), with the SQL
statements it ran and the time spent in them (the rest is Python: ninja, the Renderer, JSON):

{costs}
"""
    text = f"""## Client API: timelines on 100,000 posts

Written by `benchmarks/api.py`.

- Date: {facts["date"]}
- Code: {facts["revision"]}
- Machine: {facts["nproc"]} CPUs (`nproc`), {facts["cpu"]}; load average before the run:
  {facts["load"]}
- Software: Python {facts["python"]}, Django {facts["django"]}, granian {facts["granian"]},
  {facts["wrk"]}
- Command: `{command}`
- Parvis: `parvis serve --host {HOST} --port … --workers {args.workers} --no-worker`, one
  throw-away install per database, data written straight into the database by the script
  (`--prepare`, not through the API): accounts with `create_account`, the rest with
  `parvis.core.bulk.insert_rows`; post texts rendered with `parvis.core.text.render`. SQLite
  (WAL) is left as loaded (Parvis never runs `ANALYZE` on it); PostgreSQL gets a `VACUUM
  ANALYZE`, as autovacuum would after such a load. PostgreSQL: {facts["postgres"]}
- Requests: Mastodon's first page (20 statuses, no parameters) with the reader's bearer
  token (a staff member's token acting as the reader, made as the OAuth flow makes them),
  the same header on every request; `wrk --latency --timeout={load.timeout}s
  -t{load.threads} -c{load.connections} -d{load.duration}s` after a {load.warmup} s warm-up
  on the same URL, on {HOST} only; wrk shares the CPUs with the server. The floor (`GET
  {FLOOR}`, no token needed, no status rendered) is measured before and after the three
  requests and averaged (req/s and percentiles); both runs' req/s are shown. A slow
  request's p99 rests on few answers (column Requests): read it as "the slowest ones"
{data}

{table(runs)}
{costs}
{summary(runs)}
"""
    write_section(path, SECTION, text)


# --- main ----------------------------------------------------------------------------------


def masked(arguments: Sequence[str]) -> list[str]:
    """The command line with the database URL hidden: it may hold a password."""
    shown: list[str] = []
    hide_next = False
    for argument in arguments:
        if hide_next:
            shown.append("…")
        elif argument.startswith(("--database-url=", "--postgres-url=")):
            shown.append(argument.split("=", 1)[0] + "=…")
        else:
            shown.append(argument)
        hide_next = argument in ("--database-url", "--postgres-url")
    return shown


def run(args: argparse.Namespace, results: Path | None, command: str) -> list[DatabaseRun]:
    ensure_tools(("wrk",))
    facts = machine_facts()
    facts["wrk"] = tool_version(["wrk", "-v"]).split(" [")[0]
    load = Load(
        args.threads, args.connections, args.duration, args.warmup, latency=True, timeout=60
    )
    wanted = [name.strip() for name in args.databases.split(",") if name.strip()]
    unknown = set(wanted) - set(DATABASES)
    if unknown or not wanted:
        raise BenchmarkError(f"--databases takes {', '.join(DATABASES)}; got {args.databases}")
    runs = []
    with tempfile.TemporaryDirectory(prefix="parvis-api-") as tmp:
        work = Path(tmp)
        for name in wanted:
            label = "SQLite" if name == "sqlite" else "PostgreSQL"
            database = DatabaseRun(name, label)
            runs.append(database)
            try:
                if name == "sqlite":
                    run_database(database, None, args, load, work)
                elif args.database_url:
                    facts["postgres"] = "the database `--database-url` names"
                    run_database(database, args.database_url, args, load, work)
                else:
                    with throwaway_postgres(work) as url:
                        facts["postgres"] = (
                            "a throw-away server started by the script on 127.0.0.1 "
                            "(scripts/postgres.sh's settings: fsync and full_page_writes off)"
                        )
                        run_database(database, url, args, load, work)
            except PostgresUnavailable as error:
                database.unavailable = f"PostgreSQL could not be started: {error}"
                facts["postgres"] = database.unavailable
                print(f"[postgresql] NOT MEASURED: {database.unavailable}", flush=True)
            except (BenchmarkError, subprocess.CalledProcessError) as error:
                # The other database's figures are still worth writing down.
                database.unavailable = f"failed: {error}"
                database.floor, database.figures = None, []
                print(f"[{name}] FAILED: {error}", flush=True)
    facts.setdefault("postgres", "not requested (`--databases`)")
    print()
    print(table(runs))
    costs = costs_table(runs)
    if costs:
        print()
        print(costs)
    print()
    print(summary(runs))
    if results is not None:
        write_results(runs, facts, load, args, command, results)
        print(f"\nWritten to {results}")
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--databases",
        default="sqlite,postgresql",
        help="Comma-separated: sqlite, postgresql (default: both). PostgreSQL is the "
        "database --database-url names, or else a throw-away server the script starts "
        "(needs root and the postgresql package); if it cannot, the run says so and goes on.",
    )
    parser.add_argument(
        "--database-url",
        "--postgres-url",
        dest="database_url",
        default="",
        help="An empty, throw-away PostgreSQL database for the postgresql run "
        "(postgres://…); the script migrates it and fills it.",
    )
    parser.add_argument("--accounts", type=int, default=1000, help="Hosted accounts.")
    parser.add_argument("--posts", type=int, default=100_000, help="Public posts.")
    parser.add_argument("--follows", type=int, default=500, help="Accounts the reader follows.")
    parser.add_argument("--replies", type=float, default=0.1, help="Share of posts that reply.")
    parser.add_argument("--images", type=float, default=0.12, help="Share with an image.")
    parser.add_argument("--favourites", type=float, default=1.5, help="Mean per post.")
    parser.add_argument("--boosts", type=float, default=0.3, help="Mean per post.")
    parser.add_argument("--seed", type=int, default=42, help="Random seed of the data set.")
    parser.add_argument("--duration", type=int, default=10, help="Seconds per measure.")
    parser.add_argument("--warmup", type=int, default=3, help="Seconds of warm-up per measure.")
    parser.add_argument("--connections", type=int, default=4, help="wrk connections.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument("--workers", type=int, default=2, help="parvis serve --workers.")
    parser.add_argument(
        "--health",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="Also measure /health once, to show what the floor costs above Django's own.",
    )
    parser.add_argument(
        "--breakdown",
        type=int,
        default=50,
        help="Requests per path timed in one process after the measures (0: skip).",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file whose api section gets the figures ('-' for none).",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="Exit with status 1 when the target is missed or a database was not measured.",
    )
    parser.add_argument("--prepare", help=argparse.SUPPRESS)
    parser.add_argument("--internal-breakdown", dest="internal_breakdown", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.prepare:
        prepare(json.loads(args.prepare))
        return 0
    if args.internal_breakdown:
        breakdown(json.loads(args.internal_breakdown))
        return 0
    results = None if str(args.results) == "-" else args.results
    command = " ".join(["python benchmarks/api.py", *masked(sys.argv[1:])])
    try:
        runs = run(args, results, command)
    except (BenchmarkError, subprocess.CalledProcessError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    missed = [run.label for run in runs if run.met is False]
    absent = [run.label for run in runs if run.home is None]
    if missed:
        print("Target missed: " + ", ".join(missed))
    if absent:
        print("Not measured: " + ", ".join(absent))
    if any(run.unavailable.startswith("failed") for run in runs):
        return 2
    return 1 if args.strict and (missed or absent) else 0


if __name__ == "__main__":
    sys.exit(main())
