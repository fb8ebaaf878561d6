"""Which roster a CSV header belongs to, and which column feeds which field.

The kind of file is read from its header, never from its name: the publisher
renames files between publications (``elus-maires-mai.csv`` became
``elus-maire-mai.csv``). Column names are compared folded (case, accents,
repeated spaces and typographic apostrophes ignored), and the publisher's own
typos are listed as aliases (``Libellé la circonscription AFE``).

An RNE file is recognised by the columns only its resource has (``Code du
canton`` for departmental councillors, ``Code de la circonscription
législative`` for deputies…). Two resources have no column of their own:
senators (département and collectivité only) and MEPs (no territory at all);
for them an unknown extra column makes the header unknown, since it could
belong to a resource this module has never seen. The other kinds ignore extra
columns: the publisher adds some (``Code nationalité``) from time to time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from parvis.core.text import fold
from parvis.identity.rosters.errors import RosterError
from parvis.identity.rosters.mapping import RosterMapping
from parvis.identity.rosters.records import MandateKind, RosterFormat
from parvis.identity.rosters.textfile import DELIMITERS, header_names

_KEY_SPACES_RE = re.compile(r"\s+")


def column_key(name: str) -> str:
    """The form under which column names are compared (``Libellé du  Département`` →
    ``libelle du departement``)."""
    text = fold(name.replace("\u2019", "'").replace("`", "'").strip().strip('"'))
    return _KEY_SPACES_RE.sub(" ", text)


# RNE column → field; None: a known column this layer does not read.
_RNE_COLUMNS: dict[str, str | None] = {
    "nom de l'elu": "family_name",
    "prenom de l'elu": "given_names",
    "code sexe": "gender",
    "date de naissance": "birth_date",
    "lieu de naissance": "birth_place",
    "code de la categorie socio-professionnelle": None,
    "libelle de la categorie socio-professionnelle": None,
    "code nationalite": None,
    "date de debut du mandat": "mandate_start",
    "date de fin du mandat": "end_date",
    "libelle de la fonction": "function_label",
    "date de debut de la fonction": "function_start",
    "code de la region": "region_code",
    "libelle de la region": "region_label",
    "code du departement": "departement_code",
    "libelle du departement": "departement_label",
    # A regional councillor's list section is a département.
    "code de la section departementale": "departement_code",
    "libelle de la section departementale": "departement_label",
    "code de la collectivite a statut particulier": "collectivite_code",
    "libelle de la collectivite a statut particulier": "collectivite_label",
    "code de la section - collectivite a statut particulier": "section_code",
    "libelle de la section - collectivite a statut particulier": "section_label",
    "code de la commune": "commune_code",
    "libelle de la commune": "commune_label",
    "code de la commune de rattachement": "commune_code",
    "libelle de la commune de rattachement": "commune_label",
    "libelle du secteur": "section_label",
    "code du canton": "canton_code",
    "libelle du canton": "canton_label",
    "code de la circonscription legislative": "circonscription_code",
    "libelle de la circonscription legislative": "circonscription_label",
    "code de la circonscription metropolitaine": "circonscription_code",
    "libelle de la circonscription metropolitaine": "circonscription_label",
    "code de la circonscription consulaire": "circonscription_code",
    "libelle de la circonscription consulaire": "circonscription_label",
    "code de la circ. afe": "afe_code",
    "code de la circonscription afe": "afe_code",
    "libelle de la circ. afe": "afe_label",
    "libelle la circ. afe": "afe_label",  # sic, the publisher's header
    "libelle de la circonscription afe": "afe_label",
    "libelle la circonscription afe": "afe_label",  # sic
    "n° siren": "epci_siren",
    "n°siren": "epci_siren",
    "libelle de l'epci": "epci_label",
}
_RNE_PERSON = {"family_name", "given_names", "mandate_start"}
_TERRITORY = {f for f in _RNE_COLUMNS.values() if f and f.endswith(("_code", "_label", "siren"))}
_SENATOR_TERRITORY = {
    "departement_code",
    "departement_label",
    "collectivite_code",
    "collectivite_label",
}


def _rne_kind(keys: set[str], fields: set[str], has_unknown: bool) -> MandateKind | None:
    # Most specific first: each test is a column only that resource has.
    if "epci_siren" in fields:
        return MandateKind.COMMUNITY_COUNCILLOR
    if "code de la circonscription consulaire" in keys:
        return MandateKind.CONSULAR_COUNCILLOR
    if "afe_code" in fields:
        return MandateKind.AFE_MEMBER
    if "libelle du secteur" in keys:
        return MandateKind.SECTOR_COUNCILLOR
    if "code de la circonscription legislative" in keys:
        return MandateKind.DEPUTY
    if "canton_code" in fields:
        return MandateKind.DEPARTMENTAL_COUNCILLOR
    if "code de la section departementale" in keys and "region_code" in fields:
        return MandateKind.REGIONAL_COUNCILLOR
    if "section_code" in fields or "code de la circonscription metropolitaine" in keys:
        return MandateKind.SPECIAL_ASSEMBLY_MEMBER
    if "commune_code" in fields and "function_label" in fields:
        return MandateKind.MUNICIPAL_COUNCILLOR
    if "commune_code" in fields and "function_start" in fields:
        return MandateKind.MAYOR  # a mayor's function start, but no function label
    if has_unknown or "function_label" in fields:
        return None
    territory = fields & _TERRITORY
    if "departement_code" in territory and territory <= _SENATOR_TERRITORY:
        return MandateKind.SENATOR
    if not territory:
        return MandateKind.MEP
    return None


_DATAN_COLUMNS = {
    "id": "person_id",
    "nom": "family_name",
    "prenom": "given_names",
    "civ": "gender",
    "villenaissance": "birth_place",  # absent from older versions
    "naissance": "birth_date",
    "departementnom": "departement_label",
    "departementcode": "departement_code",
    "circo": "circonscription_number",
    "dateprisefonction": "mandate_start",
    "mail": "email",
    "twitter": "twitter",
    "website": "website",
}
_DATAN_REQUIRED = {"id", "nom", "prenom", "departementcode", "circo", "dateprisefonction"}


@dataclass(frozen=True)
class CsvLayout:
    """How to read the rows of a recognised CSV roster."""

    source_format: RosterFormat
    kind: MandateKind | None  # None: from each row's "kind" column
    delimiter: str
    header: tuple[str, ...]
    width: int  # cells a row must have
    columns: tuple[tuple[int, str], ...]  # (cell index, field)
    names: Mapping[str, str]  # field → column name as written, for messages
    date_format: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)


class _Unknown(Exception):
    def __init__(self, reason: str, code: str = "unknown_kind") -> None:
        self.reason, self.code = reason, code


def _plan(
    names: list[str], table: Mapping[str, str | None]
) -> tuple[dict[str, int], list[str], set[str]]:
    """field → cell index, the unknown column names, and the keys of the header."""
    fields: dict[str, int] = {}
    unknown: list[str] = []
    keys: set[str] = set()
    for index, name in enumerate(names):
        key = column_key(name)
        keys.add(key)
        if key not in table:
            if name:
                unknown.append(name)
            continue
        target = table[key]
        if target is None:
            continue
        if target in fields:
            raise _Unknown(
                _("deux colonnes pour le même champ : « %(first)s » et « %(second)s »")
                % {"first": names[fields[target]], "second": name},
                code="header",
            )
        fields[target] = index
    return fields, unknown, keys


def _layout_for(names: list[str], delimiter: str, mapping: RosterMapping | None) -> CsvLayout:
    """The layout of header ``names`` split on ``delimiter``, or _Unknown."""
    if mapping is not None:
        table: dict[str, str | None] = {column_key(c): f for c, f in mapping.columns.items()}
        fields, _unknown, keys = _plan(names, table)
        missing = [c for c in mapping.columns if column_key(c) not in keys]
        if missing:
            raise _Unknown(
                _("colonnes de la correspondance absentes de l'en-tête : %(columns)s")
                % {"columns": ", ".join(f"« {c} »" for c in missing)}
            )
        return _make(names, delimiter, fields, RosterFormat.MAPPED, mapping.kind, mapping)
    keys = {column_key(name) for name in names}
    if keys >= _DATAN_REQUIRED:
        fields, _unknown, keys = _plan(names, {**dict.fromkeys(keys), **_DATAN_COLUMNS})
        return _make(names, delimiter, fields, RosterFormat.DATAN, MandateKind.DEPUTY)
    fields, unknown, keys = _plan(names, _RNE_COLUMNS)
    if fields.keys() >= _RNE_PERSON:
        kind = _rne_kind(keys, set(fields), bool(unknown))
        if kind is not None:
            return _make(names, delimiter, fields, RosterFormat.RNE, kind)
        raise _Unknown(
            _(
                "en-tête du Répertoire national des élus d'un type inconnu "
                "(colonnes non reconnues : %(columns)s)"
            )
            % {"columns": ", ".join(f"« {c} »" for c in unknown) or "—"}
        )
    raise _Unknown(
        _("en-tête inconnu : ni Répertoire national des élus, ni Datan (colonnes : %(columns)s)")
        % {"columns": ", ".join(f"« {c} »" for c in names[:8])}
    )


def _make(
    names: list[str],
    delimiter: str,
    fields: Mapping[str, int],
    source_format: RosterFormat,
    kind: MandateKind | None,
    mapping: RosterMapping | None = None,
) -> CsvLayout:
    # Exports that end every line with a separator have an empty last header cell:
    # the matching empty cell of each row is allowed, nothing more.
    width = len(names)
    while width and not names[width - 1]:
        width -= 1
    return CsvLayout(
        source_format=source_format,
        kind=kind,
        delimiter=delimiter,
        header=tuple(names),
        width=width,
        columns=tuple(sorted((index, f) for f, index in fields.items())),
        names={f: names[index] for f, index in fields.items()},
        date_format=mapping.date_format if mapping else None,
        constants=mapping.constants if mapping else {},
    )


def detect_layout(
    path: Path, header: str, line: int, mapping: RosterMapping | None = None
) -> CsvLayout:
    """The layout of a CSV file from its header line, trying each separator.

    Raises RosterError ``separator`` if no separator splits the header, ``header``
    for an empty or duplicated column, ``unknown_kind`` for a header of no known
    roster (or missing columns of ``mapping``).
    """
    failures: list[tuple[bool, int, _Unknown]] = []
    for delimiter in DELIMITERS:
        names = header_names(header, delimiter)
        if len(names) < 2:
            continue
        try:
            layout = _layout_for(names, delimiter, mapping)
        except _Unknown as unknown:
            failures.append((unknown.code == "header", len(names), unknown))
            continue
        inner = [name for name in names[: layout.width] if not name]
        if inner:
            raise RosterError(path, line, _("colonne sans nom dans l'en-tête"), code="header")
        return layout
    if not failures:
        raise RosterError(
            path,
            line,
            _(
                "séparateur introuvable dans l'en-tête "
                "(ni « ; », ni « , », ni « | », ni tabulation)"
            ),
            code="separator",
        )
    # A duplicated column says most; else the separator that splits the header most.
    best = max(failures, key=lambda failure: failure[:2])[2]
    raise RosterError(path, line, best.reason, code=best.code)
