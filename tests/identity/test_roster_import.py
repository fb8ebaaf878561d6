"""``parvis roster import``: reconciliation of real rosters with officials, mandates and
accounts (created, unchanged, updated, ended, handed over, refused)."""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Max
from django.test import Client

from parvis.identity.models import (
    Account,
    AccountKind,
    EndReason,
    Institution,
    Mandate,
    MandateKind,
    Official,
)
from parvis.identity.provisioning import ImportOptions, import_rosters, person_key
from parvis.identity.rosters import RosterEntry, read_roster

pytestmark = pytest.mark.django_db

RNE = "france/rne/2026-04-24"
DOMAIN = "elus.example.fr"


@pytest.fixture
def rne(shared_data: Path) -> Path:
    return shared_data / RNE


def sample(
    source: Path, target: Path, keep: Callable[[int, dict[str, str]], bool], **changes: str
) -> Path:
    """Copy the header and the rows of a real RNE file that ``keep`` accepts (by row
    index and values), with ``changes`` applied to every kept row."""
    with source.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter=";")
        fields = list(reader.fieldnames or [])
        rows = [row | changes for index, row in enumerate(reader) if keep(index, row)]
    with target.open("w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fields, delimiter=";", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return target


def run(*paths: Path, report: Path | None = None, **options: object) -> dict[str, object]:
    """``parvis roster import PATHS --domain DOMAIN``; returns the JSON report."""
    report = report or paths[0].with_suffix(".report.json")
    args = ["roster", "import", *map(str, paths), "--domain", DOMAIN, "--report-json", report]
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        args += [flag] if value is True else [flag, str(value)]
    call_command(*map(str, args))
    return json.loads(report.read_text(encoding="utf-8"))


def counts(result: dict[str, object]) -> tuple[object, ...]:
    return tuple(result[k] for k in ("created", "updated", "ended", "unchanged", "rejected"))


def snapshot() -> tuple[object, ...]:
    """Everything an import may write, to prove that a run changed nothing."""
    return (
        list(Official.objects.order_by("id").values_list()),
        list(Mandate.objects.order_by("id").values_list()),
        list(
            Account.objects.order_by("id").values_list(
                "id", "handle", "frozen_at", "display_name", "institution_id", "official_id"
            )
        ),
        list(Institution.objects.order_by("id").values_list()),
    )


def test_deputies_are_provisioned_once_and_a_reimport_changes_nothing(
    rne: Path, tmp_path: Path
) -> None:
    deputies = rne / "elus-deputes-dep.csv"
    first = run(deputies, report=tmp_path / "first.json")
    assert counts(first) == (577, 0, 0, 0, 0)
    assert first["accounts_created"] == 577 and first["institutions_created"] == 1
    accounts = Account.objects.filter(kind=AccountKind.PERSON, domain__name=DOMAIN)
    assert accounts.count() == 577
    # Opened "d'office": unclaimed, one per official, named after the person.
    assert not accounts.filter(claimed_at__isnull=False).exists()
    breton = Official.objects.get(family_name="BRETON", given_name="Xavier")
    account = breton.personal_account
    assert account.handle == "xavier.breton"
    assert account.display_name == "Xavier BRETON"
    assert account.institution.name == "Assemblée nationale"
    assert "breton" in account.search_text
    mandate = breton.mandates.get()
    assert (mandate.kind, mandate.source, mandate.end_date) == (MandateKind.DEPUTY, "deputy", None)
    assert breton.roster_key == person_key("Xavier", "BRETON", breton.birth_date)

    before = snapshot()
    again = run(deputies, report=tmp_path / "again.json")
    assert counts(again) == (0, 0, 0, 577, 0)
    assert snapshot() == before


def test_a_dry_run_reports_what_would_change_and_changes_nothing(rne: Path, tmp_path: Path) -> None:
    deputies = rne / "elus-deputes-dep.csv"
    before = snapshot()
    dry = run(deputies, dry_run=True)
    assert dry["dry_run"] is True
    assert counts(dry) == (577, 0, 0, 0, 0)
    assert dry["accounts_created"] == 577
    assert len(dry["samples"]["created"]) == 5  # type: ignore[index]
    assert snapshot() == before
    assert not Account.objects.exists()


def test_a_mandate_missing_from_the_roster_ends_and_freezes_its_account(
    rne: Path, tmp_path: Path
) -> None:
    full = sample(rne / "elus-deputes-dep.csv", tmp_path / "full.csv", lambda i, _r: i < 30)
    one_less = sample(full, tmp_path / "one-less.csv", lambda i, _r: i != 7)
    run(full)
    gone = Official.objects.get(roster_key=_key_of_row(full, 7))
    result = run(one_less)
    assert counts(result) == (0, 0, 1, 29, 0)
    assert result["frozen"] == 1
    mandate = gone.mandates.get()
    assert mandate.end_date == date.today() - timedelta(days=1)
    assert mandate.end_reason == EndReason.ABSENT
    account = Account.objects.get(official=gone)
    assert account.frozen_at is not None
    # Nobody else was touched.
    assert Account.objects.filter(frozen_at__isnull=False).count() == 1

    # Back in the next publication: the mandate reopens, the account thaws.
    back = run(full, report=tmp_path / "back.json")
    assert counts(back) == (0, 1, 0, 29, 0) and back["unfrozen"] == 1
    mandate.refresh_from_db()
    assert (mandate.end_date, mandate.end_reason) == (None, "")
    assert Account.objects.get(official=gone).frozen_at is None


def test_a_truncated_roster_ends_nothing_unless_forced(rne: Path, tmp_path: Path) -> None:
    full = sample(rne / "elus-deputes-dep.csv", tmp_path / "full.csv", lambda i, _r: i < 40)
    truncated = sample(full, tmp_path / "truncated.csv", lambda i, _r: i < 10)
    run(full)
    before = snapshot()
    with pytest.raises(CommandError, match=r"30 mandats absents .* plus de 10 %.*--force"):
        run(truncated)
    assert snapshot() == before  # the 10 rows seen were unchanged; nothing ended
    forced = run(truncated, force=True)
    assert counts(forced) == (0, 0, 30, 10, 0)
    assert Account.objects.filter(frozen_at__isnull=False).count() == 30


def test_a_changed_function_updates_the_mandate(rne: Path, tmp_path: Path) -> None:
    source = rne / "elus-conseillers-departementaux-cd.csv"
    first = sample(source, tmp_path / "cd.csv", lambda i, _r: i < 20)
    run(first)
    changed = sample(
        source,
        tmp_path / "cd-changed.csv",
        lambda i, _r: i < 20,
        **{"Libellé de la fonction": "Vice-président du conseil départemental"},
    )
    result = run(changed)
    assert result["updated"] >= 1 and result["created"] == 0 and result["ended"] == 0
    labels = set(Mandate.objects.values_list("function_label", flat=True))
    assert labels == {"Vice-président du conseil départemental"}


def test_the_function_account_passes_to_the_successor(rne: Path, tmp_path: Path, settings) -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, DOMAIN]
    mayors = rne / "elus-maires-mai.csv"
    blois = sample(mayors, tmp_path / "blois.csv", lambda _i, r: r["Code de la commune"] == "41018")
    run(blois)
    function = Account.objects.get(kind=AccountKind.FUNCTION)
    assert function.handle == "maire.blois"
    first_mayor = Mandate.objects.get(function_account=function)

    # The next publication names another mayor of Blois (a real person of the same
    # file, moved to Blois), from a later date.
    with mayors.open(encoding="utf-8") as file:
        other = next(
            r for r in csv.DictReader(file, delimiter=";") if r["Code de la commune"] == "41269"
        )
    successor = sample(
        mayors,
        tmp_path / "blois-next.csv",
        lambda _i, r: r["Code de la commune"] == "41018",
        **{
            "Nom de l'élu": other["Nom de l'élu"],
            "Prénom de l'élu": other["Prénom de l'élu"],
            "Date de naissance": other["Date de naissance"],
            "Code sexe": other["Code sexe"],
            "Date de début du mandat": "01/09/2026",
            "Date de début de la fonction": "01/09/2026",
        },
    )
    result = run(successor)
    assert result["successions"] == 1 and result["created"] == 1
    first_mayor.refresh_from_db()
    assert first_mayor.end_reason == EndReason.SUCCESSOR
    assert first_mayor.end_date == date(2026, 8, 31)
    new_mayor = Mandate.objects.get(function_account=function, end_date__isnull=True)
    assert new_mayor.official.family_name == other["Nom de l'élu"]
    assert Account.objects.filter(kind=AccountKind.FUNCTION).count() == 1  # the same account
    # The former mayor holds no mandate any more: their personal account is frozen.
    former = first_mayor.official.personal_account
    assert former.frozen_at is not None

    # What citizens and servers see. The function's page lists who held it when.
    web = Client(HTTP_HOST=DOMAIN)
    page = web.get("/@maire.blois").content.decode()
    assert first_mayor.official.full_name in page and new_mayor.official.full_name in page
    assert "jusqu’au 31 août 2026" in page
    # The former mayor's page shows the mandate ended; their posts stay readable.
    page = web.get(f"/@{former.handle}").content.decode()
    assert "Mandat terminé le 31 août 2026" in page
    # The actor documents are still served to other servers.
    actor = web.get("/@maire.blois", headers={"Accept": "application/activity+json"}).json()
    assert actor["preferredUsername"] == "maire.blois"
    assert (
        web.get(f"/@{former.handle}", headers={"Accept": "application/activity+json"}).json()[
            "preferredUsername"
        ]
        == former.handle
    )
    # The client API says who speaks under which mandate, and what is frozen.
    api = Client(HTTP_HOST=DOMAIN)
    function_entity = api.get(f"/api/v1/accounts/{function.pk}").json()["parvis"]
    assert function_entity["mandate"] == "Maire" and function_entity["frozen"] is False
    former_entity = api.get(f"/api/v1/accounts/{former.pk}").json()["parvis"]
    assert former_entity["frozen"] is True and former_entity["mandate"] is None
    assert former_entity["claimed"] is False  # opened "d'office", never claimed


