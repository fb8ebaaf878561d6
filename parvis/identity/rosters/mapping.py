"""Mapping files: how to read the CSV roster of an institution the RNE does not cover.

A mapping file is TOML (``.toml``) or JSON (``.json``) with the same structure::

    # Préfets en poste, export du ministère de l'Intérieur
    kind = "other"              # optional: a MandateKind value or label, default "other"
    date_format = "%d/%m/%Y"    # optional: strptime format, default auto-detected
                                # (dd/mm/yyyy, dd/mm/yy, yyyy-mm-dd); %y is resolved by
                                # age, never by Python's fixed pivot

    [columns]                   # column name as written in the header → field
    "NOM" = "family_name"       # required
    "Prénom" = "given_names"
    "Civilité" = "gender"       # M/F, H/F, M./Mme, Monsieur/Madame…
    "Né le" = "birth_date"
    "Prise de poste" = "mandate_start"   # required
    "Département" = "departement_code"
    "Courriel" = "email"

    [constants]                 # optional: a value for every row whose cell is empty
    function_label = "Préfet"

Column names are matched ignoring case, accents and repeated spaces. The fields
are those of :data:`parvis.identity.rosters.build.FIELDS`: ``family_name``,
``given_names``, ``gender``, ``birth_date``, ``birth_place``, ``person_id``,
``kind`` (a column giving each row's kind, instead of the ``kind`` key),
``function_label``, ``mandate_start``, ``function_start``, ``end_date``,
``mandate_id``, ``body_code``, ``body_label``, the territory fields
(``region_code``, ``departement_code``, ``commune_code``, ``canton_code``,
``circonscription_code``, ``circonscription_number``, ``collectivite_code``,
``section_code``, ``afe_code``, ``epci_siren`` and their ``…_label``) and the
contact fields ``email``, ``website``, ``twitter``. The separator, quoting and
encoding of the CSV file are detected as for any roster.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from django.utils.translation import gettext as _

from parvis.identity.rosters.build import FIELDS, parse_kind
from parvis.identity.rosters.errors import RosterError, RowProblem
from parvis.identity.rosters.records import MandateKind

_KEYS = {"kind", "date_format", "columns", "constants"}


@dataclass(frozen=True)
class RosterMapping:
    """A mapping file, read: column name → field, the kind, the date format, constants."""

    columns: Mapping[str, str]
    kind: MandateKind | None = MandateKind.OTHER  # None: each row's "kind" column says
    date_format: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


def load_mapping(path: str | Path) -> RosterMapping:
    """Read and check a mapping file (TOML or JSON, by its suffix); RosterError if wrong."""
    path = Path(path)

    def refuse(reason: str) -> RosterError:
        return RosterError(path, None, reason, code="mapping")

    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise refuse(
            _("fichier de correspondance illisible : %(error)s") % {"error": exc.strerror or exc}
        ) from None
    try:
        text = raw.decode("utf-8-sig")
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (UnicodeDecodeError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise refuse(_("fichier de correspondance invalide : %(error)s") % {"error": exc}) from None
    if not isinstance(data, dict):
        raise refuse(_("le fichier de correspondance doit être une table"))
    unknown = set(data) - _KEYS
    if unknown:
        raise refuse(
            _("clés inconnues dans le fichier de correspondance : %(keys)s")
            % {"keys": ", ".join(sorted(unknown))}
        )
    columns = data.get("columns")
    constants = data.get("constants", {})
    for table, name in ((columns, "columns"), (constants, "constants")):
        if not isinstance(table, dict) or not all(
            isinstance(k, str) and isinstance(val, str) for k, val in table.items()
        ):
            raise refuse(_("« %(name)s » doit associer des textes à des textes") % {"name": name})
    bad = sorted({*columns.values(), *constants} - FIELDS)
    if bad:
        raise refuse(
            _("champs inconnus : %(fields)s (champs possibles : %(known)s)")
            % {"fields": ", ".join(bad), "known": ", ".join(sorted(FIELDS))}
        )
    targets = list(columns.values())
    doubles = sorted({f for f in targets if targets.count(f) > 1})
    if doubles:
        raise refuse(
            _("plusieurs colonnes pour le même champ : %(fields)s") % {"fields": ", ".join(doubles)}
        )
    for required in ("family_name", "mandate_start"):
        if required not in targets and required not in constants:
            raise refuse(
                _("le champ « %(field)s » n'est associé à aucune colonne") % {"field": required}
            )
    kind: MandateKind | None = MandateKind.OTHER
    if "kind" in targets:
        kind = None
    elif "kind" in data:
        try:
            kind = parse_kind(str(data["kind"]), "kind")
        except RowProblem as problem:
            raise refuse(problem.reason) from None
    date_format = data.get("date_format")
    if date_format is not None and (not isinstance(date_format, str) or "%" not in date_format):
        raise refuse(
            _("« date_format » doit être un format strptime, par exemple %(example)s")
            % {"example": "%d/%m/%Y"}
        )
    return RosterMapping(
        columns=dict(columns),
        kind=kind,
        date_format=date_format,
        constants=dict(constants),
        source=str(path),
    )
