"""Provisioning from official rosters: roster entries reconciled with officials, mandates
and accounts.

The reading layer (:mod:`parvis.identity.rosters`) turns files into entries; this
module decides, for each entry, whether its mandate is new, unchanged, changed or
ended, and writes the difference, one transaction per batch. It is idempotent: a
second run over the same files changes nothing, and a run interrupted half-way is
completed by running it again (the batches already written read as unchanged).

Identity, stated once (docs/rosters.md explains its failure cases):

- a **person** is recognised by :func:`person_key`: folded given names, family name
  and birth date (the RNE has no person id);
- a **mandate** by its *source* (:func:`mandate_source`, one per kind of mandate)
  and a source id hashed from the kind, the institution, the person and the start
  date. A mandate of that source that a run does not see is ended, unless that would
  end more than ``max_end_share`` of the source's open mandates (a truncated file).
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import islice

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from parvis.core.bulk import insert_rows
from parvis.core.models import Clock
from parvis.identity.models import (
    Account,
    AccountKind,
    Domain,
    EndReason,
    Institution,
    InstitutionKind,
    Mandate,
    MandateKind,
    Official,
)
from parvis.identity.rosters import (
    RosterEntry,
    RosterItem,
    RosterRejection,
    handle_base,
    handle_candidates,
    propose_handle,
)
from parvis.identity.services import get_or_create_domain

SAMPLE_SIZE = 5
KEPT_REJECTIONS = 1000  # a report lists this many bad rows; the count covers them all
_HANDLE_PROBES = 3  # candidate handles read at once per new person; later ones one by one

# Where each kind of mandate is held: the kind of institution and the territory code
# naming it (empty: the one national institution of that kind).
_SEATS: dict[str, tuple[str, str]] = {
    MandateKind.MAYOR: (InstitutionKind.COMMUNE, "commune"),
    MandateKind.MUNICIPAL_COUNCILLOR: (InstitutionKind.COMMUNE, "commune"),
    MandateKind.SECTOR_COUNCILLOR: (InstitutionKind.COMMUNE, "commune"),
    MandateKind.COMMUNITY_COUNCILLOR: (InstitutionKind.INTERCOMMUNALITY, "epci"),
    MandateKind.DEPARTMENTAL_COUNCILLOR: (InstitutionKind.DEPARTEMENT, "departement"),
    MandateKind.REGIONAL_COUNCILLOR: (InstitutionKind.REGION, "region"),
    MandateKind.SPECIAL_ASSEMBLY_MEMBER: (InstitutionKind.COLLECTIVITY, "collectivite"),
    MandateKind.DEPUTY: (InstitutionKind.NATIONAL_ASSEMBLY, ""),
    MandateKind.SENATOR: (InstitutionKind.SENATE, ""),
    MandateKind.MEP: (InstitutionKind.EUROPEAN_PARLIAMENT, ""),
    MandateKind.GOVERNMENT_MEMBER: (InstitutionKind.GOVERNMENT, ""),
    MandateKind.AFE_MEMBER: (InstitutionKind.OTHER, ""),
    MandateKind.CONSULAR_COUNCILLOR: (InstitutionKind.OTHER, ""),
    MandateKind.OTHER: (InstitutionKind.OTHER, "body"),
}
_LEVEL_CODES = {
    "commune": gettext_lazy("code de la commune"),
    "epci": gettext_lazy("SIREN de l'intercommunalité"),
    "departement": gettext_lazy("code du département"),
    "region": gettext_lazy("code de la région"),
    "collectivite": gettext_lazy("code de la collectivité"),
    "body": gettext_lazy("nom de l'institution (body_label)"),
}
# Institutions a roster names without describing them.
_NATIONAL_NAMES = {
    MandateKind.DEPUTY: "Assemblée nationale",
    MandateKind.SENATOR: "Sénat",
    MandateKind.MEP: "Parlement européen",
    MandateKind.GOVERNMENT_MEMBER: "Gouvernement",
    MandateKind.AFE_MEMBER: "Assemblée des Français de l'étranger",
    MandateKind.CONSULAR_COUNCILLOR: "Conseils consulaires",
}
_MANDATE_FIELDS = [
    "official",
    "institution",
    "kind",
    "function_label",
    "function_account",
    "start_date",
    "end_date",
    "end_reason",
    "source",
    "source_id",
    "fingerprint",
]
_ACCOUNT_FIELDS = [
    "domain",
    "handle",
    "kind",
    "display_name",
    "institution",
    "official",
    "search_text",
]
# The prefix of the handle of a function account created for a kind of mandate.
_FUNCTION_PREFIX = {MandateKind.MAYOR: "maire"}


class Action:
    """What a run did with a row (the report's keys)."""

    CREATED = "created"
    UPDATED = "updated"
    ENDED = "ended"
    UNCHANGED = "unchanged"
    REJECTED = "rejected"
    ALL = (CREATED, UPDATED, ENDED, UNCHANGED, REJECTED)


def person_key(
    given_names: str, family_name: str, birth_date: date | None, external_id: str = ""
) -> str:
    """The stable identity of a person across roster files and publications.

    ``jean-pierre.martin/1967-05-02``: names folded to ASCII and lower case, words
    hyphenated (so ``Jean Pierre`` and ``JEAN-PIERRE`` agree), then the birth date. A
    source without birth dates may give its own person id instead (``…/id:P123``).
    """
    if birth_date is not None:
        return f"{handle_base(given_names, family_name)}/{birth_date.isoformat()}"
    return f"{handle_base(given_names, family_name)}/{f'id:{external_id}' if external_id else ''}"


def mandate_source(kind: str, mapped_source: str = "") -> str:
    """The source a mandate of ``kind`` belongs to: what a run may end when it does
    not see it. One per kind, so that importing the mayors never ends a deputy; a
    file read with a mapping names its own (``other:prefets``)."""
    if kind == MandateKind.OTHER or mapped_source:
        return f"{kind}:{mapped_source or 'csv'}"
    return str(kind)


def _digest(*parts: object) -> str:
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=16).hexdigest()


