"""Reading official rosters: every real file of ../shared/data/france, then hostile variants
made from those files (re-encoded, re-quoted, re-dated, truncated, corrupted).

Counts and values are those of the real files, as described in the data README.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import shutil
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parvis.identity.rosters import (
    MandateKind,
    RosterEntry,
    RosterError,
    RosterFormat,
    RosterRejection,
    handle_base,
    load_mapping,
    parse_date,
    propose_handle,
    read_csv,
    read_roster,
)
from parvis.identity.services import validate_handle

RNE = "france/rne/2026-04-24"
DATAN = "france/assemblee-nationale/datan/deputes-active_2026-03-09.csv"
AMO = "france/assemblee-nationale/amo"

# Rows per file (header excluded), from ../shared/data/README.md, section 1.
RNE_FILES = {
    "elus-maires-mai.csv": (32_475, MandateKind.MAYOR),
    "elus-conseillers-departementaux-cd.csv": (4_038, MandateKind.DEPARTMENTAL_COUNCILLOR),
    "elus-conseillers-regionaux-cr.csv": (1_745, MandateKind.REGIONAL_COUNCILLOR),
    "elus-deputes-dep.csv": (577, MandateKind.DEPUTY),
    "elus-senateurs-sen.csv": (348, MandateKind.SENATOR),
    "elus-conseillers-arrondissements-ca.csv": (1_027, MandateKind.SECTOR_COUNCILLOR),
    "elus-conseillers-darrondissements-ca.csv": (1_025, MandateKind.SECTOR_COUNCILLOR),
    "elus-membres-dune-assemblee-ma.csv": (588, MandateKind.SPECIAL_ASSEMBLY_MEMBER),
    "elus-membres-dune-asseemblee-ma.csv": (585, MandateKind.SPECIAL_ASSEMBLY_MEMBER),
    "elus-representants-parlement-europeen-rpe.csv": (81, MandateKind.MEP),
    "elus-assemblee-des-francais-de-letranger-afe.csv": (89, MandateKind.AFE_MEMBER),
    "elus-conseillers-des-francais-de-letranger-cons.csv": (441, MandateKind.CONSULAR_COUNCILLOR),
}
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read(
    path: Path, *, mapping: Path | None = None
) -> tuple[list[RosterEntry], list[RosterRejection]]:
    entries: list[RosterEntry] = []
    rejections: list[RosterRejection] = []
    for item in read_roster(path, mapping=mapping):
        if isinstance(item, RosterEntry):
            entries.append(item)
        else:
            rejections.append(item)
    return entries, rejections


def essence(entries: list[RosterEntry]) -> list[tuple[object, ...]]:
    """What must not change when only the file's form changes (not its path)."""
    return [(e.line, e.person, e.mandate, e.territory, e.contact) for e in entries]


def by_line(entries: list[RosterEntry]) -> dict[int | None, RosterEntry]:
    return {e.line: e for e in entries}


@pytest.fixture
def rne(shared_data: Path) -> Path:
    return shared_data / RNE


# --- The real files -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), RNE_FILES.items(), ids=list(RNE_FILES))
def test_every_rne_file_reads_whole(
    rne: Path, name: str, expected: tuple[int, MandateKind]
) -> None:
    count, kind = expected
    entries, rejections = read(rne / name)
    assert rejections == []
    assert len(entries) == count
    assert {e.mandate.kind for e in entries} == {kind}
    assert {e.format for e in entries} == {RosterFormat.RNE}
    assert all(e.person.family_name and e.person.gender in ("M", "F") for e in entries)
    assert all(e.person.birth_date and e.person.birth_date < e.mandate.start_date for e in entries)
    # Lines are the physical lines of the file: 2 to count + 1.
    assert [e.line for e in entries] == list(range(2, count + 2))


def test_the_kind_comes_from_the_header_never_from_the_file_name(rne: Path, tmp_path: Path) -> None:
    for index, (name, (count, kind)) in enumerate(RNE_FILES.items()):
        if count > 5_000:
            continue
        # The singular names of a later publication, and names that mean nothing.
        for new_name in (name.replace("elus-", "elu-"), f"export-{index}.csv", f"{index}.txt"):
            copy = tmp_path / new_name
            shutil.copy(rne / name, copy)
            entries, _ = read(copy)
            assert {e.mandate.kind for e in entries} == {kind}, new_name


def test_mayors_real_values(rne: Path) -> None:
    entries, _ = read(rne / "elus-maires-mai.csv")
    first = entries[0]
    assert (first.person.family_name, first.person.given_names) == ("EVALET TAPONAT", "Line")
    assert first.person.gender == "F"
    assert first.person.birth_date == date(1967, 7, 22)
    assert first.mandate.start_date == date(2026, 3, 15)
    assert first.mandate.function_start_date == date(2026, 3, 23)
    assert first.territory.departement_code == "01"
    assert first.territory.commune_code == "01001"
    assert first.territory.commune_label == "L'Abergement-Clémenciat"
    communes = {e.territory.commune_code: e for e in entries}
    assert len(communes) == 32_475  # one mayor per commune
    assert all(len(code) == 5 for code in communes)
    afa = communes["2A001"]
    assert (afa.person.family_name, afa.territory.departement_code) == ("MINICONI", "2A")
    assert (afa.territory.collectivite_code, afa.territory.collectivite_label) == ("94", "Corse")
    # Martinique: no département code, the collectivité à statut particulier instead.
    ajoupa = communes["97201"]
    assert ajoupa.territory.departement_code == ""
    assert ajoupa.territory.collectivite_code == "972"
    assert ajoupa.territory.commune_label == "L'Ajoupa-Bouillon"
    departements = Counter(e.territory.departement_code for e in entries)
    assert departements[""] == 121
    assert {"2A", "2B", "971", "974", "976"} <= set(departements)


