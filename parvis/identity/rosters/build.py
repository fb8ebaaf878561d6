"""From the raw values of one row (field → text) to a checked :class:`RosterEntry`.

Every source (RNE, Datan, Assemblée nationale JSON, mapped CSV) ends here, so a
rule holds for all of them: a row either becomes a whole entry or raises
:class:`RowProblem`; nothing is half-filled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from functools import partial

from django.utils.translation import gettext as _

from parvis.core.text import fold
from parvis.identity.rosters import values as v
from parvis.identity.rosters.errors import RowProblem
from parvis.identity.rosters.records import (
    Contact,
    MandateKind,
    RosterEntry,
    RosterFormat,
    RosterMandate,
    RosterPerson,
    Territory,
)

# The fields a source can fill (also the targets of a mapping file).
PERSON_FIELDS = (
    "family_name",
    "given_names",
    "gender",
    "birth_date",
    "birth_place",
    "person_id",
)
MANDATE_FIELDS = (
    "kind",
    "function_label",
    "mandate_start",
    "function_start",
    "end_date",
    "mandate_id",
    "body_code",
    "body_label",
)
TERRITORY_FIELDS = (
    "region_code",
    "region_label",
    "departement_code",
    "departement_label",
    "collectivite_code",
    "collectivite_label",
    "commune_code",
    "commune_label",
    "canton_code",
    "canton_label",
    "circonscription_code",
    "circonscription_label",
    # A circonscription's number within its département (Datan ``circo``, the
    # Assemblée nationale ``numCirco``): the code becomes département + two digits.
    "circonscription_number",
    "section_code",
    "section_label",
    "afe_code",
    "afe_label",
    "epci_siren",
    "epci_label",
)
CONTACT_FIELDS = ("email", "website", "twitter")
FIELDS = frozenset(PERSON_FIELDS + MANDATE_FIELDS + TERRITORY_FIELDS + CONTACT_FIELDS)

# Official.given_name and family_name hold 150 characters, Mandate.function_label 255.
_LIMITS = {"family_name": 150, "given_names": 150, "person_id": 64, "mandate_id": 64}
_TEXT_LIMIT = 255

_CIRCONSCRIPTION_WIDTH = {
    MandateKind.DEPUTY: 4,  # département (2) + number (2): "0101"; overseas "97101"
    MandateKind.SPECIAL_ASSEMBLY_MEMBER: 5,  # Lyon metropolitan: "69001"
}

# The territory a row of each kind cannot do without.
_REQUIRED = {
    MandateKind.MAYOR: ("commune_code",),
    MandateKind.MUNICIPAL_COUNCILLOR: ("commune_code",),
    MandateKind.SECTOR_COUNCILLOR: ("commune_code",),
    MandateKind.COMMUNITY_COUNCILLOR: ("epci_siren",),
    MandateKind.DEPARTMENTAL_COUNCILLOR: ("canton_code",),
    MandateKind.REGIONAL_COUNCILLOR: ("region_code",),
    MandateKind.SPECIAL_ASSEMBLY_MEMBER: ("collectivite_code",),
    MandateKind.DEPUTY: ("circonscription_code",),
    # Senators of a collectivité (Polynésie…) have no département code, those of the
    # French abroad have ``ZZ``: one of the two.
    MandateKind.SENATOR: ("departement_code", "collectivite_code"),
    MandateKind.AFE_MEMBER: ("afe_code",),
    MandateKind.CONSULAR_COUNCILLOR: ("circonscription_code",),
}


def _column(names: Mapping[str, str], field: str) -> str:
    return names.get(field, field)


def _date(
    values: Mapping[str, str],
    field: str,
    names: Mapping[str, str],
    date_format: str | None,
    before: date | None = None,
) -> date | None:
    text = values.get(field, "")
    if not text:
        return None
    try:
        return v.parse_date(text, before=before, date_format=date_format)
    except ValueError as exc:
        raise RowProblem(
            "bad_date",
            _("« %(column)s » : %(reason)s") % {"column": _column(names, field), "reason": exc},
        ) from None


def parse_kind(text: str, column: str) -> MandateKind:
    """A MandateKind from its value (``mayor``) or its label in the active language
    (``Maire``), case and accents ignored."""
    folded = fold(text)
    for kind in MandateKind:
        if folded in (kind.value, fold(str(kind.label))):
            return kind
    raise RowProblem(
        "bad_kind",
        _("type de mandat inconnu dans « %(column)s » : « %(value)s »")
        % {"column": column, "value": text[:40]},
    )


def _code_normalisers(kind: MandateKind) -> dict[str, Callable[[str, str], str]]:
    width = _CIRCONSCRIPTION_WIDTH.get(kind)
    if kind == MandateKind.CONSULAR_COUNCILLOR:
        circonscription: Callable[[str, str], str] = v.number_code
    elif width:
        circonscription = partial(v.padded_code, width=width)
    else:
        circonscription = v.plain_code
    return {
        "region_code": partial(v.padded_code, width=2),
        "departement_code": v.departement_code,
        "collectivite_code": v.plain_code,
        "commune_code": v.commune_code,
        "canton_code": partial(v.padded_code, width=4),
        "circonscription_code": circonscription,
        "section_code": v.plain_code,
        "afe_code": v.number_code,
        "epci_siren": v.siren,
    }


_NORMALISERS = {kind: _code_normalisers(kind) for kind in MandateKind}
_LABELS = frozenset(f for f in TERRITORY_FIELDS if f.endswith("_label"))


def _territory(
    values: Mapping[str, str],
    names: Mapping[str, str],
    kind: MandateKind,
    source_format: RosterFormat,
) -> Territory:
    normalisers = _NORMALISERS[kind]
    fields: dict[str, str] = {}
    # Only the fields the row has: most of the eighteen are absent from any one file.
    for field, text in values.items():
        if field in _LABELS:
            fields[field] = text
        elif normalise := normalisers.get(field):
            fields[field] = normalise(text, _column(names, field))
    number = values.get("circonscription_number", "")
    if number and not fields.get("circonscription_code"):
        if not number.isdigit() or len(number) > 2:
            raise RowProblem(
                "bad_code",
                _("numéro de circonscription invalide dans « %(column)s » : « %(code)s »")
                % {"column": _column(names, "circonscription_number"), "code": number[:40]},
            )
        fields["circonscription_code"] = f"{fields.get('departement_code', '')}{int(number):02d}"
    # A mapped file says what it has; the official sources always have these columns.
    required = () if source_format == RosterFormat.MAPPED else _REQUIRED.get(kind, ())
    if required and not any(fields.get(field) for field in required):
        raise RowProblem(
            "missing_territory",
            _("« %(column)s » manquant") % {"column": _column(names, required[0])},
        )
    return Territory(**fields)


def build_entry(
    raw: Mapping[str, str],
    names: Mapping[str, str],
    *,
    kind: MandateKind | None,
    source_format: RosterFormat,
    path: str,
    line: int | None,
    date_format: str | None = None,
) -> RosterEntry:
    """The entry for one row, or RowProblem saying what is wrong with it.

    ``raw`` maps fields of :data:`FIELDS` to the text of their cell; ``names``
    maps them to the column name as the file writes it, for messages. ``kind``
    None takes the kind from the row's ``kind`` field (mapped files).
    """
    check, limits = v.check_text, _LIMITS
    values = {
        field: check(text, names.get(field, field), limits.get(field, _TEXT_LIMIT))
        for field, text in raw.items()
        if text
    }
    family_name = values.get("family_name", "")
    if not family_name:
        raise RowProblem(
            "missing_name",
            _("nom de famille manquant (« %(column)s »)")
            % {"column": _column(names, "family_name")},
        )
    start = _date(values, "mandate_start", names, date_format)
    if start is None:
        raise RowProblem(
            "missing_start",
            _("date de début du mandat manquante (« %(column)s »)")
            % {"column": _column(names, "mandate_start")},
        )
    birth = _date(values, "birth_date", names, date_format, before=start)
    if birth is not None and birth >= start:
        raise RowProblem(
            "birth_after_start",
            _("date de naissance (%(birth)s) postérieure au début du mandat (%(start)s)")
            % {"birth": birth.isoformat(), "start": start.isoformat()},
        )
    end = _date(values, "end_date", names, date_format)
    if end is not None and end < start:
        raise RowProblem(
            "end_before_start",
            _("fin du mandat (%(end)s) antérieure à son début (%(start)s)")
            % {"end": end.isoformat(), "start": start.isoformat()},
        )
    if kind is None:
        kind_text = values.get("kind", "")
        kind = parse_kind(kind_text, _column(names, "kind")) if kind_text else MandateKind.OTHER
    person = RosterPerson(
        family_name=family_name,
        given_names=values.get("given_names", ""),
        gender=v.gender(values.get("gender", ""), _column(names, "gender")),
        birth_date=birth,
        birth_place=values.get("birth_place", ""),
        external_id=values.get("person_id", ""),
    )
    mandate = RosterMandate(
        kind=kind,
        start_date=start,
        function_label=values.get("function_label", ""),
        function_start_date=_date(values, "function_start", names, date_format),
        end_date=end,
        external_id=values.get("mandate_id", ""),
        body_code=values.get("body_code", ""),
        body_label=values.get("body_label", ""),
    )
    contact = (
        Contact(
            email=v.email(values.get("email", "")),
            website=v.website(values.get("website", "")),
            x_handle=v.x_handle(values.get("twitter", "")),
        )
        if "email" in values or "website" in values or "twitter" in values
        else _NO_CONTACT
    )
    return RosterEntry(
        path=path,
        line=line,
        format=source_format,
        person=person,
        mandate=mandate,
        territory=_territory(values, names, kind, source_format),
        contact=contact,
    )


_NO_CONTACT = Contact()
