"""French is the source language; every string shown to people also exists in English, at /en/…"""

import subprocess
from pathlib import Path

from django.test import Client
from django.utils import translation

from parvis.identity.models import Account, InstitutionKind
from parvis.publishing.models import Visibility

ROOT = Path(__file__).resolve().parents[2]


def test_every_message_in_the_code_is_translated_into_english() -> None:
    # A msgid missing from, untranslated or fuzzy in parvis/locale/en, a broken
    # placeholder or a stale django.mo fails here, with the strings named.
    result = subprocess.run(
        ["bash", "scripts/messages.sh", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (
        "Run scripts/messages.sh, translate the listed strings in "
        "parvis/locale/en/LC_MESSAGES/django.po, then run it again to compile:\n"
        + result.stdout
        + result.stderr
    )


def test_english_pages_live_under_en(db) -> None:
    response = Client().get("/en/directory/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="en"' in html
    assert "Directory" in html
    assert "Account directory" in html
    assert "0 accounts" in html  # ngettext with English plural forms
    assert "Annuaire" not in html
    assert response.headers["Content-Language"] == "en"


def test_french_pages_stay_at_the_root(db) -> None:
    response = Client().get("/directory/")
    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="fr"' in html
    assert "Annuaire" in html
    assert "0 compte" in html  # French uses the singular for zero
    assert "Account directory" not in html


def test_model_choices_and_verbose_names_are_translated_lazily() -> None:
    with translation.override("en"):
        assert str(InstitutionKind.COMMUNE.label) == "Municipality"
        assert str(Visibility.FOLLOWERS.label) == "Followers only"
        assert str(Account._meta.verbose_name) == "account"
        assert str(Account._meta.get_field("frozen_at").verbose_name) == "frozen at"
    with translation.override("fr"):
        assert str(InstitutionKind.COMMUNE.label) == "Commune"