def test_deputies_with_two_digit_years_and_unpadded_codes(rne: Path) -> None:
    entries, _ = read(rne / "elus-deputes-dep.csv")
    lines = by_line(entries)
    breton = lines[2]
    assert (breton.person.family_name, breton.person.given_names) == ("BRETON", "Xavier")
    assert breton.person.birth_date == date(1962, 11, 25)  # written 25/11/62
    assert breton.mandate.start_date == date(2024, 7, 8)  # written 08/07/24
    assert breton.territory.departement_code == "01"  # written 1
    assert breton.territory.circonscription_code == "0101"  # written 101
    assert breton.territory.circonscription_label == "1Ère Circonscription"
    codes = {e.territory.circonscription_code for e in entries}
    assert {"2A01", "2B02", "97101", "97701", "98801", "ZZ01", "ZZ11"} <= codes
    abroad = [e for e in entries if e.territory.departement_code == "ZZ"]
    assert len(abroad) == 11  # the eleven circonscriptions of the French abroad
    marcangeli = next(e for e in entries if e.person.family_name == "MARCANGELI")
    assert marcangeli.territory.departement_code == "2A"
    assert marcangeli.territory.collectivite_code == "94"
    gumbs = next(e for e in entries if e.person.family_name == "GUMBS")
    assert (gumbs.territory.collectivite_code, gumbs.person.birth_date) == ("ZX", date(1954, 1, 21))


def test_sector_councillors_comma_separated_with_births_in_2000(rne: Path) -> None:
    entries, _ = read(rne / "elus-conseillers-arrondissements-ca.csv")
    amico = entries[0]
    assert amico.person.birth_date == date(1955, 8, 25)  # 25/08/55
    assert amico.mandate.start_date == date(2026, 3, 22)  # 22/03/26
    assert amico.territory.commune_code == "13055"
    assert amico.territory.section_label == "Marseille Secteur 1"
    bourneuf = entries[1]
    assert bourneuf.person.family_name == "BOURNEUF"
    assert bourneuf.person.birth_date == date(2000, 4, 18)  # 18/04/00: not 1900
    assert {e.territory.commune_code for e in entries} == {"13055", "69123", "75056"}
    # The older resource: semicolons, four-digit years, the 2020 mandates.
    old, _ = read(rne / "elus-conseillers-darrondissements-ca.csv")
    assert old[0].person.birth_date == date(1955, 8, 25)
    assert old[0].mandate.start_date == date(2020, 6, 28)
    assert old[1].mandate.function_label == "7ème adjoint au maire d'arrondissement"


def test_departmental_and_regional_councillors_keep_the_rne_codes(rne: Path) -> None:
    departmental, _ = read(rne / "elus-conseillers-departementaux-cd.csv")
    assert departmental[0].territory.canton_code == "0101"
    assert departmental[0].territory.canton_label == "Ambérieu-En-Bugey"
    alsace = [e for e in departmental if e.territory.departement_code == "6AE"]
    assert alsace and alsace[0].territory.canton_code == "6701"
    assert {e.territory.canton_code for e in departmental if e.territory.departement_code == "976"}
    presidents = [e for e in departmental if e.mandate.function_label.startswith("Président")]
    assert presidents and all(e.mandate.function_start_date for e in presidents)
    regional, _ = read(rne / "elus-conseillers-regionaux-cr.csv")
    first = regional[0]
    assert (first.territory.region_code, first.territory.region_label) == ("01", "Guadeloupe")
    assert first.territory.departement_code == "971"  # the section départementale
    sections = {e.territory.departement_code for e in regional}
    assert {"69M", "6AE", "974", "01"} <= sections


def test_publisher_typos_in_headers_are_read(rne: Path) -> None:
    # "Libellé la circonscription AFE" (sic) and "Libellé la circ. AFE" (sic).
    consular, _ = read(rne / "elus-conseillers-des-francais-de-letranger-cons.csv")
    first = consular[0]
    assert (first.territory.afe_code, first.territory.afe_label) == ("1", "Canada")
    assert first.territory.circonscription_code == "101"
    assert first.territory.circonscription_label == "Canada - 1re circonscription"
    assert first.mandate.function_label == "Président du conseil consulaire"
    assert first.mandate.function_start_date == date(2022, 10, 24)
    afe, _ = read(rne / "elus-assemblee-des-francais-de-letranger-afe.csv")
    assert {e.territory.afe_code for e in afe} == {str(n) for n in range(1, 16)}
    # "Libellé du  département" (double space) in the special-status assemblies.
    members, _ = read(rne / "elus-membres-dune-assemblee-ma.csv")
    labelled = {e.territory.departement_label for e in members if e.territory.departement_code}
    assert labelled == {"Rhône", "Martinique", "Guyane"}
    briand = members[0]
    assert (briand.territory.collectivite_code, briand.mandate.function_label) == (
        "975",
        "Président de l'assemblée",
    )
    assert {"69M", "94", "ZX"} & {e.territory.collectivite_code for e in members} == {"69M", "94"}
    lyon = [e for e in members if e.territory.collectivite_code == "69M"]
    assert all(len(e.territory.circonscription_code) == 5 for e in lyon)
    assert {e.territory.section_code for e in members} >= {"02ZB1", "03ZC8"}


def test_senators_and_meps(rne: Path) -> None:
    senators, _ = read(rne / "elus-senateurs-sen.csv")
    abroad = [e for e in senators if e.territory.departement_code == "ZZ"]
    assert len(abroad) == 12
    polynesia = [e for e in senators if e.territory.collectivite_code == "987"]
    assert polynesia and all(e.territory.departement_code == "" for e in polynesia)
    meps, _ = read(rne / "elus-representants-parlement-europeen-rpe.csv")
    assert (meps[0].person.family_name, meps[0].person.given_names) == ("ALLIONE", "Grégory")
    assert meps[0].mandate.start_date == date(2024, 7, 16)
    assert all(e.territory == meps[0].territory for e in meps)  # no territory at all


