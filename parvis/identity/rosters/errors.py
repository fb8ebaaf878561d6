"""The two ways reading a roster goes wrong: the whole file, or one row of it.

A file that cannot be read at all (not text, unknown encoding, unknown header,
empty) raises :class:`RosterError` before a single row comes out. A row that
cannot be read becomes a :class:`RosterRejection` in the stream, and the rows
around it still come out: an import keeps the good rows and reports the bad
ones with their file, line and reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RosterError(ValueError):
    """A whole file that cannot be read, with where and why.

    ``code`` is stable and machine-readable (``empty``, ``binary``, ``encoding``,
    ``separator``, ``unknown_kind``, ``header``, ``mapping``, ``json``, ``column_count``,
    ``not_found``); ``reason`` is the translated French sentence shown to people.
    """

    def __init__(
        self, path: Path | str, line: int | None, reason: str, *, code: str = "unreadable"
    ) -> None:
        self.path, self.line, self.reason, self.code = str(path), line, reason, code
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


class RowProblem(ValueError):
    """Raised while building one entry; becomes a :class:`RosterRejection` (internal)."""

    def __init__(self, code: str, reason: str) -> None:
        self.code, self.reason = code, reason
        super().__init__(reason)


@dataclass(frozen=True, slots=True)
class RosterRejection:
    """A row of a roster that was not read, and why.

    ``line`` is the physical line in a CSV file (1 is the header), ``None`` in a
    JSON file, where ``record`` names the acteur and mandate instead. ``code``
    is machine-readable (``missing_name``, ``bad_date``, ``birth_after_start``,
    ``unknown_departement``, ``bad_code``, ``column_count``, ``too_long``,
    ``control_character``, ``encoding``, ``bad_gender``, ``missing_start``,
    ``end_before_start``, ``bad_record``); ``reason`` is a translated sentence.
    ``raw`` is the start of the offending line, to help whoever fixes the file.
    """

    path: str
    line: int | None
    code: str
    reason: str
    raw: str = ""
    record: str = ""

    @property
    def where(self) -> str:
        """``path:line`` (or ``path [record]`` for a JSON record)."""
        if self.line is not None:
            return f"{self.path}:{self.line}"
        return f"{self.path} [{self.record}]" if self.record else self.path

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"
