"""Fixtures of the federation tests."""

from collections.abc import Iterator

import pytest

from tests.federation.signed import Remote, make_remote
from tests.federation.sink import running_sink


@pytest.fixture
def remote(settings) -> Iterator[Remote]:
    settings.PARVIS_HTTP_ALLOW_PRIVATE = ["127.0.0.1/32"]
    settings.ALLOWED_HOSTS = ["*"]
    with running_sink() as sink:
        yield make_remote(sink)