def test_datan_deputies(shared_data: Path) -> None:
    entries, rejections = read(shared_data / DATAN)
    assert rejections == []
    assert len(entries) == 577
    assert {e.format for e in entries} == {RosterFormat.DATAN}
    david = entries[0]
    assert david.person.external_id == "PA1008"
    assert (david.person.family_name, david.person.given_names) == ("David", "Alain")
    assert david.person.birth_date == date(1949, 6, 2)
    assert david.person.birth_place == "Libourne"
    assert david.mandate.start_date == date(2024, 7, 8)
    assert (david.territory.departement_code, david.territory.circonscription_code) == (
        "33",
        "3304",
    )
    assert david.contact.email == "Alain.David@assemblee-nationale.fr"
    assert david.contact.website == "https://alain-david.com"
    assert entries[1].contact.x_handle == "JeromeGuedj"  # written @JeromeGuedj
    websites = {e.contact.website for e in entries}
    assert "https://www.veroniquebesse.fr" in websites  # written /www.veroniquebesse.fr
    handles = {e.contact.x_handle for e in entries} - {""}
    # 377 rows have one; "@Romain Eskenazi" is not a handle and is dropped.
    assert len(handles) == 376
    assert {"FlorenceGoulet4", "paulchristophle"} <= handles  # "@X@…", "@x.com/…"
    codes = Counter(e.territory.departement_code for e in entries)
    assert codes["2A"] == 2 and "2a" not in codes  # written 2a
    assert codes["ZZ"] == 11  # written 099
    assert all(e.person.gender in ("M", "F") for e in entries)


def test_assemblee_nationale_acteur_folder(shared_data: Path) -> None:
    entries, rejections = read(shared_data / AMO)
    assert rejections == []
    kinds = Counter(e.mandate.kind for e in entries)
    # 302 acteurs: 290 deputies (one ASSEMBLEE mandate each), 4 members of the
    # Bayrou government; 12 acteurs without mandats and the missions yield nothing.
    assert kinds == {MandateKind.DEPUTY: 290, MandateKind.GOVERNMENT_MEMBER: 4}
    david = next(e for e in entries if e.person.external_id == "PA1008")
    assert david.line is None and david.path.endswith("PA1008.json")
    assert david.person.birth_date == date(1949, 6, 2)
    assert david.mandate.external_id == "PM842621"
    assert david.mandate.start_date == date(2024, 7, 8)  # took office, not elected (07-07)
    assert david.mandate.body_label == "Assemblée nationale de la 17ème législature"
    assert (david.territory.departement_code, david.territory.circonscription_code) == (
        "33",
        "3304",
    )
    assert david.territory.region_label == "Nouvelle-Aquitaine"
    assert david.contact.email == "Alain.David@assemblee-nationale.fr"
    guedj = next(e for e in entries if e.person.external_id == "PA1567")
    assert guedj.contact.x_handle == "JeromeGuedj"
    abroad = [e for e in entries if e.territory.departement_code == "ZZ"]  # numDepartement 099
    assert len(abroad) == 9 and all(e.territory.circonscription_code[:2] == "ZZ" for e in abroad)
    government = [e for e in entries if e.mandate.kind == MandateKind.GOVERNMENT_MEMBER]
    letard = next(e for e in government if e.person.external_id == "PA227089")
    assert letard.mandate.body_label == "Gouvernement BAYROU"
    assert letard.mandate.start_date == date(2024, 12, 24)
    # The mandate has no end date; the Bayrou government ended on 2025-09-09.
    assert {e.mandate.end_date for e in government} == {date(2025, 9, 9)}
    assert not any(e.person.external_id == "PA605991" for e in entries)  # no mandats


def test_one_acteur_file_finds_its_organes_beside_it(shared_data: Path) -> None:
    entries, _ = read(shared_data / AMO / "acteur" / "PA227089.json")
    kinds = {e.mandate.kind: e for e in entries}
    assert set(kinds) == {MandateKind.DEPUTY, MandateKind.GOVERNMENT_MEMBER}
    assert kinds[MandateKind.GOVERNMENT_MEMBER].mandate.body_code == "PO855052"
    assert kinds[MandateKind.GOVERNMENT_MEMBER].mandate.body_label == "Gouvernement BAYROU"


def test_three_sources_agree_on_the_deputies_circonscriptions(shared_data: Path) -> None:
    rne, _ = read(shared_data / RNE / "elus-deputes-dep.csv")
    datan, _ = read(shared_data / DATAN)
    amo, _ = read(shared_data / AMO)
    rne_codes = {e.territory.circonscription_code for e in rne}
    datan_codes = {e.territory.circonscription_code for e in datan}
    amo_codes = {
        e.territory.circonscription_code for e in amo if e.mandate.kind == MandateKind.DEPUTY
    }
    assert len(datan_codes) == 577
    # Padded the same way from "101", "1"+"1", "01"+"1", "099"+"4": only the RNE's
    # "10001" for the 1st circonscription of the Aude is its own.
    assert rne_codes - datan_codes == {"10001"}
    assert amo_codes <= datan_codes
    datan_by_id = {e.person.external_id: e for e in datan}
    for entry in amo:
        if entry.mandate.kind == MandateKind.DEPUTY:
            twin = datan_by_id[entry.person.external_id]
            assert twin.territory.circonscription_code == entry.territory.circonscription_code
            assert twin.person.birth_date == entry.person.birth_date


def test_municipal_and_community_councillor_headers(rne: Path, tmp_path: Path) -> None:
    # The CM and EPCI files are too large for the samples; their headers (data README,
    # section 9) are rebuilt around real mayors rows.
    rows = real_rows(rne / "elus-maires-mai.csv")[:501]
    header = rows[0]
    municipal = [
        [*header[:13], "Libellé de la fonction", header[13], "Code nationalité"],
        *([*row[:13], "Maire", row[13], "FR"] for row in rows[1:]),
    ]
    entries, rejections = read(write_rows(tmp_path / "elus-conseiller-municipal-cm.csv", municipal))
    assert rejections == [] and len(entries) == 500
    assert {e.mandate.kind for e in entries} == {MandateKind.MUNICIPAL_COUNCILLOR}
    assert {e.mandate.function_label for e in entries} == {"Maire"}
    community = [
        [
            *header[:4],
            "N° SIREN",
            "Libellé de l'EPCI",
            "Code de la commune de rattachement",
            "Libellé de la commune de rattachement",
            *header[6:13],
            "Libellé de la fonction",
            header[13],
        ],
        *(
            [*row[:4], f"2{index:08d}", "CC", *row[4:13], "Président", row[13]]
            for index, row in enumerate(rows[1:])
        ),
    ]
    entries, rejections = read(write_rows(tmp_path / "epci.csv", community))
    assert rejections == [] and len(entries) == 500
    assert {e.mandate.kind for e in entries} == {MandateKind.COMMUNITY_COUNCILLOR}
    assert entries[0].territory.epci_siren == "200000000"
    assert entries[0].territory.commune_code == "01001"