def test_homonyms_get_distinct_handles_kept_across_imports(rne: Path, tmp_path: Path) -> None:
    mayors = rne / "elus-maires-mai.csv"
    seen = Counter(
        (e.person.given_names, e.person.family_name)
        for e in read_roster(mayors)
        if isinstance(e, RosterEntry)
    )
    given, family = next(name for name, count in seen.items() if count > 1)
    homonyms = sample(
        mayors,
        tmp_path / "homonyms.csv",
        lambda _i, r: (r["Prénom de l'élu"], r["Nom de l'élu"]) == (given, family),
    )
    run(homonyms)
    handles = sorted(
        Account.objects.filter(kind=AccountKind.PERSON).values_list("handle", flat=True)
    )
    assert len(handles) == seen[(given, family)] and len(set(handles)) == len(handles)
    assert handles[0] == handles[0].split("-19")[0]  # the first keeps the plain form
    run(homonyms)
    assert (
        sorted(Account.objects.filter(kind=AccountKind.PERSON).values_list("handle", flat=True))
        == handles
    )


def test_bad_rows_are_reported_and_the_good_ones_imported(rne: Path, tmp_path: Path) -> None:
    good = sample(rne / "elus-deputes-dep.csv", tmp_path / "bad.csv", lambda i, _r: i < 5)
    lines = good.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(";")
    broken = lines[2].split(";")
    broken[header.index("Nom de l'élu")] = ""
    impossible = lines[3].split(";")
    impossible[header.index("Date de naissance")] = "31/02/1970"
    good.write_text(
        "\n".join(
            [lines[0], lines[1], ";".join(broken), ";".join(impossible), lines[4], lines[1], "a;b"]
        )
        + "\n",
        encoding="utf-8",
    )
    result = run(good)
    assert result["created"] == 2 and result["rejected"] == 4
    reasons = {r["where"].rsplit(":", 1)[1]: (r["code"], r["reason"]) for r in result["rejections"]}
    assert reasons["3"][0] == "missing_name"
    assert reasons["4"][0] == "bad_date" and "31/02/1970" in reasons["4"][1]
    assert reasons["6"][0] == "duplicate" and "bad.csv:2" in reasons["6"][1]
    assert reasons["7"][0] == "column_count"
    assert Mandate.objects.count() == 2


