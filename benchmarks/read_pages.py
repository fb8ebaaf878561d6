"""Read-path benchmark: public pages of Parvis against the floors they are judged by.

One run builds a throw-away demo install, serves it with ``parvis serve`` on the
loopback address and measures with wrk, each figure next to a reference taken in
the same run so that the ratios hold on any machine:

1. uncached profile page (20 posts) and post permalink, against the trivial
   ``/health`` view of the same server and against nginx serving the profile's
   bytes as a static file;
2. conditional GETs answered 304, against ``/health``;
3. cache hits through the nginx configuration of ``docs/nginx/parvis.conf``,
   against nginx serving the static file.

Usage: ``.venv/bin/python benchmarks/read_pages.py`` (see benchmarks/README.md).
Installs wrk and nginx with apt-get when missing, rewrites its section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from _common import (
    HOST,
    RESULTS,
    ROOT,
    SBIN_PATH,
    BenchmarkError,
    Load,
    Measure,
    averaged,
    ensure_tools,
    expect,
    fetch,
    free_port,
    install_env,
    machine_facts,
    parvis_command,
    quiet_step,
    report,
    running,
    tool_version,
    wait_until_up,
    write_section,
)

NGINX_DOC = ROOT / "docs" / "nginx" / "parvis.conf"
PROFILE = "/@ville"
STATIC_COPY = "bench/profile.html"
# Its part of RESULTS.md, between <!-- read_pages --> markers.
SECTION = "read_pages"


# --- Parvis set-up -------------------------------------------------------------------

# Varied posts so that the profile page renders what a real one holds: links,
# hashtags, mentions, a content warning, images.
POST_TEXTS = [
    "Collecte des encombrants jeudi dans le quartier Vienne. Inscription sur "
    "https://www.blois.fr/encombrants #Blois #Déchets",
    "Le conseil municipal se réunit lundi à 18 h 30, salle du conseil. Ordre du jour en "
    "ligne. #ConseilMunicipal",
    "Merci aux bénévoles du Secours populaire pour la collecte de ce week-end ! @maire",
    "Fermeture exceptionnelle de la médiathèque Abbé-Grégoire samedi matin. #Culture",
    "Vigilance crue : la Loire monte, les quais bas sont fermés jusqu'à nouvel ordre. "
    "#Vigilance #Loire",
    "Inscriptions scolaires pour la rentrée : dossier à déposer avant le 15 mai. "
    "https://www.blois.fr/ecoles #Éducation",
]


def seed(posts_wanted: int) -> None:
    """Give ``@ville`` enough public posts for a full first page (runs in a child)."""
    import django

    django.setup()
    from django.conf import settings

    from parvis.core.management.commands.demo import demo_image
    from parvis.identity.models import Account, Staff
    from parvis.publishing.models import Visibility
    from parvis.publishing.services import Content, publish_post, upload_media

    admin = Staff.objects.get(username="admin")
    ville = Account.objects.get(handle="ville", domain__name=settings.PARVIS_DEFAULT_DOMAIN)
    public = ville.posts.live().filter(visibility=Visibility.PUBLIC)
    with_image: int | None = None
    index = 0
    while public.count() < posts_wanted:
        text = POST_TEXTS[index % len(POST_TEXTS)]
        media_ids: list[int] = []
        if index % 6 == 0:
            media = upload_media(
                admin,
                ville,
                demo_image(f"Actualité {index}"),
                filename=f"actu-{index}.jpg",
                description=f"Affiche de l'actualité {index} sur fond bleu.",
            )
            media_ids.append(media.id)
        spoiler = "Accident de la route" if index % 7 == 3 else ""
        post = publish_post(
            admin, ville, Content(text=text, spoiler_text=spoiler), media_ids=media_ids
        )
        if media_ids:
            with_image = post.id
        index += 1
    print(json.dumps({"public_posts": public.count(), "permalink_id": with_image}))


def setup_parvis(env: Mapping[str, str], posts_wanted: int) -> tuple[int, int]:
    """Migrate, load the demo, add posts; the number of public posts and a permalink id."""
    for step in (["migrate", "--verbosity", "0"], ["demo"]):
        quiet_step(parvis_command(*step), env)
    output = quiet_step([sys.executable, __file__, "--internal-seed", str(posts_wanted)], env)
    seeded = json.loads(output.strip().splitlines()[-1])
    return int(seeded["public_posts"]), int(seeded["permalink_id"])


# --- nginx ---------------------------------------------------------------------

# (pattern, replacement, expected count): each rewrite must apply exactly so
# that a change of docs/nginx/parvis.conf cannot silently benchmark something else.
NginxRewrite = tuple[str, str, int]


def nginx_site(doc: str, *, port: int, upstream: int, data_dir: Path, cache_dir: Path) -> str:
    """docs/nginx/parvis.conf with loopback ports and temporary paths, TLS dropped."""
    rewrites: list[NginxRewrite] = [
        (r"server 127\.0\.0\.1:8000;", f"server {HOST}:{upstream};", 1),
        (r"/var/cache/nginx/parvis", str(cache_dir), 1),
        (r"alias /var/lib/parvis/", f"alias {data_dir}/", 2),
        # The port-80 server only redirects to TLS; the benchmark speaks plain HTTP.
        (r"\nserver \{[^{}]*return 301[^{}]*\}\n", "\n", 1),
        (r"listen 443 ssl[^;]*;", f"listen {HOST}:{port};", 1),
        (r"\n[ \t]*listen \[::\][^;]*;", "", 1),
        (r"\n[ \t]*ssl_certificate(_key)? [^;]*;", "", 2),
    ]
    site = doc
    for pattern, replacement, count in rewrites:
        site, applied = re.subn(pattern, replacement, site)
        if applied != count:
            raise BenchmarkError(
                f"{NGINX_DOC}: /{pattern}/ matched {applied} times, expected {count}"
            )
    for line in doc.splitlines():
        directive = line.strip()
        # proxy_cache_path is the one proxy directive whose path is rewritten.
        verbatim = directive.startswith("proxy_") and not directive.startswith("proxy_cache_path")
        if verbatim and directive not in site:
            raise BenchmarkError(f"directive lost while templating: {directive}")
    if re.search(r"listen\s+(?!127\.0\.0\.1:)", site):
        raise BenchmarkError("templated nginx configuration listens off the loopback")
    return site


def nginx_main(prefix: Path, site: Path, user: str | None) -> str:
    """A minimal nginx.conf shaped like Debian's, every path inside ``prefix``."""
    mime = Path("/etc/nginx/mime.types")
    types = f"include {mime};" if mime.exists() else "types { text/html html; }"
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{f"user {user};" if user else ""}
worker_processes auto;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{
    worker_connections 1024;
}}
http {{
    {types}
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    # Logging would cost the static reference and the cache alike; off for both.
    access_log off;
{temp}
    include {site};
}}
"""


def prepare_nginx(
    work: Path, *, port: int, upstream: int, data_dir: Path
) -> tuple[list[str], Path]:
    prefix = work / "nginx"
    cache_dir = prefix / "cache"
    for folder in (prefix, cache_dir):
        folder.mkdir(parents=True, exist_ok=True)
    site = prefix / "parvis.conf"
    site.write_text(
        nginx_site(
            NGINX_DOC.read_text(),
            port=port,
            upstream=upstream,
            data_dir=data_dir,
            cache_dir=cache_dir,
        )
    )
    user = None
    if os.geteuid() == 0:
        # As root nginx drops its workers to an unprivileged user, which must
        # reach the static files and own the cache.
        import pwd

        user = "www-data" if _has_user("www-data") else "nobody"
        entry = pwd.getpwnam(user)
        for folder in (work, data_dir, data_dir / "static"):
            folder.chmod(0o755)
        for folder in (prefix, cache_dir):
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        user = f"{user} {_group_name(entry.pw_gid)}"
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_main(prefix, site, user))
    nginx = shutil.which("nginx", path=SBIN_PATH) or "nginx"
    command = [nginx, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    test = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    if test.returncode != 0:
        raise BenchmarkError(f"nginx -t refused the configuration:\n{test.stderr}")
    return [*command, "-g", "daemon off;"], prefix / "error.log"


def _has_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _group_name(gid: int) -> str:
    import grp

    return grp.getgrgid(gid).gr_name


# --- report --------------------------------------------------------------------


@dataclass
class Row:
    figure: str
    measure: Measure
    reference_name: str
    reference: Measure | None
    target: float | None

    @property
    def ratio(self) -> float | None:
        if self.reference is None or not self.reference.rps:
            return None
        return self.measure.rps / self.reference.rps

    @property
    def met(self) -> bool | None:
        if self.target is None or self.ratio is None:
            return None
        return self.ratio >= self.target

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.3g}x" if self.ratio is not None else "—"
        reference = f"{self.reference_name} {self.reference.label()}" if self.reference else "—"
        target = f">= {self.target:.2f}x" if self.target is not None else "—"
        met = {None: "—", True: "yes", False: "**no**"}[self.met]
        bad = str(self.measure.bad_status) if self.measure.bad_status else "0"
        if self.measure.socket_errors:
            bad += f" ({self.measure.socket_errors})"
        return [
            self.figure,
            self.measure.label(),
            reference,
            ratio,
            target,
            met,
            f"{self.measure.bytes_per_response:,.0f}",
            bad,
        ]


HEADER = [
    "Figure",
    "req/s",
    "Reference (req/s)",
    "Ratio",
    "Target",
    "Met?",
    "Bytes/response",
    "Non-2xx/3xx",
]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def write_results(
    rows: list[Row], facts: dict[str, str], load: Load, command: str, path: Path
) -> None:
    met = [row for row in rows if row.met is not None]
    summary = (
        "All targets met."
        if all(row.met for row in met)
        else "Missed: " + ", ".join(row.figure for row in met if not row.met) + "."
    )
    text = f"""## Read path: public pages