def test_real_files_that_are_not_rosters_are_refused(shared_data: Path) -> None:
    for name in (
        "france/annuaire-administration/dada-authorities_emails_valide0.csv",
        "fediverse-official-accounts/jmrplens_MAIN_2023-05-30.csv",
    ):
        with pytest.raises(RosterError) as refused:
            read_roster(shared_data / name)
        assert refused.value.code == "unknown_kind"
        assert "en-tête inconnu" in refused.value.reason
    with pytest.raises(RosterError) as refused:
        read_roster(shared_data / "france/domaines-publics/urls_2024-12-11.txt")
    assert refused.value.code == "separator"
    with pytest.raises(RosterError) as refused:
        read_roster(shared_data / AMO / "organe" / "PO855052.json")
    assert refused.value.code == "unknown_kind"
    assert str(refused.value).startswith(str(shared_data / AMO / "organe" / "PO855052.json"))


def test_read_csv_gives_raw_rows_as_the_demo_uses_them(rne: Path, tmp_path: Path) -> None:
    rows = list(read_csv(rne / "elus-maires-mai.csv"))
    assert len(rows) == 32_475
    assert rows[0].get("Code de la commune") == "01001"
    members = list(read_csv(rne / "elus-membres-dune-assemblee-ma.csv"))
    assert "Libellé du département" in members[0].values  # double space collapsed
    cp1252 = tmp_path / "deputes.csv"
    cp1252.write_bytes((rne / "elus-deputes-dep.csv").read_text("utf-8").encode("cp1252"))
    assert list(read_csv(cp1252))[1].get("Nom de l'élu") == "DAUBIÉ"


# --- Hostile variants made from the real files ---------------------------------------


def real_rows(path: Path) -> list[list[str]]:
    """The header and rows of a real file, read with the csv module alone."""
    text = path.read_text("utf-8")
    delimiter = csv.Sniffer().sniff(text.split("\n", 1)[0], ";,").delimiter
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def write_rows(
    path: Path,
    rows: list[list[str]],
    *,
    delimiter: str = ";",
    quoting: int = csv.QUOTE_MINIMAL,
    encoding: str = "utf-8",
    newline: str = "\n",
) -> Path:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, quoting=quoting, lineterminator=newline).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def map_dates(
    rows: list[list[str]], change: str | Callable[[re.Match[str]], str]
) -> list[list[str]]:
    pattern = re.compile(r"^(\d{2})/(\d{2})/(\d{4})$")
    return [rows[0]] + [[pattern.sub(change, cell) for cell in row] for row in rows[1:]]


def unpad_codes(rows: list[list[str]]) -> list[list[str]]:
    codes = [i for i, name in enumerate(rows[0]) if name.startswith("Code") and "socio" not in name]
    return [rows[0]] + [
        [cell.lstrip("0") if i in codes and cell.isdigit() else cell for i, cell in enumerate(row)]
        for row in rows[1:]
    ]


@pytest.mark.parametrize(
    "name",
    [
        "elus-conseillers-departementaux-cd.csv",
        "elus-deputes-dep.csv",
        "elus-conseillers-arrondissements-ca.csv",
        "elus-conseillers-des-francais-de-letranger-cons.csv",
    ],
)
def test_same_entries_whatever_the_form_of_the_file(rne: Path, tmp_path: Path, name: str) -> None:
    original, _ = read(rne / name)
    expected = essence(original)
    rows = real_rows(rne / name)
    raw = (rne / name).read_bytes()
    variants = {
        "cp1252.csv": raw.decode("utf-8").encode("cp1252"),
        "bom.csv": b"\xef\xbb\xbf" + raw,
        "crlf.csv": raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"),
        "cr.csv": raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r"),
        "utf16.csv": raw.decode("utf-8").encode("utf-16"),  # Excel "texte Unicode"
        "utf16le.csv": raw.decode("utf-8").encode("utf-16-le"),  # the same without BOM
        "utf32.csv": raw.decode("utf-8").encode("utf-32"),
    }
    for file_name, content in variants.items():
        (tmp_path / file_name).write_bytes(content)
    write_rows(tmp_path / "comma.csv", rows, delimiter=",", quoting=csv.QUOTE_ALL)
    write_rows(tmp_path / "tab.csv", rows, delimiter="\t", newline="\r\n")
    write_rows(tmp_path / "bare.csv", rows, quoting=csv.QUOTE_MINIMAL)
    write_rows(tmp_path / "unpadded.csv", unpad_codes(rows), quoting=csv.QUOTE_NONNUMERIC)
    write_rows(tmp_path / "cp1252-tab.csv", rows, delimiter="\t", encoding="cp1252")
    for variant in sorted(tmp_path.iterdir()):
        entries, rejections = read(variant)
        assert rejections == [], variant.name
        assert essence(entries) == expected, variant.name


def test_iso_and_two_digit_years_give_the_same_dates(rne: Path, tmp_path: Path) -> None:
    # The mayors file, 32,475 birth dates written dd/mm/yy: each must land in the
    # right century, resolved against its own mandate start.
    name = "elus-maires-mai.csv"
    expected = essence(read(rne / name)[0])
    rows = real_rows(rne / name)
    iso = write_rows(tmp_path / "iso.csv", map_dates(rows, r"\3-\2-\1"))
    short = write_rows(tmp_path / "yy.csv", map_dates(rows, lambda m: f"{m[1]}/{m[2]}/{m[3][2:]}"))
    for variant in (iso, short):
        entries, rejections = read(variant)
        assert rejections == []
        assert essence(entries) == expected, variant.name


