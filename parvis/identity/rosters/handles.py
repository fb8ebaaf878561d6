"""Account handles proposed from a person's names: readable, deterministic, collision-free.

``propose_handle("Line", "EVALET TAPONAT")`` is ``line.evalet-taponat``: ASCII-folded,
lower case, the given names and the family name joined by a dot (the
``prenom.nom`` of official e-mail addresses), the words within each by hyphens,
within the handle rules of :func:`parvis.identity.services.validate_handle`
(the same pattern, length and reserved words, checked by calling it). A homonym gets the birth year
(``jean.martin-1967``), then a counter (``jean.martin-1967-2``, or
``jean.martin-2`` without a birth date): the result depends only on the names,
the birth date and the handles already taken, never on the order of the rows
or on chance. Keeping a person's handle across imports and never giving a
handle to another person is the caller's part: it stores the handle it chose,
and passes every handle ever used (including those of ended mandates) as
``taken``.
"""

from __future__ import annotations

import re
from collections.abc import Container, Iterator
from datetime import date

from django.core.exceptions import ValidationError

from parvis.core.text import fold
from parvis.identity.services import validate_handle

HANDLE_MAX = 64  # validate_handle refuses longer handles
# Letters NFKD does not decompose (fold leaves them as they are).
_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)
_NOT_ALNUM_RE = re.compile(r"[^a-z0-9]+")
_FALLBACK = "elu"  # names with no Latin letter at all


def _slug(text: str) -> str:
    return _NOT_ALNUM_RE.sub("-", fold(text.translate(_LETTERS))).strip("-")


def handle_base(given_names: str, family_name: str) -> str:
    """``given.family`` folded to ASCII, lower case, words hyphenated (no length limit)."""
    return ".".join(part for part in (_slug(given_names), _slug(family_name)) if part)


def _fit(base: str, suffix: str) -> str:
    # Cut the base, never the suffix that makes the handle unique, and not mid-word.
    room = HANDLE_MAX - len(suffix)
    return (base[:room].rstrip("-.") if len(base) > room else base) + suffix


def handle_candidates(
    given_names: str, family_name: str, birth_date: date | None = None
) -> Iterator[str]:
    """The handles :func:`propose_handle` tries for this person, in order (endless;
    a reserved word among them is skipped by it)."""
    base = handle_base(given_names, family_name) or _FALLBACK
    yield _fit(base, "")
    stem = f"-{birth_date.year}" if birth_date else ""
    if stem:
        yield _fit(base, stem)
    counter = 2
    while True:
        yield _fit(base, f"{stem}-{counter}")
        counter += 1


def propose_handle(
    given_names: str,
    family_name: str,
    *,
    birth_date: date | None = None,
    taken: Container[str] = frozenset(),
) -> str:
    """The first free, valid handle for this person; a pure function.

    ``taken`` holds handles as stored (lower case: ``Account.save`` lowers them),
    every handle used on the domain, past ones included; only ``in`` is used on
    it, so a set of 600,000 handles costs nothing per call.
    """
    for candidate in handle_candidates(given_names, family_name, birth_date):
        if candidate in taken:
            continue
        try:
            return validate_handle(candidate)
        except ValidationError as error:
            if error.code != "handle_reserved":
                raise  # the rules changed under this module: fail loudly, never loop
            # A reserved word ("admin", "root"…): try the next form.
    raise AssertionError("unreachable: the candidates never end")  # pragma: no cover