Written by `benchmarks/read_pages.py`.

- Date: {facts["date"]}
- Code: {facts["revision"]}
- Machine: {facts["nproc"]} CPUs (`nproc`), {facts["cpu"]}; load average before the run:
  {facts["load"]}
- Software: Python {facts["python"]}, Django {facts["django"]}, granian {facts["granian"]},
  {facts["nginx"]}, {facts["wrk"]}
- Command: `{command}`
- Load: `wrk -t{load.threads} -c{load.connections} -d{load.duration}s` after a
  {load.warmup} s warm-up, on {HOST} only; wrk shares the CPUs with the servers
- References (`/health`, nginx static copy) are measured before and after the
  figures they judge and averaged; both runs are shown in brackets
- Parvis: `parvis serve --host {HOST} --port … --workers 2 --no-worker`, SQLite,
  demo data; `@ville` has {facts["posts"]} public posts, 20 on its first page
  ({facts["profile_bytes"]} bytes; {facts["profile_headers"]}); the permalink is
  a post with an image
- nginx: docs/nginx/parvis.conf with loopback ports and temporary paths, TLS dropped

{table(rows)}

{summary}
"""
    write_section(path, SECTION, text)


# --- main ----------------------------------------------------------------------


def run(load: Load, results: Path | None, command: str) -> list[Row]:
    ensure_tools(("wrk", "nginx"))
    facts = machine_facts()
    facts["nginx"] = tool_version([shutil.which("nginx", path=SBIN_PATH) or "nginx", "-v"])
    facts["wrk"] = tool_version(["wrk", "-v"]).split(" [")[0]
    parvis_port, nginx_port = free_port(), free_port()
    with tempfile.TemporaryDirectory(prefix="parvis-bench-") as tmp:
        work = Path(tmp)
        data_dir = work / "data"
        env = install_env(data_dir, parvis_port)
        print("Setting up a demo install…", flush=True)
        posts, permalink_id = setup_parvis(env, posts_wanted=25)
        facts["posts"] = str(posts)
        permalink = f"{PROFILE}/{permalink_id}"
        serve = parvis_command(
            "serve",
            "--host",
            HOST,
            "--port",
            str(parvis_port),
            "--workers",
            "2",
            "--no-worker",
        )
        parvis_log = work / "parvis.log"
        with running(serve, parvis_log, env) as parvis:
            wait_until_up(parvis_port, parvis, parvis_log, limit=90)
            expect(parvis_port, "/health", 200)
            profile = expect(parvis_port, PROFILE, 200)
            cards = profile.body.count(b'<article class="parvis-post')
            if cards != 20:
                raise BenchmarkError(f"{PROFILE} shows {cards} posts, expected 20")
            etag = profile.headers.get("etag")
            if not etag:
                raise BenchmarkError(f"{PROFILE} has no ETag")
            expect(parvis_port, permalink, 200)
            conditional = {"If-None-Match": etag}
            expect(parvis_port, PROFILE, 304, conditional)
            facts["profile_bytes"] = f"{len(profile.body):,}"
            # What a shared cache sees decides whether figure 3 can happen in practice.
            facts["profile_headers"] = ", ".join(
                f"{name}: {profile.headers.get(name.lower(), '(none)')}"
                for name in ("Cache-Control", "Vary")
            )

            # The reference copy: the profile's very bytes, served from the
            # docs' own /static/ location.
            copy = data_dir / "static" / STATIC_COPY
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(profile.body)
            copy.parent.chmod(0o755)

            nginx_command, nginx_log = prepare_nginx(
                work, port=nginx_port, upstream=parvis_port, data_dir=data_dir
            )
            with running(nginx_command, nginx_log, env) as nginx:
                wait_until_up(nginx_port, nginx, nginx_log, limit=20)
                static = expect(nginx_port, f"/static/{STATIC_COPY}", 200)
                if static.body != profile.body:
                    raise BenchmarkError("nginx serves other bytes than the profile page")

                print(f"Measuring (wrk, {load.duration} s per figure)…", flush=True)
                # Each reference is measured before and after the figures it
                # judges and averaged: on a shared machine the load drifts.
                health_before = report("trivial view /health", load.measure(parvis_port, "/health"))
                profile_m = report("profile page", load.measure(parvis_port, PROFILE))
                permalink_m = report("post permalink", load.measure(parvis_port, permalink))
                not_modified = report(
                    "conditional GET → 304", load.measure(parvis_port, PROFILE, conditional)
                )
                health_after = report("trivial view /health", load.measure(parvis_port, "/health"))
                health = averaged(health_before, health_after)
                static_path = f"/static/{STATIC_COPY}"
                static_before = report("nginx static copy", load.measure(nginx_port, static_path))
                # Prime the cache just before measuring hits, well within max-age.
                fetch(nginx_port, PROFILE)
                hit = expect(nginx_port, PROFILE, 200)
                if hit.headers.get("x-cache-status") != "HIT":
                    raise BenchmarkError(
                        f"nginx cache answered {hit.headers.get('x-cache-status')}, not HIT"
                    )
                if hit.body != profile.body:
                    print("note: the cached profile differs from the direct one", flush=True)
                cached = report("nginx proxy_cache hit", load.measure(nginx_port, PROFILE))
                after = fetch(nginx_port, PROFILE).headers.get("x-cache-status")
                if after != "HIT":
                    print(f"note: cache status after the run is {after}", flush=True)
                static_after = report("nginx static copy", load.measure(nginx_port, static_path))
                static_m = averaged(static_before, static_after)

    if not_modified.bytes_per_response > len(profile.body) / 4:
        raise BenchmarkError("the conditional GETs were not answered 304")
    rows = [
        Row("1a profile page (20 posts), rendered", profile_m, "/health", health, 0.25),
        Row("1a profile page vs nginx static copy", profile_m, "static", static_m, None),
        Row("1b post permalink, rendered", permalink_m, "/health", health, None),
        Row("1c trivial view /health", health, "", None, None),
        Row("1d nginx static copy of the profile", static_m, "", None, None),
        Row("2 conditional GET, 304", not_modified, "/health", health, 0.6),
        Row("3 nginx proxy_cache hit", cached, "static", static_m, 0.5),
    ]
    print()
    print(table(rows))
    if results is not None:
        write_results(rows, facts, load, command, results)
        print(f"\nWritten to {results}")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="Seconds per measure.")
    parser.add_argument("--warmup", type=int, default=2, help="Seconds of warm-up per measure.")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections.")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file whose read_pages section gets the figures ('-' for none).",
    )
    parser.add_argument(
        "--strict", action="store_true", help="Exit with status 1 when a target is missed."
    )
    parser.add_argument("--internal-seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.internal_seed is not None:
        seed(args.internal_seed)
        return 0
    load = Load(args.threads, args.connections, args.duration, args.warmup)
    results = None if str(args.results) == "-" else args.results
    command = " ".join(["python benchmarks/read_pages.py", *sys.argv[1:]])
    try:
        rows = run(load, results, command)
    except (BenchmarkError, subprocess.CalledProcessError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    missed = [row.figure for row in rows if row.met is False]
    if missed:
        print("Targets missed: " + "; ".join(missed))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