def test_mayors_in_windows_1252_with_unpadded_codes(rne: Path, tmp_path: Path) -> None:
    name = "elus-maires-mai.csv"
    expected = essence(read(rne / name)[0])
    variant = write_rows(
        tmp_path / "maires.csv",
        unpad_codes(real_rows(rne / name)),
        delimiter=",",
        quoting=csv.QUOTE_ALL,
        encoding="cp1252",
        newline="\r\n",
    )
    entries, rejections = read(variant)
    assert rejections == []
    assert essence(entries) == expected


def corrupt(
    rne: Path,
    tmp_path: Path,
    name: str,
    line: int,
    change: Callable[[bytes], bytes],
    keep: int | None = None,
) -> Path:
    """A copy of a real file (its first ``keep`` lines only, if given: the tests run
    on a shared machine) whose physical ``line`` (1 = header) is ``change(line)``."""
    raw = (rne / name).read_bytes()
    end = b"\r\n" if b"\r\n" in raw else b"\n"
    lines = raw.split(end)[:keep]
    lines[line - 1] = change(lines[line - 1])
    path = tmp_path / name
    path.write_bytes(end.join(lines))
    return path


def only_rejection(
    path: Path, expected_entries: int
) -> tuple[RosterRejection, dict[int | None, RosterEntry]]:
    entries, rejections = read(path)
    assert len(rejections) == 1, rejections
    assert len(entries) == expected_entries
    return rejections[0], by_line(entries)


