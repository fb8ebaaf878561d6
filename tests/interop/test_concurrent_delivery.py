"""Checklist N1: the same activity delivered 10 times at once has exactly one effect.

A real ``parvis serve`` (granian, embedded task worker, SQLite file)
receives one signed Like ten times concurrently, five times on the shared inbox and
five on the personal one, from ten threads; the activity is stored once, and it makes
one favourite and one notification.
"""

from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from parvis.federation import signatures
from tests.federation.signed import Remote, make_remote
from tests.federation.sink import running_sink
from tests.interop import harness

DOMAIN = "127.0.0.1"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[harness.Server, int, Remote]]:
    port = harness.free_port(DOMAIN)
    env = harness.environment(
        tmp_path,
        PARVIS_SECRET_KEY=secrets.token_urlsafe(32),
        PARVIS_ALLOWED_HOSTS=DOMAIN,
        PARVIS_DEFAULT_DOMAIN=DOMAIN,
        PARVIS_URL_SCHEME="http",
        PARVIS_URL_PORT=str(port),
        PARVIS_HTTP_ALLOW_PRIVATE="127.0.0.0/8",
    )
    harness.migrate(env)
    with running_sink() as sink, harness.serving(env, tmp_path, DOMAIN, port) as server:
        server.console.run(
            "from parvis.identity.models import Staff\n"
            "from parvis.identity.services import create_account, get_or_create_domain\n"
            "from parvis.publishing import services\n"
            f"account = create_account(domain=get_or_create_domain({DOMAIN!r}),"
            " handle='ville', kind='institution', display_name='Ville')\n"
            "root = Staff.objects.create_superuser('root', 'r@example.invalid', 'pw-12345678')\n"
            "post = services.publish_post(root, account, services.Content(text='Bonjour'))\n"
        )
        server.wait_until_up()
        yield server, port, make_remote(sink)


def _deliver(port: int, path: str, remote: Remote, body: bytes) -> int:
    url = f"http://{DOMAIN}:{port}{path}"
    headers = {"Host": f"{DOMAIN}:{port}", "Content-Type": "application/activity+json"}
    headers.update(signatures.sign_cavage("POST", url, headers, body, remote.key_id, remote.key))
    connection = http.client.HTTPConnection(DOMAIN, port, timeout=30)
    try:
        connection.request("POST", path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_n1_ten_concurrent_deliveries_have_one_effect(
    served: tuple[harness.Server, int, Remote],
) -> None:
    server, port, remote = served
    post_uri = server.console.json(
        "import json\nfrom parvis.federation import ids\nprint(json.dumps(ids.note_uri(post)))"
    )
    body = json.dumps(remote.activity("Like", post_uri)).encode()
    paths = ["/inbox"] * 5 + ["/@ville/inbox"] * 5
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda p: _deliver(port, p, remote, body), paths))
    assert statuses == [202] * 10

    def effects() -> dict | None:
        state = server.console.json(
            "from parvis.federation.models import InboundActivity\n"
            "from parvis.interactions.models import Notification, Reaction\n"
            "print(json.dumps({'stored': InboundActivity.objects.count(),"
            " 'processed': InboundActivity.objects.filter(processed_at__isnull=False).count(),"
            " 'favourites': Reaction.objects.count(),"
            " 'notifications': Notification.objects.count()}))"
        )
        return state if state["processed"] else None

    state = harness.poll("the Like processed", effects, 20.0, server.federation_state)
    assert state == {"stored": 1, "processed": 1, "favourites": 1, "notifications": 1}
