"""``read_roster``: any roster file (or AMO folder) to a stream of entries and rejections."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

from parvis.identity.rosters.amo import Organe, load_organes, read_amo_file
from parvis.identity.rosters.build import build_entry
from parvis.identity.rosters.errors import RosterError, RosterRejection, RowProblem
from parvis.identity.rosters.layouts import CsvLayout, detect_layout
from parvis.identity.rosters.mapping import RosterMapping, load_mapping
from parvis.identity.rosters.records import RosterEntry
from parvis.identity.rosters.textfile import decoded_lines, inspect_file, split_line

RosterItem = RosterEntry | RosterRejection
_RAW_PREVIEW = 200


def read_roster(
    path: str | os.PathLike[str],
    *,
    mapping: str | os.PathLike[str] | RosterMapping | None = None,
    organes: Mapping[str, Organe] | None = None,
) -> Iterator[RosterItem]:
    """Read one roster: yield a :class:`RosterEntry` per good row, a :class:`RosterRejection`
    per bad one, in file order.

    ``path`` is an RNE CSV file (any of its resources), the Datan deputies CSV, an
    Assemblée nationale acteur or export JSON file, a folder of acteur files (or the
    AMO folder holding ``acteur/`` and ``organe/``), or, with ``mapping`` (a mapping
    file or :class:`RosterMapping`, see :mod:`parvis.identity.rosters.mapping`), any
    CSV. The kind of file, its encoding, separator, quoting and date format are
    detected from its content, never from its name.

    The file is checked when this function is called: a file that cannot be read at
    all raises :class:`RosterError` then, before any row. Rows are read lazily
    afterwards, one line at a time (memory does not grow with the file). In a
    folder of acteur files, a file that cannot be read becomes a rejection and the
    other files are still read. ``organes`` overrides the AMO organes found beside
    the acteur files.
    """
    path = Path(path)
    if isinstance(mapping, str | os.PathLike):
        mapping = load_mapping(mapping)
    if path.is_dir():
        if mapping is not None:
            raise RosterError(
                path, None, _("une correspondance ne s'applique qu'à un CSV"), code="mapping"
            )
        return _read_amo_folder(path, organes)
    head = inspect_file(path)
    if head.is_json:
        if mapping is not None:
            raise RosterError(
                path, None, _("une correspondance ne s'applique qu'à un CSV"), code="mapping"
            )
        return read_amo_file(path, organes)
    lines = decoded_lines(path, head)
    for number, text in lines:
        if isinstance(text, RowProblem):
            raise RosterError(
                path,
                number,
                _("en-tête illisible : encodage inconnu (ni UTF-8 ni Windows-1252)"),
                code="encoding",
            )
        if text.strip():
            layout = detect_layout(path, text, number, mapping)
            return _csv_rows(str(path), layout, lines)
    raise RosterError(path, None, _("fichier vide"), code="empty")


def _read_amo_folder(folder: Path, organes: Mapping[str, Organe] | None) -> Iterator[RosterItem]:
    if (folder / "acteur").is_dir():
        files = sorted((folder / "acteur").glob("*.json"))
        organe_folder = folder / "organe"
    else:
        files = sorted(folder.glob("*.json"))
        organe_folder = folder.parent / "organe"
    if not files:
        raise RosterError(
            folder,
            None,
            _("dossier sans fichier acteur JSON de l'Assemblée nationale"),
            code="not_found",
        )
    if organes is None:
        organes = load_organes(organe_folder)
    return _amo_files(files, organes)


def _amo_files(files: list[Path], organes: Mapping[str, Organe]) -> Iterator[RosterItem]:
    for file in files:
        try:
            items = read_amo_file(file, organes)
        except RosterError as error:
            yield RosterRejection(str(file), None, error.code, error.reason)
            continue
        yield from items


def _csv_rows(
    path: str, layout: CsvLayout, lines: Iterator[tuple[int, str | RowProblem]]
) -> Iterator[RosterItem]:
    delimiter, width, columns = layout.delimiter, layout.width, layout.columns
    names, kind, source_format = layout.names, layout.kind, layout.source_format
    constants, date_format = layout.constants, layout.date_format
    for number, text in lines:
        if isinstance(text, RowProblem):
            yield RosterRejection(path, number, text.code, text.reason)
            continue
        if not text.strip():
            continue
        try:
            cells = split_line(text, delimiter)
            if len(cells) != width and not (
                len(cells) > width and not any(cells[width:])  # trailing separators
            ):
                raise RowProblem(
                    "column_count",
                    _("%(got)d colonnes au lieu de %(expected)d")
                    % {"got": len(cells), "expected": width},
                )
            raw = {field: cells[index] for index, field in columns}
            for field, value in constants.items():
                if not raw.get(field, "").strip():
                    raw[field] = value
            yield build_entry(
                raw,
                names,
                kind=kind,
                source_format=source_format,
                path=path,
                line=number,
                date_format=date_format,
            )
        except RowProblem as problem:
            yield RosterRejection(path, number, problem.code, problem.reason, text[:_RAW_PREVIEW])


@dataclass
class RosterRow:
    """A raw row of a CSV roster: its line and its cells by column name."""

    line: int
    values: dict[str, str]

    def get(self, *names: str) -> str:
        """The first non-empty value among columns ``names`` (headers differ between files)."""
        for name in names:
            value = self.values.get(name, "").strip()
            if value:
                return value
        return ""


def read_csv(path: Path) -> Iterator[RosterRow]:
    """Yield the raw rows of a CSV roster of a known kind, whatever its encoding, separator
    and quoting; columns are named as in the header, spaces collapsed. Unlike
    :func:`read_roster`, any bad row stops the reading with a RosterError."""
    path = Path(path)
    head = inspect_file(path)
    lines = decoded_lines(path, head)
    header: tuple[str, ...] = ()
    delimiter = ";"
    for number, text in lines:
        if isinstance(text, RowProblem):
            raise RosterError(path, number, text.reason, code=text.code)
        if not header:
            if text.strip():
                layout = detect_layout(path, text, number)
                header, delimiter = layout.header[: layout.width], layout.delimiter
            continue
        if not text.strip():
            continue
        try:
            cells = split_line(text, delimiter)
        except RowProblem as problem:
            raise RosterError(path, number, problem.reason, code=problem.code) from None
        if len(cells) > len(header) and not any(cells[len(header) :]):
            cells = cells[: len(header)]
        if len(cells) != len(header):
            raise RosterError(
                path,
                number,
                _("%(got)d colonnes au lieu de %(expected)d")
                % {"got": len(cells), "expected": len(header)},
                code="column_count",
            )
        yield RosterRow(line=number, values=dict(zip(header, cells, strict=True)))
    if not header:
        raise RosterError(path, None, _("fichier vide"), code="empty")
