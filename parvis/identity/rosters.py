"""Reading official rosters (Répertoire national des élus and similar CSV files).

The publisher changes separator, quoting, date format and code padding from one
publication to the next, so nothing here assumes the shape of a sample: the
dialect is sniffed from the header line, dates are recognised in every format
seen, and two-digit years are resolved against the row's mandate start date.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from django.utils.translation import gettext as _


class RosterError(ValueError):
    """A file or row that cannot be read, with where and why."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


@dataclass
class RosterRow:
    line: int
    values: dict[str, str]

    def get(self, *names: str) -> str:
        """The first non-empty value among columns ``names`` (headers differ between files)."""
        for name in names:
            value = self.values.get(name, "").strip()
            if value:
                return value
        return ""


_DATE_PATTERNS = (
    (re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"), "ymd"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), "dmY"),
    (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{2})$"), "dmy"),
)


def parse_date(value: str, *, before: date | None = None, min_age: int = 18) -> date:
    """Parse an RNE date (``2026-03-22``, ``22/03/2026`` or ``22/03/26``).

    A two-digit year is placed in the century that makes the date fall at least
    ``min_age`` years before ``before`` (for a birth date: the mandate start);
    without ``before`` it is placed in the most recent century not in the future.
    """
    text = value.strip()
    for pattern, order in _DATE_PATTERNS:
        match = pattern.match(text)
        if not match:
            continue
        a, b, c = (int(x) for x in match.groups())
        if order == "ymd":
            return date(a, b, c)
        if order == "dmY":
            return date(c, b, a)
        reference = before or date.today()
        limit_year = reference.year - (min_age if before else 0)
        year = (limit_year // 100) * 100 + c
        if year > limit_year:
            year -= 100
        return date(year, b, a)
    raise ValueError(_("date illisible : « %(value)s »") % {"value": value})


def read_csv(path: Path) -> Iterator[RosterRow]:
    """Yield the rows of a roster CSV file, whatever its separator and quoting."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = raw.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise RosterError(path, None, _("encodage inconnu (ni UTF-8 ni Windows-1252)")) from exc
    header_line = text.split("\n", 1)[0]
    try:
        dialect = csv.Sniffer().sniff(header_line, delimiters=";,\t")
    except csv.Error as exc:
        raise RosterError(path, 1, _("séparateur introuvable dans l'en-tête")) from exc
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=dialect.delimiter, quotechar='"')
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration as exc:
        raise RosterError(path, None, _("fichier vide")) from exc
    header = [re.sub(r"\s+", " ", h) for h in header]
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            raise RosterError(
                path,
                number,
                _("%(got)d colonnes au lieu de %(expected)d")
                % {"got": len(cells), "expected": len(header)},
            )
        yield RosterRow(line=number, values=dict(zip(header, cells, strict=True)))


def pad_code(code: str, width: int) -> str:
    """Zero-pad a numeric INSEE code (``1`` → ``01``); leave ``2A`` or ``971`` alone."""
    code = code.strip()
    return code.zfill(width) if code.isdigit() else code.upper()
