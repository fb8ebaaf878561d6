"""The OpenAPI document of the client API, checked by schemathesis against a live server.

Schemathesis generates requests from the document (valid ones and ones that break its
rules) for every operation, sends them to a real ``parvis serve`` with a real token, and
checks each answer: never a 5xx, a status code the document declares, the declared media
type, a body that matches the declared schema, and requests that break the document's
rules refused. A request the document allows may still be refused (an empty status, an id
that does not exist): Mastodon's rules go beyond what a schema says, so that one check
(``positive_data_acceptance``) is left out.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from tests.interop import harness

SETUP = """
import datetime, secrets
from django.utils import timezone
from oauth2_provider.models import AccessToken
from parvis.api.models import Application, TokenAccount
from parvis.identity.models import Staff
from parvis.identity.services import create_account, get_or_create_domain
from parvis.publishing.services import Content, publish_post
account = create_account(domain=get_or_create_domain({domain!r}), handle='ville',
                         kind='institution', display_name='Ville de Loopback')
staff = Staff.objects.create_superuser('root', 'root@example.invalid', 's3cret-pass')
for n in range(3):
    publish_post(staff, account, Content(f'Message {{n}} #essai'))
app = Application.objects.create(name='schemathesis', redirect_uris='https://app.example/cb',
    client_type='confidential', authorization_grant_type='authorization-code',
    scopes='read write follow push')
token = AccessToken(user=staff, application=app, scope='read write follow push',
    expires=timezone.now() + datetime.timedelta(days=1))
token.token = {raw!r}
token.save()
TokenAccount.objects.create(token=token, account=account)
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp("openapi")
    port = harness.free_port()
    env = harness.environment(
        data,
        PARVIS_SECRET_KEY=secrets.token_urlsafe(32),
        PARVIS_ALLOWED_HOSTS="127.0.0.1",
        PARVIS_DEFAULT_DOMAIN="127.0.0.1",
        PARVIS_URL_SCHEME="http",
        PARVIS_URL_PORT=str(port),
    )
    harness.migrate(env)
    raw = secrets.token_urlsafe(32)
    with harness.serving(env, data, "127.0.0.1", port) as server:
        server.console.run(SETUP.format(domain="127.0.0.1", raw=raw))
        server.wait_until_up()
        yield {"base": server.base, "token": raw, "server": server}


def test_every_operation_answers_as_documented(live: dict[str, Any]) -> None:
    # Loaded once the server runs (schemathesis's lazy pytest fixture does not run on
    # this pytest): each operation gets its own hypothesis run.
    schema = schemathesis.openapi.from_url(f"{live['base']}/api/openapi.json")
    headers = {"Authorization": f"Bearer {live['token']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])

        check()


def test_the_document_lists_the_api(live: dict[str, Any]) -> None:
    status, body = harness.request(f"{live['base']}/api/openapi.json")
    assert status == 200
    assert b"/api/v1/timelines/home" in body and b"/api/v1/statuses" in body


def test_log_is_clean(live: dict[str, Any], tmp_path: Path) -> None:
    """No request of the run above made the server log an error with a traceback."""
    log = live["server"].log.read_text(errors="replace")
    assert "Traceback" not in log, harness.tail(live["server"].log, 80)
