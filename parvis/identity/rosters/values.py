"""Single values of a roster: dates, codes, genders, names and contact details.

Each function takes the text of one cell and returns it normalised, or raises
:class:`~parvis.identity.rosters.errors.RowProblem` (``ValueError`` for dates)
with a translated reason.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

from parvis.core.text import fold
from parvis.identity.rosters.errors import RowProblem

# French elected officials are at least 18 on the first day of their mandate.
MIN_AGE = 18

# The ISO form may carry a time or an offset (spreadsheet exports, XML-derived data).
_DATE_RE = re.compile(
    r"^(?:(?P<Y>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})(?:[T ][\d:.]+)?(?:Z|[+-]\d{2}:?\d{2})?"
    r"|(?P<d2>\d{1,2})[/.-](?P<m2>\d{1,2})[/.-](?P<y>\d{4}|\d{2}))$"
)


class DateProblem(ValueError):
    """A date that cannot be read (``code`` ``bad_date``), with a translated message."""

    code = "bad_date"


@lru_cache(maxsize=8192)
def _date_parts(text: str) -> tuple[int, int, int, bool] | None:
    # Cached: a roster repeats the same few mandate start dates thousands of times.
    match = _DATE_RE.match(text)
    if not match:
        return None
    if match["Y"]:
        return int(match["Y"]), int(match["m1"]), int(match["d1"]), False
    year = match["y"]
    return int(year), int(match["m2"]), int(match["d2"]), len(year) == 2


def _make_date(value: str, year: int, month: int, day: int) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        raise DateProblem(_("date impossible : « %(value)s »") % {"value": value}) from None


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def resolve_two_digit_year(
    value: str, yy: int, month: int, day: int, *, before: date | None, min_age: int
) -> date:
    """Place the two-digit year ``yy`` in a century, by age rather than by a fixed pivot.

    With ``before`` (the mandate start, for a birth date) the latest century is chosen
    that puts the date at least ``min_age`` years before ``before``: ``18/04/00`` before
    2026-04-05 is 2000, ``25/08/55`` is 1955. Without it (a mandate or function date)
    the date is placed in the hundred years that end a year from today: a roster does
    not list mandates that start later than that.
    """
    limit = _add_years(before, -min_age) if before is not None else _add_years(date.today(), 1)
    # 29/02/yy exists in some centuries only, so a failed candidate is not final.
    for year in range((limit.year // 100) * 100 + yy, limit.year - 300, -100):
        if year > limit.year:
            continue
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= limit:
            return candidate
    raise DateProblem(_("date impossible : « %(value)s »") % {"value": value})


def parse_date(
    value: str,
    *,
    before: date | None = None,
    min_age: int = MIN_AGE,
    date_format: str | None = None,
) -> date:
    """Parse a roster date: ``2026-03-22``, ``22/03/2026`` or ``22/03/26``.

    A two-digit year is resolved by :func:`resolve_two_digit_year` (against
    ``before``, the mandate start, for a birth date). ``date_format`` is a
    ``strptime`` format for files that declare theirs (a mapping file); its
    ``%y`` is resolved the same way, never by Python's fixed 1969 pivot.
    Raises ``ValueError`` (:class:`DateProblem`) with a translated message.
    """
    text = value.strip()
    if date_format:
        try:
            parsed = datetime.strptime(text, date_format).date()
        except ValueError:
            raise DateProblem(
                _("date « %(value)s » hors du format %(format)s")
                % {"value": value, "format": date_format}
            ) from None
        if "%y" in date_format:
            return resolve_two_digit_year(
                value, parsed.year % 100, parsed.month, parsed.day, before=before, min_age=min_age
            )
        return parsed
    parts = _date_parts(text)
    if parts is None:
        raise DateProblem(_("date illisible : « %(value)s »") % {"value": value})
    year, month, day, two_digits = parts
    if two_digits:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise DateProblem(_("date impossible : « %(value)s »") % {"value": value})
        return resolve_two_digit_year(value, year, month, day, before=before, min_age=min_age)
    return _make_date(value, year, month, day)


def pad_code(code: str, width: int) -> str:
    """Zero-pad a numeric INSEE code (``1`` → ``01``); upper-case others (``2a`` → ``2A``)."""
    code = code.strip()
    return code.zfill(width) if code.isdigit() else code.upper()


# The codes found in the département columns of French rosters.
DEPARTEMENT_CODES = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20]  # 20 has been 2A and 2B since 1976
    + ["2A", "2B"]
    + ["971", "972", "973", "974", "976"]  # départements d'outre-mer
    # Collectivités d'outre-mer, TAAF and Clipperton: the Assemblée nationale and
    # Datan put them in the département column of their deputies.
    + ["975", "977", "978", "984", "986", "987", "988", "989"]
    # RNE codes: Collectivité européenne d'Alsace (departmental councillors),
    # Métropole de Lyon (regional sections), French abroad (deputies, senators).
    + ["6AE", "69M", "ZZ"]
)
# How the Assemblée nationale (``099``) and INSEE birth places (``99``) say "abroad".
_ABROAD = {"99": "ZZ", "099": "ZZ"}
_CODE_RE = re.compile(r"^[0-9A-Z]{1,12}$")
_COMMUNE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


def plain_code(value: str, column: str) -> str:
    """A code upper-cased (``69m`` → ``69M``), refused unless letters and digits."""
    code = value.strip().upper()
    if code and not _CODE_RE.match(code):
        raise RowProblem(
            "bad_code",
            _("code invalide dans « %(column)s » : « %(code)s »")
            % {"column": column, "code": value[:40]},
        )
    return code


@lru_cache(maxsize=1024)  # a hundred codes, each repeated hundreds of times
def departement_code(value: str, column: str) -> str:
    """A département code, padded and checked against the known codes (empty stays empty)."""
    code = plain_code(value, column)
    if not code:
        return ""
    code = _ABROAD.get(code, code)
    if len(code) == 1 and code.isdigit():
        code = code.zfill(2)
    elif len(code) == 3 and code.startswith("0"):  # "033", "02A": padded to three
        code = code[1:]
    if code not in DEPARTEMENT_CODES:
        raise RowProblem(
            "unknown_departement",
            _("code de département inconnu dans « %(column)s » : « %(code)s »")
            % {"column": column, "code": value.strip()[:40]},
        )
    return code


def commune_code(value: str, column: str) -> str:
    """An INSEE commune code, zero-padded to five characters (``1001`` → ``01001``)."""
    code = plain_code(value, column)
    if not code:
        return ""
    if code.isdigit():
        code = code.zfill(5)
    if not _COMMUNE_RE.match(code):
        raise RowProblem(
            "bad_code",
            _("code de commune invalide dans « %(column)s » : « %(code)s »")
            % {"column": column, "code": value.strip()[:40]},
        )
    return code


def padded_code(value: str, column: str, width: int) -> str:
    """A numeric code zero-padded to ``width`` (région 2, canton and circonscription 4)."""
    code = plain_code(value, column)
    return code.zfill(width) if code.isdigit() else code


def number_code(value: str, column: str) -> str:
    """A code that is a plain number (AFE and consular circonscriptions): no leading zeros,
    so that the padded and unpadded publications agree."""
    code = plain_code(value, column)
    return str(int(code)) if code.isdigit() else code


def siren(value: str, column: str) -> str:
    """A nine-digit SIREN (spaces removed, zero-padded when published as a number)."""
    code = re.sub(r"\s", "", value)
    if not code:
        return ""
    if not code.isdigit() or len(code) > 9:
        raise RowProblem(
            "bad_code",
            _("numéro SIREN invalide dans « %(column)s » : « %(code)s »")
            % {"column": column, "code": value.strip()[:40]},
        )
    return code.zfill(9)


_GENDERS = {
    **dict.fromkeys(["m", "m.", "h", "homme", "monsieur", "masculin"], "M"),
    **dict.fromkeys(["f", "mme", "mme.", "madame", "femme", "feminin", "mlle"], "F"),
    "": "",
}


def gender(value: str, column: str) -> str:
    """``M``, ``F`` or empty, from a sex code or a civility (``Mme`` → ``F``)."""
    if value in ("M", "F"):  # what the RNE writes: skip folding
        return value
    try:
        return _GENDERS[fold(value.strip())]
    except KeyError:
        raise RowProblem(
            "bad_gender",
            _("valeur inconnue dans « %(column)s » : « %(value)s » (M ou F attendu)")
            % {"column": column, "value": value.strip()[:40]},
        ) from None


# Characters that have no place in a roster cell: C0/C1 controls (a tab or a
# newline inside a field means a broken export) and the bidirectional
# overrides that make a name display as something else.
_FORBIDDEN_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES_RE = re.compile(r"[\s\u00a0\u202f]+")


def check_text(value: str, column: str, limit: int) -> str:
    """``value`` with its spaces collapsed, refused if it holds control characters or
    is longer than ``limit`` characters."""
    if value.isprintable():  # C-speed test that passes nearly every cell
        text = value.strip()
        if "  " in text:
            text = _SPACES_RE.sub(" ", text)
    else:
        if _FORBIDDEN_RE.search(value):
            raise RowProblem(
                "control_character",
                _("caractère de contrôle dans « %(column)s »") % {"column": column},
            )
        text = _SPACES_RE.sub(" ", value).strip()
    if len(text) > limit:
        raise RowProblem(
            "too_long",
            _("« %(column)s » dépasse %(limit)d caractères") % {"column": column, "limit": limit},
        )
    return text


_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_X_HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{1,15}$")
_X_PREFIX_RE = re.compile(r"^(?:x|twitter)@", re.IGNORECASE)
_X_URL_RE = re.compile(r"^(?:https?://)?(?:www\.|mobile\.)?(?:twitter|x)\.com/", re.IGNORECASE)


def email(value: str) -> str:
    """An e-mail address, or empty if the value is not one (contact details are optional:
    a bad one is dropped, not a reason to lose the mandate)."""
    text = value.strip()
    return text if _EMAIL_RE.match(text) else ""


def website(value: str) -> str:
    """An http(s) URL: Datan and the Assemblée nationale write ``www.x.fr`` or
    ``/www.x.fr``; a scheme is added. Empty if unusable."""
    text = value.strip().lstrip("/")
    if not text or any(c.isspace() for c in text):
        return ""
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or "." not in (parts.hostname or ""):
        return ""
    return text


def x_handle(value: str) -> str:
    """An X/Twitter handle without ``@``, from ``@name``, ``name``, a profile URL, or the
    forms found in Datan (``@x.com/name``, ``@X@name``). Empty if unusable."""
    text = _X_URL_RE.sub("", value.strip().lstrip("@"))
    text = _X_PREFIX_RE.sub("", text).lstrip("@").split("?")[0].strip("/")
    return text if _X_HANDLE_RE.match(text) else ""
