"""Bytes to lines of text and cells: what a roster file is, its encoding and separator.

Nothing is taken from the file name. The first 64 KiB tell an empty, binary or
JSON file from a text one, and a UTF-16 file from the others. UTF-8 (with or
without BOM) and Windows-1252 are told apart line by line: the first line that
is not plain ASCII (the RNE header, ``Libellé``, or the first accented name)
fixes the file's encoding, and a later line in the other one is rejected on
its own (a file pasted together from two exports) instead of being read as
mojibake. Lines are read one at a time, so memory stays flat with the size of
the file, and each line is split on its own: a quote left open by a truncated
line costs that line, never the lines after it.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from parvis.identity.rosters.errors import RosterError, RowProblem

HEAD_SIZE = 64 * 1024
DELIMITERS = (";", ",", "\t", "|")
_UTF8_BOM = codecs.BOM_UTF8
_MAGIC = (
    (b"PK\x03\x04", "zip"),
    (b"\x1f\x8b", "gzip"),
    (b"%PDF", "pdf"),
    (b"\xd0\xcf\x11\xe0", "ole"),
)


@dataclass(frozen=True, slots=True)
class FileHead:
    """What the first bytes of a file say about it."""

    is_json: bool
    utf16: str | None  # the codec of a UTF-16 (or UTF-32) file, else None
    cr_only: bool  # classic Mac line ends


def inspect_file(path: Path) -> FileHead:
    """Refuse what is not a text file (missing, empty, binary, archive); say if it is JSON."""
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_SIZE)
    except FileNotFoundError:
        raise RosterError(path, None, _("fichier introuvable"), code="not_found") from None
    except OSError as exc:
        raise RosterError(
            path,
            None,
            _("fichier illisible : %(error)s") % {"error": exc.strerror or exc},
            code="not_found",
        ) from None
    body = head.removeprefix(_UTF8_BOM)
    if not body.strip():
        raise RosterError(path, None, _("fichier vide"), code="empty")
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            if kind in ("zip", "ole"):
                reason = _(
                    "le fichier est un classeur ou une archive (%(kind)s), pas un CSV : "
                    "exportez-le en CSV"
                ) % {"kind": kind.upper()}
            else:
                reason = _("le fichier est binaire (%(kind)s), pas un texte") % {
                    "kind": kind.upper()
                }
            raise RosterError(path, None, reason, code="binary")
    utf16 = _utf16_codec(head)
    if utf16 is None:
        # Binary data is full of NULs and control bytes; a text roster has none but
        # maybe a stray one in a broken row, which costs that row, not the file.
        controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32 or byte == 127)
        if controls > len(head) // 100:
            raise RosterError(path, None, _("le fichier est binaire, pas un texte"), code="binary")
        text_start = body.lstrip()[:1]
        cr_only = b"\r" in head and b"\n" not in head
    else:
        text_start = head.decode(utf16, errors="ignore").lstrip("\ufeff \t\r\n")[:1].encode()
        cr_only = False
    return FileHead(is_json=text_start in (b"{", b"["), utf16=utf16, cr_only=cr_only)


def _utf16_codec(head: bytes) -> str | None:
    # UTF-32 first: its little-endian BOM starts with UTF-16's.
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # the codec reads the BOM and drops it
    # Without a BOM, ASCII text in UTF-16 has a NUL in every other byte.
    sample = head[: len(head) - len(head) % 2]
    if len(sample) >= 4:
        if sample[1::2].count(0) > len(sample) // 4 and sample[0::2].count(0) == 0:
            return "utf-16-le"
        if sample[0::2].count(0) > len(sample) // 4 and sample[1::2].count(0) == 0:
            return "utf-16-be"
    return None


class LineDecoder:
    """Decodes one line at a time, holding the encoding the file turned out to use."""

    def __init__(self) -> None:
        # None while every line so far was plain ASCII.
        self.encoding: str | None = None

    def decode(self, raw: bytes) -> str:
        """The text of ``raw``, or RowProblem ``encoding`` if it is not in the file's encoding."""
        if raw.isascii():
            return raw.decode("ascii")
        if self.encoding is None:
            for encoding in ("utf-8", "cp1252"):
                try:
                    text = raw.decode(encoding)
                except UnicodeDecodeError:
                    continue
                self.encoding = encoding
                return text
            raise RowProblem("encoding", _("ligne illisible : ni UTF-8 ni Windows-1252"))
        if self.encoding == "utf-8":
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RowProblem(
                    "encoding",
                    _(
                        "ligne qui n'est pas en UTF-8 alors que le reste du fichier l'est "
                        "(encodages mélangés)"
                    ),
                ) from None
        # A Windows-1252 file: a line that is valid UTF-8 with accents is a line
        # pasted from a UTF-8 export (Windows-1252 text almost never is).
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            raise RowProblem(
                "encoding",
                _(
                    "ligne en UTF-8 alors que le reste du fichier est en Windows-1252 "
                    "(encodages mélangés)"
                ),
            )
        try:
            return raw.decode("cp1252")
        except UnicodeDecodeError:
            raise RowProblem(
                "encoding", _("ligne illisible en Windows-1252 (octet non défini)")
            ) from None


def _split_cr(fh: object, size: int = 1 << 16) -> Iterator[bytes]:
    pending = b""
    while chunk := fh.read(size):  # type: ignore[attr-defined]
        pending += chunk
        *lines, pending = pending.split(b"\r")
        yield from lines
    if pending:
        yield pending


def decoded_lines(path: Path, head: FileHead) -> Iterator[tuple[int, str | RowProblem]]:
    """Every physical line of ``path`` (numbered from 1, line end removed), decoded, or the
    problem that kept it from being decoded. A UTF-8 BOM is dropped from line 1."""
    if head.utf16:
        with path.open(encoding=head.utf16, newline="") as text_file:
            try:
                for number, line in enumerate(text_file, start=1):
                    yield number, line.rstrip("\r\n").removeprefix("\ufeff")
            except UnicodeDecodeError:
                raise RosterError(
                    path, None, _("texte UTF-16 ou UTF-32 illisible"), code="encoding"
                ) from None
        return
    decoder = LineDecoder()
    with path.open("rb") as fh:
        raw_lines: Iterator[bytes] = _split_cr(fh) if head.cr_only else iter(fh)
        for number, raw in enumerate(raw_lines, start=1):
            if raw.endswith(b"\n"):
                raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
            if number == 1:
                raw = raw.removeprefix(_UTF8_BOM)
            try:
                yield number, decoder.decode(raw)
            except RowProblem as problem:
                yield number, problem


def split_line(text: str, delimiter: str) -> list[str]:
    """The cells of one line; RowProblem if a quote is left open (a truncated line)."""
    if '"' not in text:
        return text.split(delimiter)
    if text.count('"') % 2:
        raise RowProblem("column_count", _("guillemet non fermé : ligne coupée ou mal échappée"))
    try:
        return next(csv.reader((text,), delimiter=delimiter))
    except csv.Error as exc:
        raise RowProblem(
            "column_count", _("ligne CSV illisible : %(error)s") % {"error": exc}
        ) from None


_WHITESPACE_RE = re.compile(r"\s+")


def header_names(text: str, delimiter: str) -> list[str]:
    """The column names of a header line split on ``delimiter``, spaces collapsed (the
    publisher once wrote ``Libellé du  département``)."""
    try:
        cells = split_line(text, delimiter)
    except RowProblem:
        cells = next(csv.reader((text,), delimiter=delimiter))
    return [_WHITESPACE_RE.sub(" ", cell).strip() for cell in cells]
