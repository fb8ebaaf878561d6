"""Fixtures shared by the whole suite.

The database is SQLite unless DATABASE_URL names another one (scripts/test.sh
runs the suite a second time on a live PostgreSQL).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from PIL import Image

from parvis.federation.models import forget_blocked_domains, forget_hosts_checked
from parvis.federation.remote import forget_key_owners
from parvis.identity.lookups import forget_accounts, forget_domains
from parvis.identity.models import (
    Account,
    AccountKind,
    Domain,
    Institution,
    InstitutionKind,
    Mandate,
    Official,
    RoleKind,
    Staff,
)
from parvis.identity.services import create_account, grant_role

SHARED_DATA = Path(settings.BASE_DIR).parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real data beside the project; a missing folder fails loudly, never skips."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: the tests read real rosters from ../shared/data")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _media_root(tmp_path: Path, settings) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    forget_domains()
    forget_accounts()
    forget_blocked_domains()
    forget_hosts_checked()
    forget_key_owners()
    cache.clear()  # rate-limit counters and cached fragments start empty
    # Staff passwords and OAuth client secrets are hashed on every test's set-up:
    # PBKDF2's real cost (on purpose, in production) would dominate the suite's time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def domain(db) -> Domain:
    return Domain.objects.create(name="social.blois.fr")


@pytest.fixture
def commune(db) -> Institution:
    return Institution.objects.create(
        kind=InstitutionKind.COMMUNE,
        name="Ville de Blois",
        insee_code="41018",
        departement_code="41",
        siren="214100182",
    )


@pytest.fixture
def account(domain: Domain, commune: Institution) -> Account:
    return create_account(
        domain=domain,
        handle="ville",
        kind=AccountKind.INSTITUTION,
        display_name="Ville de Blois",
        institution=commune,
    )


@pytest.fixture
def function_account(domain: Domain, commune: Institution) -> Account:
    return create_account(
        domain=domain,
        handle="maire",
        kind=AccountKind.FUNCTION,
        display_name="Maire de Blois",
        institution=commune,
    )


@pytest.fixture
def mayor(commune: Institution, function_account: Account) -> Mandate:
    official = Official.objects.create(given_name="Marc", family_name="GRICOURT")
    return Mandate.objects.create(
        official=official,
        institution=commune,
        function_label="Maire",
        function_account=function_account,
        start_date="2020-07-04",
    )


@pytest.fixture
def make_staff(db) -> Callable[..., Staff]:
    def make(username: str, *roles: tuple[Account, str]) -> Staff:
        staff = Staff.objects.create_user(username, f"{username}@example.invalid", "s3cret-pass")
        for target, kind in roles:
            grant_role(staff, target, kind)
        return staff

    return make


@pytest.fixture
def publisher(make_staff, account: Account, function_account: Account) -> Staff:
    return make_staff("com", (account, RoleKind.PUBLISHER), (function_account, RoleKind.PUBLISHER))


@pytest.fixture
def editor(make_staff, account: Account) -> Staff:
    return make_staff("redac", (account, RoleKind.EDITOR))


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (800, 600), **save: object) -> bytes:
    """A small real image in ``fmt``."""
    image = Image.new("RGB" if fmt == "JPEG" else "RGBA", size, (10, 80, 160))
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save)
    return buffer.getvalue()


@pytest.fixture
def jpeg() -> bytes:
    return image_bytes()
