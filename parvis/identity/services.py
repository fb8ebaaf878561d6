"""Actions on domains, accounts and roles, and who may do what for an account."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from parvis.core import events
from parvis.core.models import Clock
from parvis.identity.models import (
    HANDLE_PATTERN,
    Account,
    AccountKind,
    Domain,
    Institution,
    Mandate,
    Official,
    Role,
    RoleKind,
    Staff,
)


class Capability(enum.Enum):
    WRITE_DRAFT = "write_draft"
    PUBLISH = "publish"
    MODERATE = "moderate"
    ADMINISTER = "administer"


_GRANTS: dict[str, set[Capability]] = {
    RoleKind.EDITOR: {Capability.WRITE_DRAFT},
    RoleKind.PUBLISHER: {Capability.WRITE_DRAFT, Capability.PUBLISH},
    RoleKind.MODERATOR: {Capability.MODERATE},
    RoleKind.ADMINISTRATOR: set(Capability),
}

RESERVED_HANDLES = frozenset(
    {
        "admin",
        "administrator",
        "api",
        "about",
        "actor",
        "auth",
        "backoffice",
        "directory",
        "explore",
        "feed",
        "help",
        "inbox",
        "instance",
        "media",
        "nodeinfo",
        "oauth",
        "outbox",
        "postmaster",
        "root",
        "settings",
        "static",
        "support",
        "tags",
        "users",
        "webmaster",
        "well-known",
    }
)


def capabilities(staff: Staff, account: Account) -> set[Capability]:
    """What ``staff`` may do for ``account`` (a server superuser may do everything)."""
    if not staff.is_authenticated or not staff.is_active or not account.is_local:
        # Nobody here speaks for an account of another server.
        return set()
    if staff.is_superuser:
        return set(Capability)
    granted: set[Capability] = set()
    for kind in Role.objects.filter(staff=staff, account=account).values_list("kind", flat=True):
        granted |= _GRANTS.get(kind, set())
    return granted


def require(staff: Staff, account: Account, capability: Capability) -> None:
    """Raise PermissionDenied unless ``staff`` has ``capability`` on ``account``."""
    if capability not in capabilities(staff, account):
        raise PermissionDenied(
            _("Vous n'avez pas le droit d'agir ainsi pour le compte @%(acct)s.")
            % {"acct": account.acct}
        )


def accounts_for(staff: Staff) -> QuerySet[Account]:
    """The accounts ``staff`` acts for, with their domain loaded."""
    accounts = Account.objects.local().select_related("domain", "institution")
    if staff.is_superuser:
        return accounts.all()
    return accounts.filter(roles__staff=staff).distinct()


def validate_handle(handle: str) -> str:
    """Return ``handle`` lower-cased, or raise ValidationError saying what is wrong."""
    value = handle.strip().lower()
    if not value:
        raise ValidationError(_("L'identifiant est vide."), code="handle_empty")
    if len(value) > 64:
        raise ValidationError(_("L'identifiant dépasse 64 caractères."), code="handle_long")
    if not re.match(HANDLE_PATTERN, value):
        raise ValidationError(
            _("L'identifiant « %(handle)s » contient des caractères interdits.")
            % {"handle": handle},
            code="handle_format",
        )
    if value in RESERVED_HANDLES or value.endswith((".rss", ".atom", ".json")):
        raise ValidationError(
            _("L'identifiant « %(handle)s » est réservé.") % {"handle": value},
            code="handle_reserved",
        )
    return value


def get_or_create_domain(name: str) -> Domain:
    """Return the hosted domain ``name``, creating it if needed."""
    domain, _created = Domain.objects.get_or_create(name=name.strip().lower().rstrip("."))
    return domain


@transaction.atomic
def create_account(
    *,
    domain: Domain,
    handle: str,
    kind: str,
    display_name: str,
    bio: str = "",
    institution: Institution | None = None,
    official: Official | None = None,
    fields: Iterable[tuple[str, str]] = (),
    language: str = "fr",
    claimed: bool = True,
) -> Account:
    """Create an account after checking its handle and kind.

    ``claimed=False`` opens it "d'office" for an official who has yet to claim it.
    """
    handle = validate_handle(handle)
    if kind not in AccountKind.values:
        raise ValidationError(_("Type de compte inconnu : %(kind)s") % {"kind": kind})
    if Account.objects.filter(domain=domain, handle=handle).exists():
        raise ValidationError(
            _("L'identifiant @%(handle)s@%(domain)s est déjà pris.")
            % {"handle": handle, "domain": domain.name},
            code="handle_taken",
        )
    field_list = [{"name": n, "value": v} for n, v in fields][:4]
    account = Account(
        domain=domain,
        handle=handle,
        kind=kind,
        display_name=display_name.strip() or handle,
        bio=bio,
        institution=institution,
        official=official,
        fields=field_list,
        language=language,
        claimed_at=timezone.now() if claimed else None,
    )
    account.full_clean(exclude=["avatar", "header"])
    account.save()
    touch(account, directory=True)
    return account


@dataclass(frozen=True)
class RemoteProfile:
    """What another server says of one of its accounts, already checked and sanitised."""

    uri: str
    handle: str
    host: str
    display_name: str = ""
    bio: str = ""
    url: str = ""
    avatar_url: str = ""
    kind: str = AccountKind.PERSON
    discoverable: bool = False


def record_remote_account(profile: RemoteProfile) -> Account:
    """Create or refresh the account of another server whose actor is ``profile.uri``."""
    values = {
        "handle": (profile.handle or profile.uri.rstrip("/").rsplit("/", 1)[-1])[:255],
        "remote_host": profile.host[:253],
        "display_name": profile.display_name.strip()[:100],
        "bio": profile.bio[:2000],
        "url": profile.url if len(profile.url) <= 2048 else "",
        "avatar_url": profile.avatar_url if len(profile.avatar_url) <= 2048 else "",
        "kind": profile.kind if profile.kind in AccountKind.values else AccountKind.PERSON,
        "discoverable": profile.discoverable,
    }
    account = Account.objects.remote().filter(uri=profile.uri).exclude(uri="").first()
    if account is None:
        account = Account(uri=profile.uri, domain=None, **values)
    else:
        for name, value in values.items():
            setattr(account, name, value)
    account.save()
    return account


def record_move(account: Account, target: Account) -> None:
    """Record that ``account`` moved to ``target`` (the target names it as an alias).

    For a hosted account, its followers' servers are told (``Move``) so that they
    follow ``target`` instead; the caller has checked the alias.
    """
    Account.objects.filter(pk=account.pk).update(moved_to=target)
    account.moved_to = target
    if account.is_local:
        touch(account, directory=True)
        events.emit(events.ACCOUNT_MOVED, account_id=account.pk)


def profile_changed(account: Account) -> None:
    """The public profile of ``account`` changed: pages and, for a hosted account, the
    servers of its followers learn it (``Update`` of the actor)."""
    touch(account, directory=True)
    if account.is_local:
        events.emit(events.ACCOUNT_UPDATED, account_id=account.pk)


def grant_role(staff: Staff, account: Account, kind: str) -> Role:
    """Give ``staff`` the role ``kind`` on ``account`` (no-op if they already have it)."""
    if kind not in RoleKind.values:
        raise ValidationError(_("Rôle inconnu : %(kind)s") % {"kind": kind})
    role, _created = Role.objects.get_or_create(staff=staff, account=account, kind=kind)
    return role


def current_mandate(account: Account) -> Mandate | None:
    """The mandate under which ``account`` speaks today, if any.

    A function account speaks under its holder's open mandate; a personal account
    under its official's most recent open mandate; an institution under none.
    """
    return current_mandates([account]).get(account.pk)


def current_mandates(accounts: Iterable[Account]) -> dict[int, Mandate]:
    """The mandates under which ``accounts`` speak today (see :func:`current_mandate`),
    by account id, read in one query; accounts speaking under none are left out."""
    functions: set[int] = set()
    persons: dict[int, list[int]] = {}
    for account in accounts:
        if account.kind == AccountKind.FUNCTION:
            functions.add(account.pk)
        elif account.kind == AccountKind.PERSON and account.official_id:
            persons.setdefault(account.official_id, []).append(account.pk)
    if not functions and not persons:
        return {}
    found: dict[int, Mandate] = {}
    # Most recent first: each account keeps the first mandate it meets.
    for mandate in (
        Mandate.objects.filter(Q(function_account__in=functions) | Q(official__in=list(persons)))
        .open_on(timezone.localdate())
        .select_related("official")
        .order_by("-start_date", "-id")
    ):
        if mandate.function_account_id in functions:
            found.setdefault(mandate.function_account_id, mandate)
        for pk in persons.get(mandate.official_id, ()):
            found.setdefault(pk, mandate)
    return found


def touch(account: Account, *, directory: bool = False) -> None:
    """Record that the account's public pages changed (for conditional GETs).

    Server-wide pages (home, tags, feeds) change with it; the directory only when
    what it lists of the account changed.
    """
    now = timezone.now()
    Account.objects.filter(pk=account.pk).update(last_change_at=now)
    account.last_change_at = now
    Clock.tick("server", *(["directory"] if directory else []))
