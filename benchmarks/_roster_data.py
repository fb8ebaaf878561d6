"""A national-size RNE roster built from the real samples, for ``roster.py``.

The Répertoire national des élus is published as one CSV per kind of mandate; the
samples in ``../shared/data/france/rne/<date>/`` hold the mayors (32,475 rows, every
commune), the departmental councillors and smaller files, but not the municipal
councillors (about 490,000 rows, too large to be copied there). This module writes,
into a folder, RNE files totalling ``rows`` mandates:

- ``elus-maires-mai.csv``: the mayors file's header, at most one mayor per real
  commune (5.5% of the rows, capped at the number of communes), communes spread
  over the whole file;
- ``elus-conseillers-departementaux-cd.csv``: the departmental file's header, 2% of
  the rows, cycling over the real cantons; the real function labels (président,
  vice-présidents) are kept on the first pass over the sample only, so that each
  function of a département is held once;
- ``elus-conseillers-municipaux-cm.csv``: the rest, with the municipal councillors'
  16-column header as documented in ``../shared/data/README.md`` (section 9),
  every real commune of the mayors file getting its share; the first councillors of
  a commune of 16 or more are its "1er" to "4ème adjoint au maire", once each.

Territory codes and labels, mandate and function start dates and the
socio-professional categories are those of real rows. The people are new: family
names and given names are drawn from the pool of every sample file (deduplicated on
their folded form, a given name keeping the sex of the row it was first seen in),
and each person's pair of names is a distinct point of a fixed permutation of
(family × given), so that no two people share both names, except the deliberate
homonyms (about 1% of the rows): the previous row's names with a birth date 1 to 15
years apart. Birth dates are drawn between 1940 and 2000.

In the same pass it writes the "changed" variant of the three files into a second
folder: the same rows, 1% of them (exactly, chosen by selection sampling among the
municipal and departmental councillors without a function) given a "Libellé de la
fonction" (``Conseiller municipal délégué``, ``Président de commission du conseil
départemental``) and a "Date de début de la fonction" 1 to 25 days after the
mandate's start: the same mandate (same person, place and start) with another
function, an update. Plus 0.2% new municipal councillors (new people) at the end of
the municipal file. Nothing is removed: a missing row ends a mandate, and an import
refuses to end more than a configured share of them. The mayors do not change: their
layout has no function label, and the function start date alone is not stored.

Rows are written as they are made; memory depends on the samples, not on ``rows``.
Run it alone to look at the files: ``python benchmarks/_roster_data.py OUT --rows N``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = "france/rne/2026-04-24"

MAYORS_FILE = "elus-maires-mai.csv"
DEPARTMENTAL_FILE = "elus-conseillers-departementaux-cd.csv"
MUNICIPAL_FILE = "elus-conseillers-municipaux-cm.csv"
FILES = (MAYORS_FILE, MUNICIPAL_FILE, DEPARTMENTAL_FILE)

# The municipal councillors' file is not among the samples: its header as documented
# in ../shared/data/README.md, section 9 (16 columns).
MUNICIPAL_HEADER = (
    "Code du département;Libellé du département;"
    "Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;"
    "Libellé de la commune;Nom de l'élu;Prénom de l'élu;Code sexe;Date de naissance;"
    "Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;"
    "Libellé de la fonction;Date de début de la fonction;Code nationalité"
)
ADJOINTS = (
    "1er adjoint au maire",
    "2ème adjoint au maire",
    "3ème adjoint au maire",
    "4ème adjoint au maire",
)
# The function a changed row gets: a councillor's usual title once given a delegation,
# and a label of the departmental sample.
DELEGATE = "Conseiller municipal délégué"
COMMISSION = "Président de commission du conseil départemental"

MAYOR_SHARE = 0.055
DEPARTMENTAL_SHARE = 0.02
HOMONYM_SHARE = 0.01
CHANGE_SHARE = 0.01
NEW_SHARE = 0.002
BIRTH_FIRST = date(1940, 1, 1)
BIRTH_LAST = date(2000, 12, 31)

FAMILY = "Nom de l'élu"
GIVEN = "Prénom de l'élu"
SEX = "Code sexe"
CSP_CODE = "Code de la catégorie socio-professionnelle"
CSP_LABEL = "Libellé de la catégorie socio-professionnelle"


def samples_folder() -> Path:
    """The RNE samples: ``$PARVIS_SHARED_DATA`` or ``../shared/data`` beside the project."""
    shared = Path(os.environ.get("PARVIS_SHARED_DATA", ROOT.parent / "shared" / "data"))
    return shared / SNAPSHOT


# Letters NFKD does not decompose, as parvis.identity.rosters.handles folds them.
_LETTERS = str.maketrans(
    {"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d", "ð": "d", "þ": "th", "ı": "i"}
)


def _key(name: str) -> str:
    """Folded letters and digits only: ``Jean-Louis`` and ``JEAN LOUIS`` are one name."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_LETTERS))
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c)).lower()