@dataclass
class ImportOptions:
    """How a run reconciles: the domain of new accounts (created if missing), batch size
    and safety limits."""

    domain: str
    today: date = field(default_factory=timezone.localdate)
    batch_size: int = 1000
    max_end_share: float = 0.1
    force: bool = False
    dry_run: bool = False
    function_kinds: frozenset[str] = frozenset({MandateKind.MAYOR})
    mapped_source: str = ""


@dataclass
class ImportReport:
    """What a run did (or, dry, would do): counts by action, samples, rejected rows."""

    dry_run: bool = False
    rows: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    rejections: list[RosterRejection] = field(default_factory=list)
    officials_created: int = 0
    accounts_created: int = 0
    function_accounts_created: int = 0
    institutions_created: int = 0
    successions: int = 0
    frozen: int = 0
    unfrozen: int = 0
    # Mandates a run did not see but left open: ending them would have ended more
    # than the allowed share of their source's open mandates.
    refused_endings: int = 0
    refused_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def record(self, action: str, sample: str) -> None:
        self.counts[action] += 1
        if len(self.samples[action]) < SAMPLE_SIZE:
            self.samples[action].append(sample)

    def reject(self, rejection: RosterRejection) -> None:
        self.counts[Action.REJECTED] += 1
        if len(self.rejections) < KEPT_REJECTIONS:
            self.rejections.append(rejection)

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data (``parvis roster import --report-json``)."""
        return {
            "dry_run": self.dry_run,
            "rows": self.rows,
            **{action: self.counts[action] for action in Action.ALL},
            "officials_created": self.officials_created,
            "accounts_created": self.accounts_created,
            "function_accounts_created": self.function_accounts_created,
            "institutions_created": self.institutions_created,
            "successions": self.successions,
            "frozen": self.frozen,
            "unfrozen": self.unfrozen,
            "refused_endings": self.refused_endings,
            "refused_sources": self.refused_sources,
            "samples": {action: list(self.samples[action]) for action in Action.ALL},
            "rejections": [
                {"where": r.where, "code": r.code, "reason": r.reason} for r in self.rejections
            ],
            "seconds": round(self.seconds, 3),
        }


class _DryRun(Exception):
    """Raised at the end of a dry run to roll everything back."""


class _SeenIds:
    """Mandate ids seen by a run, one bit each: flat in memory whatever the file size."""

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, pk: int) -> None:
        index = pk >> 3
        if index >= len(self._bits):
            self._bits.extend(bytes(index + 1 - len(self._bits) + 4096))
        self._bits[index] |= 1 << (pk & 7)

    def __contains__(self, pk: object) -> bool:
        if not isinstance(pk, int):
            return False
        index = pk >> 3
        return index < len(self._bits) and bool(self._bits[index] & (1 << (pk & 7)))


@dataclass(slots=True)
class _Row:
    entry: RosterEntry
    source: str
    source_id: str
    person: str
    institution: Institution
    function_label: str
    fingerprint: str

    @property
    def end_date(self) -> date | None:
        return self.entry.mandate.end_date

    def describe(self) -> str:
        person = self.entry.person
        return (
            f"{person.given_names} {person.family_name} — {self.function_label}, "
            f"{self.institution.name} ({self.entry.where})"
        )


@dataclass(frozen=True, slots=True)
class _Seat:
    key: tuple[str, str]  # the institution's kind and code (or name, or nothing)
    values: dict[str, object]


class _Institutions:
    """The institutions mandates are held in, found by kind and code, created when new."""

    def __init__(self, report: ImportReport) -> None:
        self._report = report
        self._by_key: dict[tuple[str, str], Institution] = {}
        for institution in Institution.objects.only(
            "id", "kind", "name", "insee_code", "siren", "departement_code"
        ).order_by("id"):
            self._by_key.setdefault(self._key_of(institution), institution)

    @staticmethod
    def _key_of(institution: Institution) -> tuple[str, str]:
        if institution.kind in (
            InstitutionKind.COMMUNE,
            InstitutionKind.DEPARTEMENT,
            InstitutionKind.REGION,
            InstitutionKind.COLLECTIVITY,
        ):
            return institution.kind, institution.insee_code
        if institution.kind == InstitutionKind.INTERCOMMUNALITY:
            return institution.kind, institution.siren
        if institution.kind == InstitutionKind.OTHER:
            return institution.kind, institution.name
        return institution.kind, ""

    @staticmethod
    def seat(entry: RosterEntry) -> _Seat | str:
        """Where ``entry``'s mandate is held, or the reason it cannot be told."""
        kind = entry.mandate.kind
        institution_kind, level = _SEATS[kind]
        where = entry.territory
        values: dict[str, object] = {"kind": institution_kind}
        if level == "commune":
            code, name = where.commune_code, where.commune_label
            values.update(
                insee_code=code,
                departement_code=where.departement_code[:3],
                region_code=where.region_code[:3],
            )
        elif level == "epci":
            code, name = where.epci_siren, where.epci_label
            values.update(siren=code, departement_code=where.departement_code[:3])
        elif level == "departement":
            code, name = where.departement_code, where.departement_label
            values.update(insee_code=code, departement_code=code[:3])
        elif level == "region":
            code, name = where.region_code, where.region_label
            values.update(insee_code=code, region_code=code[:3])
        elif level == "collectivite":
            code, name = where.collectivite_code, where.collectivite_label
            values.update(insee_code=code)
        elif level == "body":
            name = entry.mandate.body_label or entry.mandate.body_code
            code = name
        else:
            name = _NATIONAL_NAMES[kind]
            # Several bodies are of kind "other": their name tells them apart.
            code = name if institution_kind == InstitutionKind.OTHER else ""
        if level and not code:
            return _("%(code)s manquant : impossible de savoir où le mandat s'exerce") % {
                "code": _LEVEL_CODES[level]
            }
        values["name"] = (name or code)[:255]
        return _Seat((str(institution_kind), code), values)

    def resolve(self, seats: Iterable[_Seat]) -> dict[tuple[str, str], Institution]:
        """The institutions of ``seats`` by key, creating those met for the first time."""
        missing: dict[tuple[str, str], Institution] = {}
        for seat in seats:
            if seat.key not in self._by_key and seat.key not in missing:
                missing[seat.key] = Institution(**seat.values)
        if missing:
            Institution.objects.bulk_create(missing.values())
            self._by_key.update(missing)
            self._report.institutions_created += len(missing)
        return self._by_key


