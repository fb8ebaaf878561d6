"""``parvis roster import FILE…``: provision officials, mandates and accounts from rosters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from parvis.identity.provisioning import Action, ImportOptions, ImportReport, import_rosters
from parvis.identity.rosters import RosterError, RosterItem, load_mapping, read_roster


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(_("%(speed)s lignes/s") % {"speed": f"{speed or 0:,.0f}".replace(",", " ")})


def _count_rows(path: Path) -> int | None:
    """Lines after the header of a CSV file (a folder of JSON files: unknown)."""
    if path.is_dir() or path.suffix.lower() == ".json":
        return None
    lines, last = 0, b"\n"
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    return max(0, lines + (last != b"\n") - 1)


class Command(BaseCommand):
    help = _(
        "Importe des répertoires officiels d'élus (RNE, Assemblée nationale, CSV avec "
        "correspondance) : crée, met à jour et termine les mandats, ouvre les comptes."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        run = actions.add_parser("import", help=_("Importer un ou plusieurs fichiers."))
        run.add_argument("files", nargs="+", type=Path, metavar="FILE")
        run.add_argument(
            "--domain",
            default=settings.PARVIS_ROSTER_DOMAIN,
            help=_("Domaine des comptes ouverts (créé s'il n'existe pas)."),
        )
        run.add_argument(
            "--mapping", type=Path, help=_("Fichier de correspondance pour un CSV d'un autre type.")
        )
        run.add_argument(
            "--source",
            default="",
            help=_("Nom de la source d'un CSV avec correspondance (par défaut : le fichier)."),
        )
        run.add_argument(
            "--dry-run",
            action="store_true",
            help=_("Montrer ce qui changerait, sans rien changer."),
        )
        run.add_argument(
            "--force",
            action="store_true",
            help=_("Terminer les mandats absents même au-delà de la part permise."),
        )
        run.add_argument(
            "--max-end-share",
            type=float,
            default=settings.PARVIS_ROSTER_MAX_END_SHARE,
            help=_("Part des mandats ouverts d'une source qu'un import peut terminer (0 à 1)."),
        )
        run.add_argument("--batch-size", type=int, default=1000)
        run.add_argument("--report-json", type=Path, help=_("Écrire le bilan en JSON."))
        run.add_argument("--no-progress", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["domain"]:
            raise CommandError(
                _("Indiquez --domain (ou PARVIS_ROSTER_DOMAIN) : le domaine des comptes ouverts.")
            )
        if not 0 <= options["max_end_share"] <= 1:
            raise CommandError(_("--max-end-share doit être entre 0 et 1."))
        if options["batch_size"] < 1:
            raise CommandError(_("--batch-size doit être un entier positif."))
        files: list[Path] = options["files"]
        items = self._open(files, options["mapping"])
        source = ""
        if options["mapping"]:
            source = options["source"] or options["mapping"].stem
        import_options = ImportOptions(
            domain=options["domain"],
            batch_size=options["batch_size"],
            max_end_share=options["max_end_share"],
            force=options["force"],
            dry_run=options["dry_run"],
            mapped_source=source,
        )
        console = Console(stderr=True)
        show = not options["no_progress"] and console.is_terminal
        totals = [_count_rows(path) for path in files]
        total = None if None in totals else sum(t or 0 for t in totals)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RowsPerSecond(),
            TimeElapsedColumn(),
            console=console,
            disable=not show,
        ) as progress:
            task = progress.add_task(_("Import"), total=total)
            report = import_rosters(
                items,
                import_options,
                on_progress=lambda rows: progress.advance(task, rows),
            )
        self._print(report)
        if options["report_json"]:
            options["report_json"].write_text(
                json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n",
                encoding="utf-8",
            )
        if report.refused_endings:
            raise CommandError(
                ngettext(
                    "%(count)d mandat absent du fichier n'a pas été terminé : ce serait plus de "
                    "%(share)d %% des mandats ouverts de %(sources)s (fichier tronqué ?). "
                    "Vérifiez le fichier, ou relancez avec --force.",
                    "%(count)d mandats absents du fichier n'ont pas été terminés : ce serait plus "
                    "de %(share)d %% des mandats ouverts de %(sources)s (fichier tronqué ?). "
                    "Vérifiez le fichier, ou relancez avec --force.",
                    report.refused_endings,
                )
                % {
                    "count": report.refused_endings,
                    "share": round(import_options.max_end_share * 100),
                    "sources": ", ".join(report.refused_sources),
                }
            )

    def _open(self, files: list[Path], mapping_path: Path | None) -> Iterator[RosterItem]:
        """Check every file before importing any: one unreadable file changes nothing."""
        mapping = None
        errors: list[str] = []
        if mapping_path is not None:
            try:
                mapping = load_mapping(mapping_path)
            except RosterError as error:
                raise CommandError(str(error)) from None
        streams = []
        for path in files:
            try:
                streams.append(read_roster(path, mapping=mapping))
            except RosterError as error:
                errors.append(str(error))
        if errors:
            raise CommandError(
                _("Aucun fichier importé : %(errors)s") % {"errors": "\n  ".join(["", *errors])}
            )
        return chain.from_iterable(streams)

    def _print(self, report: ImportReport) -> None:
        out = self.stdout
        labels = {
            Action.CREATED: _("créés"),
            Action.UPDATED: _("modifiés"),
            Action.ENDED: _("terminés"),
            Action.UNCHANGED: _("inchangés"),
            Action.REJECTED: _("rejetés"),
        }
        speed = report.rows / report.seconds if report.seconds else 0
        out.write(
            _("%(rows)d lignes lues en %(seconds).1f s (%(speed).0f lignes/s).")
            % {"rows": report.rows, "seconds": report.seconds, "speed": speed}
        )
        if report.dry_run:
            out.write(_("Import à blanc : rien n'a été modifié ; voici ce qu'il aurait fait."))
        out.write(_("Mandats :"))
        for action in Action.ALL:
            out.write(f"  {labels[action]:<10} {report.counts[action]:>9,}".replace(",", " "))
        out.write(
            _(
                "Élus nouveaux : %(officials)d ; comptes ouverts : %(accounts)d, dont "
                "%(functions)d comptes de fonction ; institutions nouvelles : "
                "%(institutions)d ; passations : %(successions)d ; comptes gelés : "
                "%(frozen)d, dégelés : %(unfrozen)d."
            )
            % {
                "officials": report.officials_created,
                "accounts": report.accounts_created + report.function_accounts_created,
                "functions": report.function_accounts_created,
                "institutions": report.institutions_created,
                "successions": report.successions,
                "frozen": report.frozen,
                "unfrozen": report.unfrozen,
            }
        )
        for action in (Action.CREATED, Action.UPDATED, Action.ENDED):
            if report.samples[action]:
                out.write(_("Exemples (%(action)s) :") % {"action": labels[action]})
                for sample in report.samples[action]:
                    out.write(f"  - {sample}")
        if report.rejections:
            out.write(_("Lignes rejetées (fichier:ligne : motif) :"))
            for rejection in report.rejections:
                out.write(f"  {rejection}")
            hidden = report.counts[Action.REJECTED] - len(report.rejections)
            if hidden:
                out.write(_("  … et %(count)d autres.") % {"count": hidden})
