"""Reading official rosters: every published file to normalised records, with precise errors.

Sources: the Répertoire national des élus (one CSV per kind of mandate), the
Datan deputies CSV, the Assemblée nationale AMO acteur/organe JSON, and any CSV
described by a mapping file. The publisher changes separator, quoting, date
format, code padding, encoding and file names from one publication to the next,
so nothing here assumes the shape of a sample: each file's kind, encoding and
dialect are detected from its content.

- :func:`read_roster` yields :class:`RosterEntry` (good rows) and
  :class:`RosterRejection` (bad rows: file, line, reason) and raises
  :class:`RosterError` for a file that cannot be read at all.
- :func:`propose_handle` turns a person's names into a free account handle.
- :func:`read_csv`, :func:`parse_date` and :func:`pad_code` are the low-level
  pieces (raw rows, one date, one code).

This layer reads; it writes nothing. Reconciliation with the database is built
on top of it.
"""

from parvis.identity.rosters.amo import Organe, load_organes
from parvis.identity.rosters.errors import RosterError, RosterRejection
from parvis.identity.rosters.handles import handle_base, handle_candidates, propose_handle
from parvis.identity.rosters.mapping import RosterMapping, load_mapping
from parvis.identity.rosters.reader import RosterItem, RosterRow, read_csv, read_roster
from parvis.identity.rosters.records import (
    Contact,
    MandateKind,
    RosterEntry,
    RosterFormat,
    RosterMandate,
    RosterPerson,
    Territory,
)
from parvis.identity.rosters.values import DEPARTEMENT_CODES, pad_code, parse_date

__all__ = [
    "DEPARTEMENT_CODES",
    "Contact",
    "MandateKind",
    "Organe",
    "RosterEntry",
    "RosterError",
    "RosterFormat",
    "RosterItem",
    "RosterMandate",
    "RosterMapping",
    "RosterPerson",
    "RosterRejection",
    "RosterRow",
    "Territory",
    "handle_base",
    "handle_candidates",
    "load_mapping",
    "load_organes",
    "pad_code",
    "parse_date",
    "propose_handle",
    "read_csv",
    "read_roster",
]