class RosterImport:
    """One reconciliation run over a stream of roster entries (see :func:`import_rosters`)."""

    def __init__(
        self, options: ImportOptions, on_progress: Callable[[int], None] | None = None
    ) -> None:
        self.options = options
        self.report = ImportReport(dry_run=options.dry_run)
        self._on_progress = on_progress
        self._seen = _SeenIds()
        self._last_before = 0
        self._sources: set[str] = set()
        self._institutions = _Institutions(self.report)
        self._domain: Domain | None = None
        with translation.override("fr"):
            self._kind_labels = {kind: str(label) for kind, label in MandateKind.choices}

    @property
    def domain(self) -> Domain:
        if self._domain is None:
            self._domain = get_or_create_domain(self.options.domain)
        return self._domain

    def run(self, items: Iterable[RosterItem]) -> ImportReport:
        """Reconcile every item, end what was not seen, and return the report."""
        started = time.perf_counter()
        try:
            if self.options.dry_run:
                with transaction.atomic():
                    self._run(items)
                    raise _DryRun
            else:
                self._run(items)
        except _DryRun:
            pass  # everything written was rolled back
        self.report.seconds = time.perf_counter() - started
        return self.report

    def _run(self, items: Iterable[RosterItem]) -> None:
        # Mandates created by this run have greater ids: they are seen by definition.
        self._last_before = Mandate.objects.aggregate(last=Max("id"))["last"] or 0
        iterator = _Peekable(items)
        while batch := _next_batch(iterator, self.options.batch_size):
            with transaction.atomic():
                self._batch(batch)
            if self._on_progress:
                self._on_progress(len(batch))
        with transaction.atomic():
            self._end_unseen()
        Clock.tick("server", "directory")

    # A batch -----------------------------------------------------------------

    def _batch(self, items: list[RosterItem]) -> None:
        seated: list[tuple[RosterEntry, _Seat]] = []
        for item in items:
            self.report.rows += 1
            if isinstance(item, RosterRejection):
                self.report.reject(item)
                continue
            seat = _Institutions.seat(item)
            if isinstance(seat, str):
                self.report.reject(
                    RosterRejection(item.path, item.line, "no_seat", seat, record=item.where)
                )
                continue
            seated.append((item, seat))
        institutions = self._institutions.resolve(seat for _entry, seat in seated)
        groups: dict[tuple[str, str], list[_Row]] = {}
        for entry, seat in seated:
            row = self._prepare(entry, seat, institutions[seat.key])
            groups.setdefault((row.source, row.source_id), []).append(row)
        rows = [self._merge(group) if len(group) > 1 else group[0] for group in groups.values()]
        touched: set[int] = set()
        existing = self._existing(rows)
        new_rows: list[_Row] = []
        changed: list[Mandate] = []
        for row in rows:
            mandate = existing.get((row.source, row.source_id))
            if mandate is None:
                new_rows.append(row)
            elif mandate.pk > self._last_before or mandate.pk in self._seen:
                # Described earlier in this run (another file, or a batch before):
                # that description stands.
                self.report.record(Action.UNCHANGED, row.describe())
            else:
                self._seen.add(mandate.pk)
                action = self._update(mandate, row)
                self.report.record(action, row.describe())
                if action != Action.UNCHANGED:
                    changed.append(mandate)
                    touched.add(mandate.official_id)
        if changed:
            Mandate.objects.bulk_update(
                changed, ["kind", "function_label", "end_date", "end_reason", "fingerprint"]
            )
        if new_rows:
            touched |= self._create(new_rows)
        if touched:
            self._provide_accounts(touched)
            self._freeze_or_thaw(touched)

    def _prepare(self, entry: RosterEntry, seat: _Seat, institution: Institution) -> _Row:
        mandate, person = entry.mandate, entry.person
        key = person_key(
            person.given_names, person.family_name, person.birth_date, person.external_id
        )
        source = mandate_source(mandate.kind, self.options.mapped_source)
        self._sources.add(source)
        label = (mandate.function_label or self._kind_labels[mandate.kind])[:255]
        source_id = _digest(mandate.kind, seat.key, key, mandate.start_date)
        row = _Row(entry, source, source_id, key, institution, label, "")
        row.fingerprint = _fingerprint(row)
        return row

    def _merge(self, group: list[_Row]) -> _Row:
        """One row for the rows of a batch that describe the same mandate.

        The RNE gives one row per function of a mandate (a vice-president who also
        chairs a committee): the mandate's function is the most recent one, or all
        those that began on the same day. A row repeating another exactly is a
        rejected duplicate; the same mandate in another file of the run (the
        Assemblée nationale and the RNE both list deputies) counts as unchanged:
        the first file read describes it.
        """
        first = group[0]
        rows: list[_Row] = []
        for row in group:
            if row.entry.path != first.entry.path:
                self.report.record(Action.UNCHANGED, row.describe())
            elif any(self._same_function(row, kept) for kept in rows):
                self.report.reject(self._duplicate(row, first.entry.where))
            else:
                rows.append(row)
        if len(rows) == 1:
            return first
        latest = max(self._function_start(row) for row in rows)
        labels = [row.function_label for row in rows if self._function_start(row) == latest]
        first.function_label = " ; ".join(dict.fromkeys(labels))[:255]
        first.fingerprint = _fingerprint(first)
        return first

    @staticmethod
    def _function_start(row: _Row) -> date:
        return row.entry.mandate.function_start_date or row.entry.mandate.start_date

    def _same_function(self, row: _Row, other: _Row) -> bool:
        return (row.function_label, self._function_start(row)) == (
            other.function_label,
            self._function_start(other),
        )

    def _duplicate(self, row: _Row, first: str) -> RosterRejection:
        return RosterRejection(
            row.entry.path,
            row.entry.line,
            "duplicate",
            _("même mandat que %(first)s : ligne en double ignorée") % {"first": first},
            record=row.entry.where if row.entry.line is None else "",
        )

    def _existing(self, rows: list[_Row]) -> dict[tuple[str, str], Mandate]:
        by_source: dict[str, list[str]] = defaultdict(list)
        for row in rows:
            by_source[row.source].append(row.source_id)
        found: dict[tuple[str, str], Mandate] = {}
        for source, ids in by_source.items():
            for mandate in Mandate.objects.filter(source=source, source_id__in=ids).only(
                "id",
                "official_id",
                "source",
                "source_id",
                "start_date",
                "end_date",
                "end_reason",
                "fingerprint",
                "kind",
                "function_label",
            ):
                found[(mandate.source, mandate.source_id)] = mandate
        return found

    def _update(self, mandate: Mandate, row: _Row) -> str:
        """Bring ``mandate`` in line with ``row``; return the action (nothing is saved)."""
        reopened = mandate.end_reason == EndReason.ABSENT and row.end_date is None
        if mandate.fingerprint == row.fingerprint and not reopened:
            return Action.UNCHANGED
        was_open = self._is_open(mandate.end_date)
        mandate.kind = row.entry.mandate.kind
        mandate.function_label = row.function_label
        mandate.fingerprint = row.fingerprint
        if row.end_date is not None:
            mandate.end_date = max(row.end_date, mandate.start_date)
            mandate.end_reason = EndReason.ROSTER
        elif mandate.end_reason in (EndReason.ROSTER, EndReason.ABSENT):
            # The roster no longer ends it (a correction, or it reappeared).
            mandate.end_date, mandate.end_reason = None, ""
        if was_open and not self._is_open(mandate.end_date):
            return Action.ENDED
        return Action.UPDATED

    def _is_open(self, end_date: date | None) -> bool:
        return end_date is None or end_date >= self.options.today

    def _create(self, rows: list[_Row]) -> set[int]:
        officials = self._officials(rows)
        functions = self._function_accounts(rows, officials)
        mandates = []
        for row in rows:
            start = row.entry.mandate.start_date
            end = row.end_date
            mandates.append(
                (
                    officials[row.person],
                    row.institution.pk,
                    row.entry.mandate.kind,
                    row.function_label,
                    functions.get(id(row)),
                    start,
                    max(end, start) if end else None,
                    EndReason.ROSTER if end else "",
                    row.source,
                    row.source_id,
                    row.fingerprint,
                )
            )
            self.report.record(Action.CREATED, row.describe())
        insert_rows(Mandate, _MANDATE_FIELDS, mandates)
        return set(officials.values())

    def _officials(self, rows: list[_Row]) -> dict[str, int]:
        """Official ids by person key, creating the officials met for the first time."""
        keys = {row.person: row for row in rows}
        found = dict(
            Official.objects.filter(roster_key__in=list(keys)).values_list("roster_key", "id")
        )
        missing = [
            (
                row.entry.person.given_names[:150],
                row.entry.person.family_name[:150],
                row.entry.person.gender,
                row.entry.person.birth_date,
                key,
            )
            for key, row in keys.items()
            if key not in found
        ]
        if missing:
            fields = ["given_name", "family_name", "gender", "birth_date", "roster_key"]
            insert_rows(Official, fields, missing)
            found.update(
                Official.objects.filter(roster_key__in=[m[-1] for m in missing]).values_list(
                    "roster_key", "id"
                )
            )
            self.report.officials_created += len(missing)
        return found

    # Function accounts and successions ---------------------------------------

    def _function_accounts(self, rows: list[_Row], officials: dict[str, int]) -> dict[int, int]:
        """The function account each new open mandate of a function kind takes, by
        ``id(row)``; the previous holder's open mandate is ended (a succession)."""
        candidates: dict[tuple[str, int], _Row] = {}
        for row in rows:
            kind = row.entry.mandate.kind
            if kind not in self.options.function_kinds or not self._is_open(row.end_date):
                continue
            key = (kind, row.institution.pk)
            # Two open holders in one batch: the latest start holds the function.
            best = candidates.get(key)
            if best is None or row.entry.mandate.start_date > best.entry.mandate.start_date:
                candidates[key] = row
        if not candidates:
            return {}
        accounts: dict[tuple[str, int], int] = {}
        for kind, institution_id, account_id in (
            Mandate.objects.filter(
                kind__in={k for k, _i in candidates},
                institution_id__in={i for _k, i in candidates},
                function_account__isnull=False,
            )
            .order_by("start_date", "id")
            .values_list("kind", "institution_id", "function_account_id")
        ):
            accounts[(kind, institution_id)] = account_id  # the latest wins
        fresh = [row for key, row in candidates.items() if key not in accounts]
        if fresh:
            accounts.update(self._new_function_accounts(fresh))
        self._hand_over(
            {accounts[key]: (row, officials[row.person]) for key, row in candidates.items()}
        )
        return {id(row): accounts[key] for key, row in candidates.items()}

    def _new_function_accounts(self, rows: list[_Row]) -> dict[tuple[str, int], int]:
        # "maire.blois"; "maire.saint-martin-01234" when another commune has the name.
        taken = _TakenHandles(self.domain)
        places = {}
        for row in rows:
            institution = row.institution
            prefix = _FUNCTION_PREFIX.get(row.entry.mandate.kind, "fonction")
            code = institution.insee_code or institution.siren or str(institution.pk)
            place = handle_base("", institution.name)[:40].strip("-.") or code
            places[id(row)] = (prefix, place, code)
        taken.probe_handles(f"{prefix}.{place}" for prefix, place, _code in places.values())
        accounts = []
        for row in rows:
            prefix, place, code = places[id(row)]
            handle = f"{prefix}.{place}"
            if handle in taken:
                handle = propose_handle(prefix, f"{place}-{code}", taken=taken)
            taken.assign(handle)
            account = Account(
                domain=self.domain,
                handle=handle,
                kind=AccountKind.FUNCTION,
                display_name=f"{row.function_label} — {row.institution.name}"[:100],
                institution=row.institution,
                claimed_at=None,
            )
            accounts.append(account)
        _insert_accounts(accounts)
        ids = dict(
            Account.objects.filter(
                domain=self.domain, handle__in=[a.handle for a in accounts]
            ).values_list("handle", "id")
        )
        self.report.function_accounts_created += len(accounts)
        return {
            (row.entry.mandate.kind, row.institution.pk): ids[account.handle]
            for row, account in zip(rows, accounts, strict=True)
        }

    def _hand_over(self, holders: dict[int, tuple[_Row, int]]) -> None:
        """End the open mandates holding the function accounts ``holders`` maps to their
        new holder (row and official), before the new mandates take them."""
        previous_holders = set()
        ended = []
        for previous in Mandate.objects.filter(
            function_account_id__in=list(holders), end_date__isnull=True
        ).only("id", "start_date", "official_id", "function_account_id"):
            row, holder = holders[previous.function_account_id or 0]
            start = row.entry.mandate.start_date
            previous.end_date = max(previous.start_date, start - timedelta(days=1))
            previous.end_reason = EndReason.SUCCESSOR
            ended.append(previous)
            previous_holders.add(previous.official_id)
            if previous.official_id != holder:
                self.report.successions += 1
        if ended:
            Mandate.objects.bulk_update(ended, ["end_date", "end_reason"])
            self._freeze_or_thaw(previous_holders)

    # Accounts ----------------------------------------------------------------

    def _provide_accounts(self, officials: set[int]) -> None:
        """Open a personal account for each official who holds an open mandate and has
        none yet; the official claims it later."""
        today = self.options.today
        holding = (
            Mandate.objects.filter(official_id__in=officials)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
            .filter(official__personal_account__isnull=True)
            .order_by("official_id", "-start_date", "-id")
            .select_related("official", "institution")
        )
        first: dict[int, Mandate] = {}
        for mandate in holding:
            first.setdefault(mandate.official_id, mandate)
        if not first:
            return
        taken = _TakenHandles(self.domain)
        taken.probe(
            (m.official.given_name, m.official.family_name, m.official.birth_date)
            for m in first.values()
        )
        accounts = []
        for mandate in first.values():
            official = mandate.official
            handle = propose_handle(
                official.given_name,
                official.family_name,
                birth_date=official.birth_date,
                taken=taken,
            )
            taken.assign(handle)
            account = Account(
                domain=self.domain,
                handle=handle,
                kind=AccountKind.PERSON,
                display_name=official.full_name[:100] or handle,
                institution=mandate.institution,
                official=official,
                claimed_at=None,
            )
            accounts.append(account)
        _insert_accounts(accounts)
        self.report.accounts_created += len(accounts)

    def _freeze_or_thaw(self, officials: set[int]) -> None:
        """Freeze the personal accounts of officials who hold no open mandate any more;
        thaw those of officials who hold one again."""
        today, now = self.options.today, timezone.now()
        holding = set(
            Mandate.objects.filter(official_id__in=officials)
            .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
            .values_list("official_id", flat=True)
        )
        personal = Account.objects.filter(official_id__in=officials)
        self.report.frozen += (
            personal.filter(frozen_at__isnull=True)
            .exclude(official_id__in=holding)
            .update(frozen_at=now, last_change_at=now, updated_at=now)
        )
        self.report.unfrozen += personal.filter(
            frozen_at__isnull=False, official_id__in=holding
        ).update(frozen_at=None, last_change_at=now, updated_at=now)

    # The end of a run --------------------------------------------------------

    def _end_unseen(self) -> None:
        """End the open mandates of the run's sources that it did not see."""
        today = self.options.today
        for source in sorted(self._sources):
            open_ids = (
                Mandate.objects.filter(source=source)
                .filter(Q(end_date__isnull=True) | Q(end_date__gte=today))
                .values_list("id", flat=True)
            )
            total, unseen = 0, []
            for pk in open_ids.iterator(chunk_size=5000):
                total += 1
                if pk <= self._last_before and pk not in self._seen:
                    unseen.append(pk)
            if not unseen:
                continue
            if len(unseen) > self.options.max_end_share * total and not self.options.force:
                self.report.refused_endings += len(unseen)
                self.report.refused_sources.append(source)
                continue
            for chunk in _chunks(unseen, 1000):
                self._end(chunk)

    def _end(self, ids: list[int]) -> None:
        today = self.options.today
        mandates = list(
            Mandate.objects.filter(id__in=ids).select_related("official", "institution")
        )
        for mandate in mandates:
            # Its last day: the day before the publication that no longer lists it.
            mandate.end_date = max(today - timedelta(days=1), mandate.start_date)
            mandate.end_reason = EndReason.ABSENT
            person = mandate.official
            self.report.record(
                Action.ENDED,
                f"{person.full_name} — {mandate.function_label}, {mandate.institution.name}",
            )
        Mandate.objects.bulk_update(mandates, ["end_date", "end_reason"])
        self._freeze_or_thaw({m.official_id for m in mandates})