def test_an_unreadable_file_stops_the_whole_import(rne: Path, tmp_path: Path) -> None:
    garbage = tmp_path / "elus.csv"
    garbage.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)  # a spreadsheet, not a CSV
    with pytest.raises(
        CommandError, match=r"(?s)Aucun fichier importé.*elus\.csv: .*classeur ou une archive"
    ):
        run(rne / "elus-deputes-dep.csv", garbage)
    assert not Mandate.objects.exists() and not Account.objects.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [("max_end_share", "1.5", "entre 0 et 1"), ("batch_size", "0", "entier positif")],
)
def test_bad_options_are_refused(rne: Path, option: str, value: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(rne / "elus-deputes-dep.csv", **{option: value})
    assert not Mandate.objects.exists()


def test_the_real_samples_import_cleanly_and_reimport_as_a_no_op(
    shared_data: Path, tmp_path: Path
) -> None:
    rne = shared_data / RNE
    current = sorted(
        path
        for path in rne.glob("*.csv")
        # Older leftovers of two resources, superseded by the files kept (data README).
        if path.name
        not in {"elus-conseillers-darrondissements-ca.csv", "elus-membres-dune-asseemblee-ma.csv"}
        and path.name != "elus-maires-mai.csv"  # 32,475 rows: read in the tests above
    )
    amo = shared_data / "france/assemblee-nationale/amo"
    first = run(*current, amo, report=tmp_path / "first.json", force=True)
    assert first["rejected"] == 0, first["rejections"]
    assert first["created"] > 4000
    last = Mandate.objects.aggregate(last=Max("id"))["last"]
    before = snapshot()
    again = run(*current, amo, report=tmp_path / "again.json")
    assert (again["created"], again["updated"], again["ended"]) == (0, 0, 0)
    assert snapshot() == before
    assert Mandate.objects.aggregate(last=Max("id"))["last"] == last


def test_the_service_reads_any_roster_stream(rne: Path) -> None:
    report = import_rosters(
        read_roster(rne / "elus-representants-parlement-europeen-rpe.csv"),
        ImportOptions(domain=DOMAIN, batch_size=7),
    )
    assert report.counts["created"] == 81
    assert Institution.objects.get().name == "Parlement européen"


def _key_of_row(path: Path, index: int) -> str:
    entries = [e for e in read_roster(path) if isinstance(e, RosterEntry)]
    person = entries[index].person
    return person_key(person.given_names, person.family_name, person.birth_date)
