import os
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from parvis.identity.models import Account, RoleKind, Staff
from parvis.identity.services import grant_role


class Command(BaseCommand):
    help = (
        "Create a staff member who can log into the back-office, optionally with roles: "
        "--role ville@social.blois.fr:publisher"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--password-env",
            default="PARVIS_STAFF_PASSWORD",
            help="Environment variable holding the password (default PARVIS_STAFF_PASSWORD).",
        )
        parser.add_argument(
            "--superuser",
            action="store_true",
            help="Server administrator: every account, the admin site.",
        )
        parser.add_argument(
            "--role",
            action="append",
            default=[],
            help="handle@domain:ROLE with ROLE one of " + ", ".join(RoleKind.values),
        )

    def handle(self, *args: Any, **options: Any) -> None:
        password = os.environ.get(options["password_env"], "")
        if len(password) < 8:
            raise CommandError(
                f"Set the password (8 characters or more) in ${options['password_env']}."
            )
        username = options["username"].strip()
        if not username:
            raise CommandError("The username is empty.")
        if Staff.objects.filter(username=username).exists():
            raise CommandError(f"A staff member named {username!r} already exists.")
        roles = []
        for spec in options["role"]:
            acct, sep, kind = spec.rpartition(":")
            handle, at, domain = acct.lstrip("@").partition("@")
            if not sep or not at or kind not in RoleKind.values:
                raise CommandError(
                    f"--role {spec!r}: expected handle@domain:ROLE with ROLE in "
                    + ", ".join(RoleKind.values)
                )
            account = Account.objects.filter(
                handle=handle.lower(), domain__name=domain.lower()
            ).first()
            if account is None:
                raise CommandError(f"--role {spec!r}: no account @{handle}@{domain}.")
            roles.append((account, kind))
        with transaction.atomic():
            staff = Staff(
                username=username,
                email=options["email"],
                is_superuser=options["superuser"],
                is_staff=options["superuser"],
            )
            staff.set_password(password)
            try:
                validate_password(password, staff)
                staff.full_clean()
            except ValidationError as exc:
                raise CommandError("; ".join(exc.messages)) from exc
            staff.save()
            for account, kind in roles:
                grant_role(staff, account, kind)
        self.stdout.write(self.style.SUCCESS(f"Staff member {username} created."))