def _fingerprint(row: _Row) -> str:
    """What the roster says of a mandate, as stored: a re-import compares only this."""
    entry = row.entry
    return _digest(
        entry.mandate.kind,
        row.function_label,
        entry.mandate.end_date,
        row.institution.pk,
        entry.person.gender,
        entry.person.given_names,
        entry.person.family_name,
    )


class _Peekable:
    """An iterator that can look at its next item."""

    def __init__(self, items: Iterable[RosterItem]) -> None:
        self._items = iter(items)
        self._next: list[RosterItem] = []

    def peek(self) -> RosterItem | None:
        if not self._next:
            self._next = list(islice(self._items, 1))
        return self._next[0] if self._next else None

    def take(self, count: int) -> list[RosterItem]:
        head, self._next = self._next[:count], self._next[count:]
        return head + list(islice(self._items, count - len(head)))


def _next_batch(items: _Peekable, size: int) -> list[RosterItem]:
    """The next ``size`` items, and those after them about the same person in the same
    file: the rows of one mandate (one per function) are merged within a batch."""
    batch = items.take(size)
    while batch and isinstance(last := batch[-1], RosterEntry):
        following = items.peek()
        if not (
            isinstance(following, RosterEntry)
            and following.path == last.path
            and following.person == last.person
        ):
            break
        batch += items.take(1)
    return batch


