"""The Assemblée nationale open data (AMO): acteur and organe JSON files.

The JSON is derived from XML, so a list of one element is not a list (``mandat``
is an object or an array, ``organeRef`` a string or an array), a null is
``{"@xsi:nil": "true"}`` and an identifier may be ``{"#text": "PA1008"}``.
Every value goes through :func:`_as_list` and :func:`_text`, which read all
those shapes.

An acteur file yields one entry per mandate this layer knows:

- ``ASSEMBLEE``: a deputy, with the département (``099``, the French abroad,
  becomes the RNE's ``ZZ``) and the circonscription (département + two digits,
  ``3304``, as the RNE writes it). The start is the day the deputy took office
  (``mandature.datePriseFonction``), the date the RNE and Datan give, rather
  than the election day.
- ``GOUVERNEMENT``, and ``MINISTERE`` unless the quality is ``en mission`` (a
  deputy's mission for a ministry, not a government office): a member of the
  government. When the mandate has no end date but its organe (the government)
  has ended, the organe's end is the mandate's: the Assemblée leaves the members
  of past governments open.

Every other mandate (groups, committees, delegations…) is skipped, as are
acteurs without ``mandats`` (ministers who are no longer deputies): they hold
nothing this layer reports. Organes, for labels and end dates, come from the
``organe`` folder beside the ``acteur`` folder, or from the same file for an
``export`` file holding both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from parvis.core.text import fold
from parvis.identity.rosters.build import build_entry
from parvis.identity.rosters.errors import RosterError, RosterRejection, RowProblem
from parvis.identity.rosters.records import MandateKind, RosterEntry, RosterFormat


@dataclass(frozen=True, slots=True)
class Organe:
    """What an entry needs of an organe: its type, label and dates."""

    uid: str
    code_type: str
    label: str
    start: str
    end: str


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str:
    """A scalar of the XML-derived JSON as text: nil objects and nulls are empty."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return _text(value.get("#text")) if "#text" in value else ""
    if isinstance(value, str | int | float):
        return str(value).strip()
    return ""


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _organe(data: Any) -> Organe | None:
    uid = _text(_get(data, "uid"))
    if not uid:
        return None
    code_type = _text(_get(data, "codeType"))
    label = _text(_get(data, "libelle"))
    short = _text(_get(data, "libelleAbrege"))
    if code_type == "GOUVERNEMENT" and short and short not in label:
        # Every government is "Gouvernement"; its short label names it ("BAYROU").
        label = f"{label} {short}"
    return Organe(
        uid=uid,
        code_type=code_type,
        label=label,
        start=_text(_get(data, "viMoDe", "dateDebut")),
        end=_text(_get(data, "viMoDe", "dateFin")),
    )


_organes_cache: dict[Path, tuple[int, dict[str, Organe]]] = {}


def load_organes(directory: Path) -> dict[str, Organe]:
    """The organes of an AMO ``organe`` folder by uid (cached until the folder changes:
    the real dump has thousands and each acteur file would read them again)."""
    try:
        stamp = directory.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _organes_cache.get(directory)
    if cached and cached[0] == stamp:
        return cached[1]
    organes: dict[str, Organe] = {}
    for file in sorted(directory.glob("*.json")):
        try:
            organe = _organe(_get(json.loads(file.read_bytes()), "organe"))
        except (OSError, ValueError):
            continue  # an unreadable organe costs a label, not the import
        if organe:
            organes[organe.uid] = organe
    _organes_cache[directory] = (stamp, organes)
    return organes


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except UnicodeDecodeError:
        raise RosterError(path, None, _("JSON illisible : pas en UTF-8"), code="encoding") from None
    except ValueError as exc:
        raise RosterError(
            path, None, _("JSON invalide : %(error)s") % {"error": exc}, code="json"
        ) from None


def read_amo_file(
    path: Path, organes: Mapping[str, Organe] | None = None
) -> Iterator[RosterEntry | RosterRejection]:
    """Check an acteur (or ``export``) JSON file now, then yield its entries lazily.

    Raises RosterError for invalid JSON, an organe file, or JSON of no known shape.
    """
    data = _load_json(path)
    if isinstance(data, dict) and "acteur" in data:
        acteurs = _as_list(data["acteur"])
        if organes is None:
            organes = load_organes(path.parent.parent / "organe")
    elif isinstance(data, dict) and isinstance(data.get("export"), dict):
        acteurs = _as_list(_get(data, "export", "acteurs", "acteur"))
        own = (_organe(o) for o in _as_list(_get(data, "export", "organes", "organe")))
        organes = {**{o.uid: o for o in own if o}, **(organes or {})}
    elif isinstance(data, dict) and "organe" in data:
        raise RosterError(
            path,
            None,
            _(
                "fichier d'organe de l'Assemblée nationale : il ne liste pas d'élus (lisez les "
                "fichiers du dossier acteur)"
            ),
            code="unknown_kind",
        )
    else:
        raise RosterError(
            path,
            None,
            _("JSON d'un type inconnu (ni acteur ni export de l'Assemblée nationale)"),
            code="unknown_kind",
        )
    return _entries(path, acteurs, organes or {})


