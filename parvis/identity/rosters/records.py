"""The normalised record every roster file is turned into, whatever its source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import models
from django.utils.translation import gettext_lazy as _

from parvis.identity.models import MandateKind


class RosterFormat(models.TextChoices):
    """The family of file an entry was read from."""

    RNE = "rne", _("Répertoire national des élus (CSV)")
    DATAN = "datan", _("Députés actifs, Datan (CSV)")
    AN_AMO = "an_amo", _("Assemblée nationale, données AMO (JSON)")
    MAPPED = "mapped", _("CSV décrit par un fichier de correspondance")


@dataclass(frozen=True, slots=True)
class RosterPerson:
    """Who holds the mandate, as the source states it (names are not re-cased)."""

    family_name: str
    given_names: str
    gender: str  # "M", "F" or "" when the source does not say
    birth_date: date | None
    birth_place: str = ""
    # The source's own id for the person when it has one (Assemblée nationale
    # acteur uid "PA1008"); the RNE has none.
    external_id: str = ""


@dataclass(frozen=True, slots=True)
class RosterMandate:
    """The office: its kind, the function within it and its dates."""

    kind: MandateKind
    start_date: date
    function_label: str = ""
    function_start_date: date | None = None
    end_date: date | None = None
    external_id: str = ""  # the source's id of the mandate (AN "PM842621")
    body_code: str = ""  # the body the mandate is held in (AN organe "PO873634")
    body_label: str = ""  # its label ("Gouvernement LECORNU II")


@dataclass(frozen=True, slots=True)
class Territory:
    """Where the mandate is held: the codes and labels the file gives, normalised.

    INSEE codes are zero-padded (département ``01``, commune ``01001``, canton
    ``0101``, circonscription législative ``0101``) and upper-cased (``2A``).
    The RNE's own codes are kept as it writes them: ``ZZ`` for the French
    abroad (the Assemblée nationale's ``099`` becomes ``ZZ`` too), ``69M``
    (Métropole de Lyon), ``6AE`` (Collectivité européenne d'Alsace), ``ZX``.
    A regional councillor's *section départementale* is stored as the
    département. ``section`` is a collectivity's electoral section (Guyane,
    Martinique) or a Paris/Lyon/Marseille sector (label only); ``afe`` is the
    circonscription of the Assemblée des Français de l'étranger, and
    ``circonscription`` is the legislative, metropolitan or consular one.
    """

    region_code: str = ""
    region_label: str = ""
    departement_code: str = ""
    departement_label: str = ""
    collectivite_code: str = ""
    collectivite_label: str = ""
    commune_code: str = ""
    commune_label: str = ""
    canton_code: str = ""
    canton_label: str = ""
    circonscription_code: str = ""
    circonscription_label: str = ""
    section_code: str = ""
    section_label: str = ""
    afe_code: str = ""
    afe_label: str = ""
    epci_siren: str = ""
    epci_label: str = ""


@dataclass(frozen=True, slots=True)
class Contact:
    """Public contact details the source gives; an unusable value is left empty."""

    email: str = ""
    website: str = ""  # always an http(s) URL
    x_handle: str = ""  # without "@"


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """One mandate of one person, read from one row (or JSON record) of a roster."""

    path: str
    line: int | None  # physical line of a CSV file; None for JSON
    format: RosterFormat
    person: RosterPerson
    mandate: RosterMandate
    territory: Territory
    contact: Contact

    @property
    def where(self) -> str:
        """``path:line``, or the path and the AN ids for a JSON record."""
        if self.line is not None:
            return f"{self.path}:{self.line}"
        return f"{self.path} [{self.person.external_id} {self.mandate.external_id}]".rstrip()