def _rows(path: Path) -> tuple[str, Iterator[dict[str, str]]]:
    """The header line and the rows (column → value) of a sample, whatever its dialect."""
    handle = path.open(encoding="utf-8", newline="")
    header = handle.readline()
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    names = [name.strip() for name in next(csv.reader([header], delimiter=delimiter))]

    def rows() -> Iterator[dict[str, str]]:
        with handle:
            for cells in csv.reader(handle, delimiter=delimiter):
                if cells:
                    yield dict(zip(names, (cell.strip() for cell in cells), strict=False))

    return header.rstrip("\r\n"), rows()


@dataclass(frozen=True)
class Commune:
    cells: tuple[str, str, str, str, str, str]  # département, collectivité, commune
    mandate_start: str
    function_start: str

    @property
    def label(self) -> str:
        return self.cells[5]


@dataclass(frozen=True)
class Canton:
    cells: tuple[str, str, str, str]  # département code and label, canton code and label
    mandate_start: str
    function_label: str
    function_start: str


@dataclass
class Samples:
    """What the generator draws from, read once from the sample files."""

    mayors_header: str
    departmental_header: str
    communes: list[Commune]
    cantons: list[Canton]
    families: list[str]
    givens: list[tuple[str, str]]  # (given names, sex)
    categories: list[tuple[str, str]]  # (code, label), one per real row: real frequencies
    files: int


def load_samples(folder: Path | None = None) -> Samples:
    folder = folder or samples_folder()
    paths = sorted(folder.glob("*.csv"))
    if not (folder / MAYORS_FILE).exists() or not (folder / DEPARTMENTAL_FILE).exists():
        raise FileNotFoundError(f"RNE samples missing in {folder} (set PARVIS_SHARED_DATA)")
    families: dict[str, str] = {}
    givens: dict[str, tuple[str, str]] = {}
    categories: list[tuple[str, str]] = []
    communes: list[Commune] = []
    cantons: list[Canton] = []
    headers: dict[str, str] = {}
    for path in paths:
        header, rows = _rows(path)
        headers[path.name] = header
        for row in rows:
            family, given, sex = row.get(FAMILY, ""), row.get(GIVEN, ""), row.get(SEX, "")
            if family and _key(family):
                families.setdefault(_key(family), family.upper())
            if given and sex in ("M", "F") and _key(given):
                givens.setdefault(_key(given), (given, sex))
            if row.get(CSP_CODE) and row.get(CSP_LABEL):
                categories.append((row[CSP_CODE], row[CSP_LABEL]))
            if path.name == MAYORS_FILE:
                communes.append(
                    Commune(
                        (
                            row["Code du département"],
                            row["Libellé du département"],
                            row["Code de la collectivité à statut particulier"],
                            row["Libellé de la collectivité à statut particulier"],
                            row["Code de la commune"],
                            row["Libellé de la commune"],
                        ),
                        row["Date de début du mandat"],
                        row["Date de début de la fonction"],
                    )
                )
            elif path.name == DEPARTMENTAL_FILE:
                cantons.append(
                    Canton(
                        (
                            row["Code du département"],
                            row["Libellé du département"],
                            row["Code du canton"],
                            row["Libellé du canton"],
                        ),
                        row["Date de début du mandat"],
                        row["Libellé de la fonction"],
                        row["Date de début de la fonction"],
                    )
                )
    return Samples(
        mayors_header=headers[MAYORS_FILE],
        departmental_header=headers[DEPARTMENTAL_FILE],
        communes=communes,
        cantons=cantons,
        families=sorted(families.values()),
        givens=sorted(givens.values()),
        categories=categories,
        files=len(paths),
    )


@dataclass
class Plan:
    """How many rows of each file, fixed before writing (for exact selection sampling)."""

    rows: int
    mayors: int
    departmental: int
    municipal: int
    new: int
    changes: int

    @classmethod
    def of(cls, rows: int, samples: Samples) -> Plan:
        mayors = min(len(samples.communes), round(rows * MAYOR_SHARE))
        departmental = round(rows * DEPARTMENTAL_SHARE)
        return cls(
            rows=rows,
            mayors=mayors,
            departmental=departmental,
            municipal=rows - mayors - departmental,
            new=round(rows * NEW_SHARE),
            changes=round(rows * CHANGE_SHARE),
        )


def _spread(total: int, slots: int, index: int) -> int:
    """Slot ``index``'s share when ``total`` items are spread evenly over ``slots``."""
    return (index + 1) * total // slots - index * total // slots