def _entries(
    path: Path, acteurs: list[Any], organes: Mapping[str, Organe]
) -> Iterator[RosterEntry | RosterRejection]:
    for acteur in acteurs:
        yield from _acteur_entries(str(path), acteur, organes)


_NAMES = {
    "family_name": "etatCivil.ident.nom",
    "given_names": "etatCivil.ident.prenom",
    "gender": "etatCivil.ident.civ",
    "birth_date": "etatCivil.infoNaissance.dateNais",
    "mandate_start": "mandat.dateDebut",
    "end_date": "mandat.dateFin",
    "departement_code": "mandat.election.lieu.numDepartement",
    "circonscription_number": "mandat.election.lieu.numCirco",
}


def _contacts(acteur: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    for address in _as_list(_get(acteur, "adresses", "adresse")):
        label = fold(_text(_get(address, "typeLibelle")))
        kind = _text(_get(address, "@xsi:type"))
        value = _text(_get(address, "valElec"))
        if not value:
            continue
        # The first of each wins: the Assemblée lists the official address first.
        if kind == "AdresseMail_Type":
            found.setdefault("email", value)
        elif label == "twitter":
            found.setdefault("twitter", value)
        elif label == "site internet":
            found.setdefault("website", value)
    return found


def _acteur_entries(
    path: str, acteur: Any, organes: Mapping[str, Organe]
) -> Iterator[RosterEntry | RosterRejection]:
    uid = _text(_get(acteur, "uid"))
    if not uid or not isinstance(_get(acteur, "etatCivil"), dict):
        yield RosterRejection(
            path, None, "bad_record", _("acteur sans uid ni état civil"), record=uid
        )
        return
    ident = _get(acteur, "etatCivil", "ident")
    person = {
        "person_id": uid,
        "family_name": _text(_get(ident, "nom")),
        "given_names": _text(_get(ident, "prenom")),
        "gender": _text(_get(ident, "civ")),
        "birth_date": _text(_get(acteur, "etatCivil", "infoNaissance", "dateNais")),
        "birth_place": _text(_get(acteur, "etatCivil", "infoNaissance", "villeNais")),
        **_contacts(acteur),
    }
    for mandat in _as_list(_get(acteur, "mandats", "mandat")):
        type_organe = _text(_get(mandat, "typeOrgane"))
        quality = _text(_get(mandat, "infosQualite", "libQualiteSex")) or _text(
            _get(mandat, "infosQualite", "libQualite")
        )
        if type_organe == "ASSEMBLEE":
            kind = MandateKind.DEPUTY
        elif type_organe == "GOUVERNEMENT" or (
            type_organe == "MINISTERE" and fold(quality) != "en mission"
        ):
            kind = MandateKind.GOVERNMENT_MEMBER
        else:
            continue
        mandate_id = _text(_get(mandat, "uid"))
        refs = [_text(ref) for ref in _as_list(_get(mandat, "organes", "organeRef"))]
        organe = organes.get(refs[0]) if refs else None
        values = {
            **person,
            "mandate_id": mandate_id,
            "mandate_start": _text(_get(mandat, "mandature", "datePriseFonction"))
            or _text(_get(mandat, "dateDebut")),
            "end_date": _text(_get(mandat, "dateFin")) or (organe.end if organe else ""),
            "function_label": "" if fold(quality) == "membre" else quality,
            "body_code": refs[0] if refs else "",
            "body_label": organe.label if organe else "",
        }
        if kind == MandateKind.DEPUTY:
            place = _get(mandat, "election", "lieu")
            values |= {
                "departement_code": _text(_get(place, "numDepartement")),
                "departement_label": _text(_get(place, "departement")),
                "region_label": _text(_get(place, "region")),
                "circonscription_number": _text(_get(place, "numCirco")),
            }
        try:
            yield build_entry(
                values,
                _NAMES,
                kind=kind,
                source_format=RosterFormat.AN_AMO,
                path=path,
                line=None,
            )
        except RowProblem as problem:
            yield RosterRejection(
                path, None, problem.code, problem.reason, record=f"{uid} {mandate_id}".strip()
            )