def test_a_truncated_line_is_rejected_and_the_next_lines_still_read(
    rne: Path, tmp_path: Path
) -> None:
    # Quoted file: the cut leaves a quote open; it must not swallow line 11.
    path = corrupt(
        rne, tmp_path, "elus-deputes-dep.csv", 10, lambda b: b[: b.index(b"Circonscription") + 4]
    )
    rejection, lines = only_rejection(path, 576)
    assert (rejection.line, rejection.code) == (10, "column_count")
    assert "guillemet" in rejection.reason
    assert rejection.where == f"{path}:10"
    assert 9 in lines and 11 in lines
    # Unquoted file: fewer columns.
    path = corrupt(rne, tmp_path, "elus-senateurs-sen.csv", 7, lambda b: b[: len(b) // 2])
    rejection, _ = only_rejection(path, 347)
    assert (rejection.line, rejection.code) == (7, "column_count")
    assert rejection.reason.endswith("colonnes au lieu de 11")
    assert rejection.raw  # the start of the line, for whoever fixes the file


def test_a_row_with_an_extra_column_is_rejected(rne: Path, tmp_path: Path) -> None:
    path = corrupt(rne, tmp_path, "elus-senateurs-sen.csv", 5, lambda b: b + b";en trop")
    rejection, _ = only_rejection(path, 347)
    assert (rejection.line, rejection.code, rejection.reason) == (
        5,
        "column_count",
        "12 colonnes au lieu de 11",
    )


def test_a_separator_at_the_end_of_every_line_is_tolerated(rne: Path, tmp_path: Path) -> None:
    raw = (rne / "elus-senateurs-sen.csv").read_bytes()
    path = tmp_path / "sen.csv"
    path.write_bytes(raw.replace(b"\n", b";\n"))
    entries, rejections = read(path)
    assert (len(entries), rejections) == (348, [])


def replace_cell(index: int, value: bytes, delimiter: bytes = b";") -> Callable[[bytes], bytes]:
    def change(line: bytes) -> bytes:
        cells = line.split(delimiter)
        cells[index] = value
        return delimiter.join(cells)

    return change


@pytest.mark.parametrize(
    ("cell", "value", "code", "in_reason"),
    [
        (9, b"31/02/1960", "bad_date", "date impossible : « 31/02/1960 »"),
        (9, b"1960/02/03", "bad_date", "date illisible"),
        (12, b"30/02/2026", "bad_date", "« Date de début du mandat »"),
        (9, b"02/05/2027", "birth_after_start", "postérieure au début du mandat"),
        (6, b"", "missing_name", "nom de famille manquant (« Nom de l'élu »)"),
        (6, b"   ", "missing_name", "nom de famille manquant"),
        (12, b"", "missing_start", "date de début du mandat manquante"),
        (0, b"20", "unknown_departement", "code de département inconnu"),
        (0, b"96", "unknown_departement", "« Code du département » : « 96 »"),
        (0, b"9 7", "bad_code", "code invalide"),
        (4, b"0100I", "bad_code", "code de commune invalide"),
        (4, b"", "missing_territory", "« Code de la commune » manquant"),
        (8, b"X", "bad_gender", "M ou F attendu"),
        (6, b"DUPONT\x07", "control_character", "caractère de contrôle dans « Nom de l'élu »"),
        (7, b"Jean\x00", "control_character", "« Prénom de l'élu »"),
        (7, b'"Jean\x00"', "control_character", "« Prénom de l'élu »"),
        (6, "DUPONT\u202eTNOPUD".encode(), "control_character", "caractère de contrôle"),
        (6, b"X" * 151, "too_long", "« Nom de l'élu » dépasse 150 caractères"),
        (5, "é".encode() * 256, "too_long", "« Libellé de la commune » dépasse 255 caractères"),
    ],
)
def test_bad_values_reject_their_row_only(
    rne: Path, tmp_path: Path, cell: int, value: bytes, code: str, in_reason: str
) -> None:
    path = corrupt(rne, tmp_path, "elus-maires-mai.csv", 3, replace_cell(cell, value), keep=300)
    rejection, lines = only_rejection(path, 298)
    assert (rejection.path, rejection.line, rejection.code) == (str(path), 3, code)
    assert in_reason in rejection.reason
    assert str(rejection).startswith(f"{path}:3: ")
    assert 3 not in lines and lines[4].person.family_name  # no half-filled entry


def test_dates_in_a_quoted_file_with_two_digit_years(rne: Path, tmp_path: Path) -> None:
    # 31/02/60 does not exist in any century.
    path = corrupt(rne, tmp_path, "elus-deputes-dep.csv", 4, replace_cell(9, b"31/02/60"))
    rejection, _ = only_rejection(path, 576)
    assert (rejection.line, rejection.code) == (4, "bad_date")
    # 29/02/00 exists in 2000 (not in 1900): a deputy born then is 24 in 2024.
    path = corrupt(rne, tmp_path, "elus-deputes-dep.csv", 4, replace_cell(9, b"29/02/00"))
    entries, rejections = read(path)
    assert rejections == [] and by_line(entries)[4].person.birth_date == date(2000, 2, 29)


def test_a_line_in_another_encoding_is_rejected_alone(rne: Path, tmp_path: Path) -> None:
    # Line 3 of the mayors file (COUROUBLE François) pasted from a Windows-1252 export.
    path = corrupt(
        rne,
        tmp_path,
        "elus-maires-mai.csv",
        3,
        lambda b: b.decode("utf-8").encode("cp1252"),
        keep=300,
    )
    rejection, _ = only_rejection(path, 298)
    assert (rejection.line, rejection.code) == (3, "encoding")
    assert "UTF-8" in rejection.reason
    # And the other way round: a UTF-8 line in a Windows-1252 file.
    cp1252 = tmp_path / "cp1252.csv"
    lines = (rne / "elus-senateurs-sen.csv").read_text("utf-8").split("\n")
    pasted = next(n for n, line in enumerate(lines) if n and not line.isascii())
    encoded = [
        line.encode("utf-8" if number == pasted else "cp1252") for number, line in enumerate(lines)
    ]
    cp1252.write_bytes(b"\n".join(encoded))
    rejection, _ = only_rejection(cp1252, 347)
    assert (rejection.line, rejection.code) == (pasted + 1, "encoding")
    assert "Windows-1252" in rejection.reason


@pytest.mark.parametrize(
    ("content", "code", "in_reason"),
    [
        (b"", "empty", "fichier vide"),
        (b"\xef\xbb\xbf\r\n\r\n  \n", "empty", "fichier vide"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary", "binaire"),
        (b"Nom;Pr\x81nom;Date\n", "encoding", "ni UTF-8 ni Windows-1252"),
        (b"Nom de famille\nDUPONT\n", "separator", "séparateur introuvable"),
    ],
)
def test_whole_file_refusals(tmp_path: Path, content: bytes, code: str, in_reason: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert refused.value.code == code
    assert in_reason in refused.value.reason
    assert str(refused.value).startswith(str(path))


def test_binary_forms_of_a_real_file_are_refused(rne: Path, tmp_path: Path) -> None:
    raw = (rne / "elus-deputes-dep.csv").read_bytes()
    gz = tmp_path / "deputes.csv"
    gz.write_bytes(gzip.compress(raw))
    xlsx = tmp_path / "deputes.xlsx"
    with zipfile.ZipFile(xlsx, "w") as archive:
        archive.writestr("xl/worksheets/sheet1.xml", raw)
    deflated = tmp_path / "deflated.csv"
    deflated.write_bytes(zlib.compress(raw))
    for path, in_reason in ((gz, "GZIP"), (xlsx, "exportez-le en CSV"), (deflated, "binaire")):
        with pytest.raises(RosterError) as refused:
            read_roster(path)
        assert refused.value.code == "binary"
        assert in_reason in refused.value.reason


def test_headers_of_unknown_kinds_are_refused(rne: Path, tmp_path: Path) -> None:
    # The mayors header without its name column: not a roster this layer knows.
    path = corrupt(rne, tmp_path, "elus-maires-mai.csv", 1, lambda b: b.replace(b"Nom de l", b"X"))
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert (refused.value.code, refused.value.line) == ("unknown_kind", 1)
    # The senators header with one more column: it could be another resource.
    path = corrupt(rne, tmp_path, "elus-senateurs-sen.csv", 1, lambda b: b + b";Code du quartier")
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert refused.value.code == "unknown_kind"
    assert "« Code du quartier »" in refused.value.reason
    # A departmental file with an added column is still departmental (extra ignored).
    path = corrupt(
        rne,
        tmp_path,
        "elus-conseillers-departementaux-cd.csv",
        1,
        lambda b: b.replace(b"Code sexe", b"Code nationalit\xc3\xa9"),
    )
    entries, _ = read(path)
    assert len(entries) == 4_038 and entries[0].person.gender == ""
    # Two columns for one field.
    path = corrupt(
        rne,
        tmp_path,
        "elus-deputes-dep.csv",
        1,
        lambda b: b.replace(b'"Code sexe"', b'"Nom de l\'\xc3\xa9lu"'),
    )
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert refused.value.code == "header"


def test_header_only_yields_nothing(rne: Path, tmp_path: Path) -> None:
    path = tmp_path / "maires.csv"
    path.write_bytes((rne / "elus-maires-mai.csv").read_bytes().split(b"\n", 1)[0] + b"\n")
    assert list(read_roster(path)) == []


# --- Assemblée nationale JSON, hostile -------------------------------------------------


@pytest.fixture
def amo_copy(shared_data: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "amo"
    shutil.copytree(shared_data / AMO, copy)
    return copy


def rewrite(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(path.read_text("utf-8"))
    change(data["acteur"])
    path.write_text(json.dumps(data, ensure_ascii=False), "utf-8")


def test_amo_xml_shapes_single_objects_nils_and_plain_ids(amo_copy: Path) -> None:
    path = amo_copy / "acteur" / "PA1008.json"

    def only_the_seat(acteur: dict[str, Any]) -> None:
        seat = next(m for m in acteur["mandats"]["mandat"] if m["typeOrgane"] == "ASSEMBLEE")
        seat["dateFin"] = {
            "@xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "@xsi:nil": "true",
        }
        seat["organes"]["organeRef"] = [seat["organes"]["organeRef"]]
        acteur["mandats"]["mandat"] = seat  # one element: an object, not a list
        acteur["uid"] = "PA1008"  # a plain string instead of {"#text": …}
        acteur["adresses"]["adresse"] = acteur["adresses"]["adresse"][-1]

    rewrite(path, only_the_seat)
    entries, rejections = read(path)
    assert rejections == []
    [seat] = entries
    assert seat.person.external_id == "PA1008"
    assert seat.mandate.end_date is None
    assert seat.mandate.body_label == "Assemblée nationale de la 17ème législature"
    assert seat.contact.email == "Alain.David@assemblee-nationale.fr"


def test_amo_bad_records_are_rejected_and_the_folder_still_reads(amo_copy: Path) -> None:
    rewrite(amo_copy / "acteur" / "PA1008.json", lambda a: a["etatCivil"]["ident"].pop("nom"))
    rewrite(
        amo_copy / "acteur" / "PA1567.json",
        lambda a: a["etatCivil"]["infoNaissance"].update(dateNais="1972-02-31"),
    )
    (amo_copy / "acteur" / "PA1630.json").write_text('{"acteur": {"uid": ', "utf-8")
    entries, rejections = read(amo_copy)
    assert len(entries) == 294 - 3
    assert sorted((Path(r.path).name, r.code) for r in rejections) == [
        ("PA1008.json", "missing_name"),
        ("PA1567.json", "bad_date"),
        ("PA1630.json", "json"),
    ]
    missing = rejections[0]
    assert (missing.line, missing.record) == (None, "PA1008 PM842621")
    assert missing.where.endswith("PA1008.json [PA1008 PM842621]")
    assert "etatCivil.ident.nom" in missing.reason
    assert "« etatCivil.infoNaissance.dateNais » : date impossible" in rejections[1].reason


def test_amo_file_refusals(tmp_path: Path) -> None:
    invalid = tmp_path / "PA1.json"
    invalid.write_text("{not json", "utf-8")
    with pytest.raises(RosterError) as refused:
        read_roster(invalid)
    assert refused.value.code == "json"
    other = tmp_path / "other.json"
    other.write_text('{"something": []}', "utf-8")
    with pytest.raises(RosterError) as refused:
        read_roster(other)
    assert refused.value.code == "unknown_kind"
    with pytest.raises(RosterError) as refused:
        read_roster(tmp_path / "missing.csv")
    assert refused.value.code == "not_found"


def test_amo_export_file_holding_acteurs_and_organes(shared_data: Path, tmp_path: Path) -> None:
    acteurs = [
        json.loads(p.read_text("utf-8"))["acteur"]
        for p in sorted((shared_data / AMO / "acteur").glob("*.json"))
    ]
    organes = [
        json.loads(p.read_text("utf-8"))["organe"]
        for p in sorted((shared_data / AMO / "organe").glob("*.json"))
    ]
    export = tmp_path / "AMO10.json"
    export.write_text(
        json.dumps({"export": {"organes": {"organe": organes}, "acteurs": {"acteur": acteurs}}}),
        "utf-8",
    )
    entries, rejections = read(export)
    folder, _ = read(shared_data / AMO)
    assert rejections == []
    assert [(e.person, e.mandate, e.territory) for e in entries] == [
        (e.person, e.mandate, e.territory) for e in folder
    ]


# --- Mapped CSV ------------------------------------------------------------------------


def mapped_senators(rne: Path, tmp_path: Path) -> Path:
    """The real senators, re-exported by "another institution": its own column names,
    civilities instead of sex codes, two-digit years."""
    rows = real_rows(rne / "elus-senateurs-sen.csv")
    out = [["Département", "NOM", "Prénom", "Civilité", "Né(e) le", "Élu(e) depuis", "Divers"]]
    for row in rows[1:]:
        civility = "M." if row[6] == "M" else "Mme"
        out.append(
            [
                row[0],
                row[4],
                row[5],
                civility,
                row[7][:6] + row[7][8:],
                row[10][:6] + row[10][8:],
                "x",
            ]
        )
    return write_rows(tmp_path / "senat.csv", out, delimiter=",")


MAPPING_TOML = """
kind = "Sénateur"
date_format = "%d/%m/%y"

[columns]
"Département" = "departement_code"
"nom" = "family_name"
"Prenom" = "given_names"
"Civilité" = "gender"
"Né(e) le" = "birth_date"
"Élu(e) depuis" = "mandate_start"

[constants]
function_label = "Sénateur"
"""


def test_a_csv_with_a_mapping_file(rne: Path, tmp_path: Path) -> None:
    senat = mapped_senators(rne, tmp_path)
    mapping = tmp_path / "senat.toml"
    mapping.write_text(MAPPING_TOML, "utf-8")
    entries, rejections = read(senat, mapping=mapping)
    original, _ = read(rne / "elus-senateurs-sen.csv")
    assert rejections == []
    assert {e.format for e in entries} == {RosterFormat.MAPPED}
    assert {e.mandate.kind for e in entries} == {MandateKind.SENATOR}
    assert {e.mandate.function_label for e in entries} == {"Sénateur"}
    # %y is resolved by age: Python's own pivot would put a senator born in 1955 in 2055.
    assert [e.person for e in entries] == [e.person for e in original]
    assert [e.mandate.start_date for e in entries] == [e.mandate.start_date for e in original]
    # The same mapping as JSON.
    as_json = tmp_path / "senat.json"
    loaded = load_mapping(mapping)
    as_json.write_text(
        json.dumps(
            {
                "kind": "senator",
                "date_format": loaded.date_format,
                "columns": dict(loaded.columns),
                "constants": dict(loaded.constants),
            }
        ),
        "utf-8",
    )
    assert essence(read(senat, mapping=as_json)[0]) == essence(entries)


@pytest.mark.parametrize(
    ("toml", "code", "in_reason"),
    [
        ('[columns]\n"NOM" = "surname"\n', "mapping", "champs inconnus : surname"),
        ('[columns]\n"NOM" = "family_name"\n', "mapping", "« mandate_start »"),
        ("kind = [\n", "mapping", "invalide"),
        ('extra = 1\n[columns]\n"NOM" = "family_name"\n', "mapping", "clés inconnues"),
        (
            'kind = "maire adjoint"\n[columns]\n"NOM" = "family_name"\n"Élu(e) depuis" = '
            '"mandate_start"\n',
            "mapping",
            "type de mandat inconnu",
        ),
        (
            '[columns]\n"Nom de famille" = "family_name"\n"Élu(e) depuis" = "mandate_start"\n',
            "unknown_kind",
            "« Nom de famille »",
        ),
    ],
)
def test_mapping_errors(rne: Path, tmp_path: Path, toml: str, code: str, in_reason: str) -> None:
    senat = mapped_senators(rne, tmp_path)
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(toml, "utf-8")
    with pytest.raises(RosterError) as refused:
        read_roster(senat, mapping=mapping)
    assert refused.value.code == code
    assert in_reason in refused.value.reason


def test_a_mapped_kind_column(tmp_path: Path) -> None:
    path = tmp_path / "mix.csv"
    path.write_text(
        "Nom;Début;Mandat\nMARTIN;2021-07-01;Conseiller départemental\nDURAND;2021-07-01;préfet\n",
        "utf-8",
    )
    mapping = tmp_path / "mix.toml"
    mapping.write_text(
        '[columns]\nNom = "family_name"\n"Début" = "mandate_start"\nMandat = "kind"\n', "utf-8"
    )
    entries, rejections = read(path, mapping=mapping)
    # A mapped file need not have the territory columns of the RNE resource.
    assert [e.mandate.kind for e in entries] == [MandateKind.DEPARTMENTAL_COUNCILLOR]
    assert [(r.line, r.code) for r in rejections] == [(3, "bad_kind")]
    assert "« Mandat » : « préfet »" in rejections[0].reason


# --- Dates -----------------------------------------------------------------------------


@PROPERTY
@given(
    start=st.dates(min_value=date(1990, 1, 1), max_value=date.today()),
    age_days=st.integers(min_value=18 * 366, max_value=117 * 365),
)
def test_two_digit_birth_years_resolve_by_age(start: date, age_days: int) -> None:
    birth = start - timedelta(days=age_days)
    written = birth.strftime("%d/%m/") + f"{birth.year % 100:02d}"
    assert parse_date(written, before=start) == birth


def test_two_digit_mandate_years_are_never_in_the_far_future() -> None:
    assert parse_date("22/03/26") == date(2026, 3, 22)
    assert parse_date("01/10/20") == date(2020, 10, 1)
    assert parse_date("01/10/80") == date(1980, 10, 1)
    assert parse_date("1962-11-25") == date(1962, 11, 25)
    assert parse_date("2024-07-08T00:00:00+02:00") == date(2024, 7, 8)
    for impossible in ("29/02/01", "31/04/2020", "00/01/2020", "2020-13-01"):
        with pytest.raises(ValueError, match=r"impossible|illisible"):
            parse_date(impossible)


# --- Handles ---------------------------------------------------------------------------


def test_handles_are_folded_readable_prenom_dot_nom() -> None:
    assert propose_handle("Line", "EVALET TAPONAT") == "line.evalet-taponat"
    assert propose_handle("Jean-Louis", "DE L'ÉPÉE") == "jean-louis.de-l-epee"
    assert propose_handle("Zoë Œdipe", "Ørsted-Łukasz") == "zoe-oedipe.orsted-lukasz"
    assert propose_handle("", "ADMIN") == "admin-2"  # a reserved word is never proposed
    assert propose_handle("北京", "") == "elu"
    long = propose_handle("Marie-Christine Anne-Sophie", "X" * 80, birth_date=date(1960, 1, 1))
    assert len(long) == 64 and validate_handle(long) == long


def test_homonyms_get_the_birth_year_then_a_counter() -> None:
    born = date(1967, 5, 2)
    assert propose_handle("Jean", "MARTIN", birth_date=born) == "jean.martin"
    taken = {"jean.martin"}
    assert propose_handle("Jean", "MARTIN", birth_date=born, taken=taken) == "jean.martin-1967"
    taken.add("jean.martin-1967")
    assert propose_handle("Jean", "MARTIN", birth_date=born, taken=taken) == "jean.martin-1967-2"
    assert propose_handle("Jean", "MARTIN", taken=taken) == "jean.martin-2"
    # Deterministic: the same person and taken handles give the same handle.
    assert propose_handle("Jean", "MARTIN", birth_date=born, taken=taken) == "jean.martin-1967-2"


def test_every_mayor_gets_a_distinct_valid_handle(rne: Path) -> None:
    entries, _ = read(rne / "elus-maires-mai.csv")
    taken: set[str] = set()
    for entry in entries:
        person = entry.person
        handle = propose_handle(
            person.given_names, person.family_name, birth_date=person.birth_date, taken=taken
        )
        taken.add(handle)
    assert len(taken) == 32_475
    assert all(validate_handle(handle) == handle for handle in taken)
    homonyms = Counter(handle_base(e.person.given_names, e.person.family_name) for e in entries)
    assert max(homonyms.values()) > 1  # the real file has homonyms: the scheme is exercised
    assert any(re.search(r"-\d{4}$", handle) for handle in taken)


@PROPERTY
@given(
    given_names=st.text(max_size=80),
    family_name=st.text(max_size=80),
    taken=st.sets(st.sampled_from(["jean", "jean.martin", "martin", "elu", "elu-2", "a-b"])),
    born=st.none() | st.dates(min_value=date(1900, 1, 1), max_value=date(2010, 1, 1)),
)
def test_handles_always_pass_the_account_rules(
    given_names: str, family_name: str, taken: set[str], born: date | None
) -> None:
    handle = propose_handle(given_names, family_name, birth_date=born, taken=taken)
    assert handle not in taken
    try:
        assert validate_handle(handle) == handle
    except ValidationError as error:  # pragma: no cover - the assertion's message
        pytest.fail(f"{handle!r}: {error}")
    assert handle == propose_handle(given_names, family_name, birth_date=born, taken=taken)