class _TakenHandles:
    """The handles of a domain a run may not give, read lazily from the database."""

    def __init__(self, domain: Domain) -> None:
        self._domain = domain
        self._known: dict[str, bool] = {}

    def probe(self, people: Iterable[tuple[str, str, date | None]]) -> None:
        """Read at once whether the first few handles each person could get are taken."""
        wanted: set[str] = set()
        for given, family, born in people:
            wanted.update(islice(handle_candidates(given, family, born), _HANDLE_PROBES))
        self.probe_handles(wanted)

    def probe_handles(self, handles: Iterable[str]) -> None:
        """Read at once whether ``handles`` are taken."""
        wanted = set(handles) - self._known.keys()
        taken = set(
            Account.objects.filter(domain=self._domain, handle__in=list(wanted)).values_list(
                "handle", flat=True
            )
        )
        self._known.update({handle: handle in taken for handle in wanted})

    def assign(self, handle: str) -> None:
        self._known[handle] = True

    def __contains__(self, handle: object) -> bool:
        if not isinstance(handle, str):
            return False
        if handle not in self._known:
            self._known[handle] = Account.objects.filter(
                domain=self._domain, handle=handle
            ).exists()
        return self._known[handle]


def _insert_accounts(accounts: list[Account]) -> None:
    """Insert accounts opened "d'office" (unclaimed), as ``Account.save`` would."""
    rows = []
    for account in accounts:
        account.refresh_search_text()
        rows.append([getattr(account, Account._meta.get_field(f).attname) for f in _ACCOUNT_FIELDS])
    insert_rows(Account, _ACCOUNT_FIELDS, rows)


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def import_rosters(
    items: Iterable[RosterItem],
    options: ImportOptions,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Reconcile roster entries (from :func:`parvis.identity.rosters.read_roster`) with
    the database and return what changed; ``options.dry_run`` changes nothing."""
    return RosterImport(options, on_progress).run(items)