def _adjoints(count: int) -> int:
    return min(len(ADJOINTS), count // 4)


def eligible_rows(plan: Plan, samples: Samples) -> int:
    """Rows a change may touch: the councillors without a function."""
    communes, cantons = len(samples.communes), len(samples.cantons)
    adjoints = sum(_adjoints(_spread(plan.municipal, communes, c)) for c in range(communes))
    functions = sum(
        1
        for t, canton in enumerate(samples.cantons)
        if canton.function_label and _spread(plan.departmental, cantons, t) > 0
    )
    return plan.municipal - adjoints + plan.departmental - functions


@dataclass
class Person:
    family: str
    given: str
    sex: str
    birth: date


@dataclass
class People:
    """Distinct people: person ``n`` gets point ``n`` of a permutation of family × given."""

    samples: Samples
    rng: random.Random
    made: int = 0
    homonyms: int = 0
    previous: Person | None = None
    previous_homonym: bool = False
    step: int = 0
    offset: int = 0

    def __post_init__(self) -> None:
        space = len(self.samples.families) * len(self.samples.givens)
        step = self.rng.randrange(space // 3, space // 2) | 1
        while math.gcd(step, space) != 1:
            step += 2
        self.step, self.offset, self.space = step, self.rng.randrange(space), space

    def new(self, homonyms: bool = True) -> Person:
        rng = self.rng
        if (
            homonyms
            and self.previous is not None
            and not self.previous_homonym
            and rng.random() < HOMONYM_SHARE
        ):
            original = self.previous
            days = rng.randint(365, 15 * 365) * rng.choice((-1, 1))
            birth = original.birth + timedelta(days=days)
            if not BIRTH_FIRST <= birth <= BIRTH_LAST:
                birth = original.birth - timedelta(days=days)
            person = Person(original.family, original.given, original.sex, birth)
            self.homonyms += 1
            self.previous_homonym = True
        else:
            if self.made >= self.space:
                raise ValueError("more people asked than pairs of names in the samples")
            point = (self.offset + self.made * self.step) % self.space
            families = self.samples.families
            given, sex = self.samples.givens[point // len(families)]
            span = (BIRTH_LAST - BIRTH_FIRST).days
            birth = BIRTH_FIRST + timedelta(days=rng.randrange(span + 1))
            person = Person(families[point % len(families)], given, sex, birth)
            self.made += 1
            self.previous_homonym = False
        self.previous = person
        return person


@dataclass
class Output:
    """One generated file, written to the base folder and to the changed one."""

    name: str
    base: TextIO
    changed: TextIO
    rows: int = 0
    changed_rows: int = 0
    new_rows: int = 0

    def write(self, cells: list[str], changed: list[str] | None = None) -> None:
        line = ";".join(cells) + "\n"
        self.base.write(line)
        self.changed.write(";".join(changed) + "\n" if changed is not None else line)
        self.rows += 1
        if changed is not None:
            self.changed_rows += 1

    def append_new(self, cells: list[str]) -> None:
        self.changed.write(";".join(cells) + "\n")
        self.new_rows += 1


@dataclass
class Roster:
    """What was generated: the files of both variants and their counts."""

    base: list[Path]
    changed: list[Path]
    rows: int
    files: dict[str, int]
    people: int
    homonyms: int
    changed_rows: int
    new_rows: int
    changes_by_file: dict[str, int]
    bytes: int
    terms: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["base"] = [str(p) for p in self.base]
        data["changed"] = [str(p) for p in self.changed]
        return data


def _date(text: str) -> date:
    day, month, year = (int(part) for part in text.split("/"))
    return date(year, month, day)


def _shifted(text: str, days: int) -> str:
    return (_date(text) + timedelta(days=days)).strftime("%d/%m/%Y")


def generate(
    folder: Path, rows: int = 600_000, seed: int = 2026, samples: Samples | None = None
) -> Roster:
    """Write ``folder/base/*.csv`` (``rows`` mandates) and ``folder/changed/*.csv``."""
    samples = samples or load_samples()
    plan = Plan.of(rows, samples)
    if rows < 1_000:
        raise ValueError(f"{rows:,} rows: a roster of this shape needs at least 1,000")
    rng = random.Random(seed)
    change_rng = random.Random(seed + 1)
    people = People(samples, random.Random(seed + 2))
    eligible = eligible_rows(plan, samples)
    if eligible < plan.changes:
        raise ValueError(f"only {eligible} rows can change, {plan.changes} asked")
    remaining = {"eligible": eligible, "changes": plan.changes}

    def change(cells: list[str], label: str, column: int) -> list[str] | None:
        """Algorithm S: exactly ``plan.changes`` of the ``eligible`` rows, evenly spread.
        A changed row gets function ``label`` in ``column`` (and its start date after)."""
        chosen = change_rng.random() * remaining["eligible"] < remaining["changes"]
        remaining["eligible"] -= 1
        if not chosen:
            return None
        remaining["changes"] -= 1
        changed = list(cells)
        changed[column] = label
        changed[column + 1] = _shifted(cells[column - 1], change_rng.randint(1, 25))
        return changed

    def category() -> tuple[str, str]:
        return samples.categories[rng.randrange(len(samples.categories))]

    def person_cells(person: Person) -> list[str]:
        code, label = category()
        return [person.family, person.given, person.sex, person.birth.strftime("%d/%m/%Y"), code,
                label]  # fmt: skip

    terms: dict[str, str] = {}
    base, changed = folder / "base", folder / "changed"
    base.mkdir(parents=True, exist_ok=True)
    changed.mkdir(parents=True, exist_ok=True)
    outputs: dict[str, Output] = {}
    headers = {
        MAYORS_FILE: samples.mayors_header,
        MUNICIPAL_FILE: MUNICIPAL_HEADER,
        DEPARTMENTAL_FILE: samples.departmental_header,
    }
    handles = []
    try:
        for name in FILES:
            pair = [(base / name).open("w", encoding="utf-8", newline="\n"),
                    (changed / name).open("w", encoding="utf-8", newline="\n")]  # fmt: skip
            handles += pair
            outputs[name] = Output(name, *pair)
            for handle in pair:
                handle.write(headers[name] + "\n")

        # Mayors: evenly spaced communes, one mayor each.
        out, count = outputs[MAYORS_FILE], len(samples.communes)
        for k in range(plan.mayors):
            commune = samples.communes[k * count // plan.mayors]
            person = people.new()
            cells = [*commune.cells, *person_cells(person), commune.mandate_start,
                     commune.function_start]  # fmt: skip
            out.write(cells)

        # Municipal councillors: every commune its share, adjoints first.
        out = outputs[MUNICIPAL_FILE]
        for c, commune in enumerate(samples.communes):
            share = _spread(plan.municipal, count, c)
            adjoints = _adjoints(share)
            for n in range(share):
                person = people.new()
                # Search terms that name generated people: a whole person, and a family
                # name with an accent (single words, as people type them).
                plain = person.family.isalpha() and person.given.isalpha()
                if "person" not in terms and c > count // 3 and plain:
                    terms["person"] = f"{person.given} {person.family.title()}"
                if "accented" not in terms and plain and not person.family.isascii():
                    terms["accented"] = person.family.title()
                function = n < adjoints
                cells = [*commune.cells, *person_cells(person), commune.mandate_start,
                         ADJOINTS[n] if function else "",
                         commune.function_start if function else "", "FR"]  # fmt: skip
                out.write(cells, None if function else change(cells, DELEGATE, 13))

        # Departmental councillors: the sample's cantons in turn; real functions once.
        out, cantons = outputs[DEPARTMENTAL_FILE], samples.cantons
        for t, canton in enumerate(cantons):
            for n in range(_spread(plan.departmental, len(cantons), t)):
                person = people.new()
                first = n == 0
                cells = [*canton.cells, *person_cells(person), canton.mandate_start,
                         canton.function_label if first else "",
                         canton.function_start if first else ""]  # fmt: skip
                plain = not cells[11]
                out.write(cells, change(cells, COMMISSION, 11) if plain else None)

        # New councillors, in the changed variant only: new people, no homonyms.
        out = outputs[MUNICIPAL_FILE]
        for k in range(plan.new):
            commune = samples.communes[k * count // plan.new]
            person = people.new(homonyms=False)
            out.append_new([*commune.cells, *person_cells(person), commune.mandate_start, "",
                            "", "FR"])  # fmt: skip
    finally:
        for handle in handles:
            handle.close()
    if remaining["changes"]:
        raise AssertionError(f"{remaining['changes']} changes left unmade")

    commune = next((c for c in samples.communes if c.label == "Vendôme"), None) or next(
        c for c in samples.communes if _key(c.label) != c.label.lower()
    )
    terms["commune"] = commune.label
    total = sum(o.rows for o in outputs.values())
    return Roster(
        base=[base / name for name in FILES],
        changed=[changed / name for name in FILES],
        rows=total,
        files={name: o.rows for name, o in outputs.items()},
        people=people.made,
        homonyms=people.homonyms,
        changed_rows=sum(o.changed_rows for o in outputs.values()),
        new_rows=sum(o.new_rows for o in outputs.values()),
        changes_by_file={name: o.changed_rows for name, o in outputs.items()},
        bytes=sum((base / name).stat().st_size for name in FILES),
        terms=terms,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="Where to write base/ and changed/.")
    parser.add_argument("--rows", type=int, default=600_000)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    roster = generate(args.folder, args.rows, args.seed)
    print(json.dumps(roster.as_dict(), ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
