"""Load a demonstration: three domains, institutions and officials from real rosters, posts."""

from __future__ import annotations

import io
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw

from parvis.identity.models import (
    Account,
    AccountKind,
    Domain,
    Institution,
    InstitutionKind,
    Mandate,
    MandateKind,
    Official,
    RoleKind,
    Staff,
)
from parvis.identity.provisioning import person_key
from parvis.identity.rosters import RosterRow, pad_code, parse_date, propose_handle, read_csv
from parvis.identity.services import create_account, get_or_create_domain, grant_role
from parvis.publishing import services as publishing
from parvis.publishing.services import Content

RNE = "france/rne/2026-04-24"
DEPARTEMENT = "41"
COMMUNE = "41018"


def shared_data_dir() -> Path:
    """Where the real roster samples live (``../shared/data`` beside the project)."""
    return Path(os.environ.get("PARVIS_SHARED_DATA", settings.BASE_DIR.parent / "shared" / "data"))


def demo_image(title: str) -> bytes:
    image = Image.new("RGB", (1200, 675), (0, 0, 145))
    draw = ImageDraw.Draw(image)
    for y in range(0, 675, 45):
        draw.rectangle((0, y, 1200, y + 20), fill=(20 + y // 8, 40, 160))
    draw.text((60, 300), title, fill=(255, 255, 255))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG")
    return buffer.getvalue()


class Command(BaseCommand):
    help = "Load a demonstration built from the real roster samples in ../shared/data."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--password",
            default=os.environ.get("PARVIS_DEMO_PASSWORD", "parvis-demo"),
            help="Password of the demo staff accounts.",
        )
        parser.add_argument(
            "--domain-suffix",
            default="localhost",
            help="Suffix of the demo domains (blois.SUFFIX…).",
        )

    def _rows(self, name: str) -> list[RosterRow]:
        path = shared_data_dir() / RNE / name
        if not path.exists():
            raise CommandError(
                f"Roster sample {path} is missing: the demo is built from ../shared/data "
                "(set PARVIS_SHARED_DATA to its location)."
            )
        return list(read_csv(path))

    def _official(self, row: RosterRow, start: date) -> Official:
        given, family = row.get("Prénom de l'élu"), row.get("Nom de l'élu")
        birth = parse_date(row.get("Date de naissance"), before=start)
        official, _created = Official.objects.get_or_create(
            roster_key=person_key(given, family, birth),
            defaults={
                "given_name": given,
                "family_name": family,
                "gender": row.get("Code sexe"),
                "birth_date": birth,
            },
        )
        return official

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        suffix = options["domain_suffix"]
        if Domain.objects.exists():
            self.stdout.write("A demo or real data is already loaded; nothing done.")
            return
        mayors = [
            r
            for r in self._rows("elus-maires-mai.csv")
            if pad_code(r.get("Code de la commune"), 5) == COMMUNE
        ]
        deputies = [
            r
            for r in self._rows("elus-deputes-dep.csv")
            if pad_code(r.get("Code du département"), 2) == DEPARTEMENT
        ]
        councillors = [
            r
            for r in self._rows("elus-conseillers-departementaux-cd.csv")
            if pad_code(r.get("Code du département"), 2) == DEPARTEMENT
        ]
        if not mayors or not deputies or not councillors:
            raise CommandError("The roster samples hold no official for Loir-et-Cher.")

        blois = get_or_create_domain(f"blois.{suffix}")
        an = get_or_create_domain(f"assemblee-nationale.{suffix}")
        dep = get_or_create_domain(f"loir-et-cher.{suffix}")

        assembly = Institution.objects.create(
            kind=InstitutionKind.NATIONAL_ASSEMBLY,
            name="Assemblée nationale",
            siren="110000021",
            website_domain="assemblee-nationale.fr",
        )
        departement = Institution.objects.create(
            kind=InstitutionKind.DEPARTEMENT,
            name="Département de Loir-et-Cher",
            insee_code=DEPARTEMENT,
            departement_code=DEPARTEMENT,
            website_domain="departement41.fr",
        )
        commune = Institution.objects.create(
            kind=InstitutionKind.COMMUNE,
            name="Ville de Blois",
            siren="214100182",
            insee_code=COMMUNE,
            departement_code=DEPARTEMENT,
            website_domain="blois.fr",
            parent=departement,
        )

        ville = create_account(
            domain=blois,
            handle="ville",
            kind=AccountKind.INSTITUTION,
            display_name="Ville de Blois",
            institution=commune,
            bio="Compte officiel de la Ville de Blois.\n\nActualités, travaux, alertes.",
            fields=[("Site officiel", "https://www.blois.fr"), ("Mairie", "9 place Saint-Louis")],
        )
        maire = create_account(
            domain=blois,
            handle="maire",
            kind=AccountKind.FUNCTION,
            display_name="Maire de Blois",
            institution=commune,
            bio="Compte de la fonction de maire de Blois : il passe d'un titulaire à l'autre.",
        )
        mayor_row = mayors[0]
        mayor_start = parse_date(
            mayor_row.get("Date de début de la fonction", "Date de début du mandat")
        )
        mayor = self._official(mayor_row, mayor_start)
        Mandate.objects.create(
            official=mayor,
            institution=commune,
            kind=MandateKind.MAYOR,
            function_label="Maire",
            function_account=maire,
            start_date=mayor_start,
            source="rne:maires",
            source_id=f"{COMMUNE}:{mayor.roster_key}",
        )

        president_rows = [
            r
            for r in councillors
            if r.get("Libellé de la fonction").startswith("Président du conseil")
        ] or councillors[:1]
        dep_account = create_account(
            domain=dep,
            handle="departement",
            kind=AccountKind.INSTITUTION,
            display_name="Département de Loir-et-Cher",
            institution=departement,
            bio="Le conseil départemental de Loir-et-Cher.",
        )
        for row in [*president_rows[:1], *councillors[:3]]:
            start = parse_date(row.get("Date de début du mandat"))
            official = self._official(row, start)
            if hasattr(official, "personal_account"):
                continue
            label = row.get("Libellé de la fonction") or "Conseiller départemental"
            Mandate.objects.get_or_create(
                official=official,
                institution=departement,
                kind=MandateKind.DEPARTMENTAL_COUNCILLOR,
                function_label=label,
                start_date=start,
                source="rne:cd",
                source_id=f"{row.get('Code du canton')}:{official.roster_key}",
            )
            create_account(
                domain=dep,
                handle=propose_handle(
                    official.given_name, official.family_name, birth_date=official.birth_date
                ),
                kind=AccountKind.PERSON,
                official=official,
                display_name=official.full_name,
                institution=departement,
                bio=f"{label} — canton de {row.get('Libellé du canton')}.",
            )

        create_account(
            domain=an,
            handle="assemblee",
            kind=AccountKind.INSTITUTION,
            display_name="Assemblée nationale",
            institution=assembly,
            bio="Compte officiel de l'Assemblée nationale.",
        )
        deputy_accounts = []
        for row in deputies:
            start = parse_date(row.get("Date de début du mandat"))
            official = self._official(row, start)
            circo = row.get("Libellé de la circonscription législative")
            Mandate.objects.create(
                official=official,
                institution=assembly,
                kind=MandateKind.DEPUTY,
                function_label=f"Député de Loir-et-Cher ({circo})",
                start_date=start,
                source="rne:deputes",
                source_id=f"{DEPARTEMENT}-{row.get('Code de la circonscription législative')}",
            )
            deputy_accounts.append(
                create_account(
                    domain=an,
                    handle=propose_handle(
                        official.given_name, official.family_name, birth_date=official.birth_date
                    ),
                    kind=AccountKind.PERSON,
                    official=official,
                    display_name=official.full_name,
                    institution=assembly,
                    bio=f"Député de Loir-et-Cher, {circo.lower()}.",
                )
            )

        password = options["password"]
        admin = Staff.objects.create_superuser("admin", "admin@example.invalid", password)
        editor = Staff.objects.create_user(
            "redaction",
            "redaction@example.invalid",
            password,
            first_name="Camille",
            last_name="Rédaction",
        )
        publisher = Staff.objects.create_user(
            "communication",
            "com@example.invalid",
            password,
            first_name="Dominique",
            last_name="Communication",
        )
        for account in (ville, maire):
            grant_role(editor, account, RoleKind.EDITOR)
            grant_role(publisher, account, RoleKind.PUBLISHER)
        grant_role(publisher, deputy_accounts[0], RoleKind.PUBLISHER)

        self._posts(admin, editor, publisher, ville, maire, dep_account, deputy_accounts)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo loaded: {Account.objects.count()} accounts on {Domain.objects.count()} "
                f"domains. Staff logins (password '{password}'): admin (all accounts), "
                "communication (publisher of @ville and @maire), redaction (editor)."
            )
        )

    def _posts(
        self,
        admin: Staff,
        editor: Staff,
        publisher: Staff,
        ville: Account,
        maire: Account,
        dep_account: Account,
        deputies: list[Account],
    ) -> None:
        now = timezone.now()
        image = publishing.upload_media(
            publisher,
            ville,
            demo_image("Marché de Noël — place Louis XII"),
            filename="marche.jpg",
            description="Affiche du marché de Noël, place Louis XII, sur fond bleu.",
        )
        posts = [
            (
                ville,
                "Le marché de Noël ouvre samedi place Louis XII. Programme complet : "
                "https://www.blois.fr #Blois #MarchéDeNoël",
                [image.id],
            ),
            (
                ville,
                "Travaux rue Porte-Côté du 2 au 6 décembre : circulation alternée. #Travaux #Blois",
                [],
            ),
            (
                maire,
                "Merci aux agents de la ville mobilisés cette nuit pendant la tempête. "
                "Point complet demain matin avec @departement@" + dep_account.domain.name,
                [],
            ),
            (
                dep_account,
                "Alerte météo : vigilance orange vents violents sur le Loir-et-Cher "
                "jusqu'à demain 6 h. #Vigilance",
                [],
            ),
        ]
        for account, text, media in posts:
            publishing.publish_post(admin, account, Content(text=text), media_ids=media)
        for deputy in deputies[:3]:
            publishing.publish_post(
                admin,
                deputy,
                Content(
                    text="Permanence parlementaire ce vendredi à Blois. Je réponds à vos "
                    f"questions sur le budget. #AssembléeNationale — {deputy.display_name}"
                ),
            )
        edited = publishing.publish_post(
            admin, ville, Content(text="Conseil municipal lundi à 18 h, salle du conseil.")
        )
        publishing.edit_post(
            admin,
            edited,
            Content(text="Conseil municipal lundi à 18 h 30, salle du conseil (horaire corrigé)."),
        )
        gone = publishing.publish_post(admin, ville, Content(text="Message publié par erreur."))
        publishing.delete_post(admin, gone)
        publishing.publish_post(
            admin,
            ville,
            Content(
                text="Le bilan de l'accident du pont Jacques-Gabriel et les déviations en place.",
                spoiler_text="Accident de la route",
            ),
        )
        draft = publishing.save_draft(
            editor,
            ville,
            Content(text="Proposition : rappel des horaires d'hiver des déchetteries. #Déchets"),
        )
        publishing.submit_draft(editor, draft)
        scheduled = publishing.save_draft(
            publisher,
            ville,
            Content(text="Jour de marché : le marché du samedi se tient place Louis XII dès 7 h."),
        )
        publishing.publish_draft(
            publisher, scheduled, scheduled_at=now + timedelta(days=1, minutes=10)
        )
