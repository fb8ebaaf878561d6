"""Who speaks on Parvis: domains, institutions, officials, accounts, mandates, staff."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from parvis.core.text import fold


class Domain(models.Model):
    """A DNS name under which Parvis hosts accounts (``@handle@name``)."""

    name = models.CharField(_("nom de domaine"), max_length=253, unique=True)
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("domaine")
        verbose_name_plural = _("domaines")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(name=Lower("name")), name="domain_name_lower_case"),
        ]

    def __str__(self) -> str:
        return self.name


class InstitutionKind(models.TextChoices):
    NATIONAL_ASSEMBLY = "national_assembly", _("Assemblée nationale")
    SENATE = "senate", _("Sénat")
    GOVERNMENT = "government", _("Gouvernement")
    MINISTRY = "ministry", _("Ministère")
    PREFECTURE = "prefecture", _("Préfecture")
    REGION = "region", _("Région")
    DEPARTEMENT = "departement", _("Département")
    COLLECTIVITY = "collectivity", _("Collectivité à statut particulier")
    COMMUNE = "commune", _("Commune")
    INTERCOMMUNALITY = "intercommunality", _("Intercommunalité")
    EUROPEAN_PARLIAMENT = "european_parliament", _("Parlement européen")
    PUBLIC_BODY = "public_body", _("Établissement public")
    OTHER = "other", _("Autre")


class MandateKind(models.TextChoices):
    """The kinds of mandate of the Répertoire national des élus, plus two outside it.

    ``government_member`` comes from the Assemblée nationale open data (the RNE
    has no government resource); ``other`` is for CSV files read with a mapping.
    """

    MAYOR = "mayor", _("Maire")
    MUNICIPAL_COUNCILLOR = "municipal_councillor", _("Conseiller municipal")
    COMMUNITY_COUNCILLOR = "community_councillor", _("Conseiller communautaire")
    SECTOR_COUNCILLOR = "sector_councillor", _("Conseiller d'arrondissement ou de secteur")
    DEPARTMENTAL_COUNCILLOR = "departmental_councillor", _("Conseiller départemental")
    REGIONAL_COUNCILLOR = "regional_councillor", _("Conseiller régional")
    SPECIAL_ASSEMBLY_MEMBER = (
        "special_assembly_member",
        _("Membre d'une assemblée de collectivité à statut particulier"),
    )
    DEPUTY = "deputy", _("Député")
    SENATOR = "senator", _("Sénateur")
    MEP = "mep", _("Représentant au Parlement européen")
    AFE_MEMBER = "afe_member", _("Conseiller à l'Assemblée des Français de l'étranger")
    CONSULAR_COUNCILLOR = "consular_councillor", _("Conseiller des Français de l'étranger")
    GOVERNMENT_MEMBER = "government_member", _("Membre du Gouvernement")
    OTHER = "other", _("Autre mandat")


class Institution(models.Model):
    """A public body: an assembly, a ministry, a local authority, a public agency."""

    kind = models.CharField(_("type"), max_length=32, choices=InstitutionKind.choices)
    name = models.CharField(_("nom officiel"), max_length=255)
    siren = models.CharField(
        _("SIREN"), max_length=9, blank=True, help_text=_("Neuf chiffres, sans espace.")
    )
    insee_code = models.CharField(
        _("code INSEE"),
        max_length=5,
        blank=True,
        help_text=_("Code officiel géographique : commune, département ou région."),
    )
    departement_code = models.CharField(
        _("code du département"),
        max_length=3,
        blank=True,
        help_text=_("Département où l'institution siège (41, 2A, 971…), pour l'annuaire."),
    )
    region_code = models.CharField(
        _("code de la région"),
        max_length=3,
        blank=True,
        help_text=_("Région où l'institution siège (24, 84…), pour l'annuaire."),
    )
    website_domain = models.CharField(_("domaine du site officiel"), max_length=253, blank=True)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("institution de rattachement"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )
    created_at = models.DateTimeField(_("créée le"), default=timezone.now)

    class Meta:
        verbose_name = _("institution")
        verbose_name_plural = _("institutions")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["siren"], condition=~Q(siren=""), name="institution_siren_unique"
            ),
            models.CheckConstraint(
                condition=Q(siren="") | Q(siren__regex=r"^[0-9]{9}$"),
                name="institution_siren_nine_digits",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "departement_code"]),
            models.Index(fields=["kind", "insee_code"]),
        ]

    def __str__(self) -> str:
        return self.name


class Official(models.Model):
    """A person who holds or held an elected or appointed office.

    Officials come from official rosters; the matching key that recognises the
    same person across roster publications is ``roster_key``.
    """

    class Gender(models.TextChoices):
        FEMALE = "F", _("Femme")
        MALE = "M", _("Homme")

    given_name = models.CharField(_("prénom"), max_length=150)
    family_name = models.CharField(_("nom"), max_length=150)
    gender = models.CharField(_("sexe"), max_length=1, choices=Gender.choices, blank=True)
    birth_date = models.DateField(_("date de naissance"), null=True, blank=True)
    roster_key = models.CharField(
        _("clé de rapprochement"),
        max_length=255,
        unique=True,
        null=True,
        blank=True,
        help_text=_("Identité stable de la personne d'un import de répertoire à l'autre."),
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    class Meta:
        verbose_name = _("élu ou élue")
        verbose_name_plural = _("élus")
        ordering = ["family_name", "given_name"]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()


class AccountKind(models.TextChoices):
    PERSON = "person", _("Personne (élu ou élue)")
    INSTITUTION = "institution", _("Institution")
    FUNCTION = "function", _("Fonction")


class AccountQuerySet(models.QuerySet["Account"]):
    def local(self) -> AccountQuerySet:
        """Accounts hosted by this server."""
        return self.filter(domain__isnull=False)

    def remote(self) -> AccountQuerySet:
        """Accounts of other servers, known through federation."""
        return self.filter(domain__isnull=True)

    def public(self) -> AccountQuerySet:
        """Hosted accounts whose pages anyone may read."""
        return self.local().filter(suspended_at__isnull=True)


HANDLE_PATTERN = r"^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$"


MAX_ALIASES = 20


def validate_aliases(value: object) -> None:
    """``also_known_as``: a list of at most 20 distinct http(s) URLs."""
    if not isinstance(value, list):
        raise ValidationError(_("Une liste d'adresses est attendue."))
    if len(value) > MAX_ALIASES:
        raise ValidationError(
            _("Au plus %(count)d adresses.") % {"count": MAX_ALIASES}, code="too_many"
        )
    check = URLValidator(schemes=["https", "http"])
    for alias in value:
        if not isinstance(alias, str):
            raise ValidationError(_("Chaque adresse doit être une URL."))
        try:
            check(alias)
        except ValidationError:
            raise ValidationError(
                _("« %(alias)s » n'est pas une URL http(s).") % {"alias": alias[:200]}
            ) from None
    if len(set(value)) != len(value):
        raise ValidationError(_("Une adresse figure deux fois."))


class Account(models.Model):
    """A public speaker: an official, an institution, or an office that outlives its holders.

    Accounts of other servers (the citizens who follow, reply, like) are accounts
    too, without a hosted ``domain`` and with the ``uri`` of their actor, so that
    follows, replies and notifications relate accounts whatever their server
    (docs/decisions/0007-remote-accounts-and-posts.md).
    """

    domain = models.ForeignKey(
        Domain,
        verbose_name=_("domaine"),
        on_delete=models.PROTECT,
        related_name="accounts",
        null=True,
        blank=True,
        help_text=_("Vide pour un compte d'un autre serveur."),
    )
    handle = models.CharField(
        _("identifiant"),
        max_length=255,
        help_text=_("Lettres minuscules sans accent, chiffres, « _ », « . » et « - »."),
    )
    # For accounts of other servers: the actor id, the host of their address
    # (handle@remote_host), their profile page and avatar on their server.
    uri = models.CharField(_("identifiant ActivityPub"), max_length=2048, blank=True, default="")
    remote_host = models.CharField(_("serveur"), max_length=253, blank=True, default="")
    url = models.URLField(_("page de profil"), max_length=2048, blank=True, default="")
    avatar_url = models.URLField(_("adresse de l'avatar"), max_length=2048, blank=True, default="")
    moved_to = models.ForeignKey(
        "self",
        verbose_name=_("a déménagé vers"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    kind = models.CharField(_("type de compte"), max_length=16, choices=AccountKind.choices)
    display_name = models.CharField(_("nom affiché"), max_length=100)
    bio = models.TextField(_("présentation"), max_length=2000, blank=True)
    avatar = models.ImageField(_("avatar"), upload_to="avatars/", blank=True)
    header = models.ImageField(_("bannière"), upload_to="headers/", blank=True)
    fields = models.JSONField(
        _("champs de profil"),
        default=list,
        blank=True,
        help_text=_("Jusqu'à quatre paires libellé / valeur."),
    )
    language = models.CharField(_("langue"), max_length=8, default="fr")
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="accounts",
    )
    official = models.OneToOneField(
        Official,
        verbose_name=_("élu ou élue"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="personal_account",
        help_text=_("Pour un compte personnel : la personne qui s'exprime."),
    )
    discoverable = models.BooleanField(_("visible dans l'annuaire"), default=True)
    locked = models.BooleanField(
        _("abonnements sur validation"),
        default=False,
        help_text=_("Chaque demande d'abonnement attend la validation de l'équipe du compte."),
    )
    also_known_as = models.JSONField(
        _("autres comptes du titulaire"),
        default=list,
        blank=True,
        validators=[validate_aliases],
        help_text=_(
            "Adresses ActivityPub (URL) des comptes du même titulaire sur d'autres serveurs, "
            "une liste JSON. Un compte ne peut déménager vers celui-ci que s'il y figure."
        ),
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)
    updated_at = models.DateTimeField(_("modifié le"), default=timezone.now)
    suspended_at = models.DateTimeField(_("suspendu le"), null=True, blank=True)
    claimed_at = models.DateTimeField(
        _("activé le"),
        null=True,
        blank=True,
        help_text=_(
            "Vide tant que l'élu ou l'élue n'a pas activé le compte ouvert d'office "
            "d'après un répertoire officiel."
        ),
    )
    frozen_at = models.DateTimeField(
        _("gelé le"),
        null=True,
        blank=True,
        help_text=_("Un compte gelé reste lisible mais ne publie plus (fin de mandat)."),
    )
    # Folded name, handle and institution, for accent-insensitive search on any database.
    search_text = models.TextField(editable=False, default="")
    # Last change visible on the account's public pages, for cheap conditional GETs.
    last_change_at = models.DateTimeField(editable=False, default=timezone.now)

    objects = AccountQuerySet.as_manager()

    class Meta:
        verbose_name = _("compte")
        verbose_name_plural = _("comptes")
        ordering = ["display_name"]
        constraints = [
            models.UniqueConstraint(fields=["domain", "handle"], name="account_handle_per_domain"),
            models.UniqueConstraint(
                fields=["uri"], condition=~Q(uri=""), name="account_uri_unique"
            ),
            models.CheckConstraint(
                condition=Q(domain__isnull=False, uri="") | (Q(domain__isnull=True) & ~Q(uri="")),
                name="account_local_or_remote",
            ),
            models.CheckConstraint(
                condition=Q(domain__isnull=True) | Q(handle__regex=HANDLE_PATTERN),
                name="account_handle_format",
            ),
            models.CheckConstraint(
                condition=Q(official__isnull=True) | Q(kind=AccountKind.PERSON),
                name="account_official_only_for_person",
            ),
        ]

    def __str__(self) -> str:
        return self.acct

    def save(self, *args: object, **kwargs: object) -> None:
        # Post cards cached by the web layer are keyed on this time.
        self.updated_at = timezone.now()
        if self.is_local:
            self.handle = self.handle.lower()
        self.refresh_search_text()
        super().save(*args, **kwargs)

    @property
    def is_local(self) -> bool:
        """Hosted by this server (else known through federation)."""
        return self.domain_id is not None

    @property
    def acct(self) -> str:
        """The Fediverse address, ``handle@domain``."""
        host = self.domain.name if self.domain_id else self.remote_host
        return f"{self.handle}@{host}"

    @property
    def kind_label(self) -> str:
        """The kind's translated name (cheaper than ``get_kind_display()``)."""
        return str(AccountKind(self.kind).label)

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    def refresh_search_text(self) -> None:
        """Recompute the folded text the directory search looks in."""
        parts = [self.display_name, self.handle]
        if self.institution_id:
            parts.append(self.institution.name)
        self.search_text = fold(" ".join(parts))


class AccountStats(models.Model):
    """An account's counts (Mastodon's ``account_stats``), kept by database triggers on
    posts and follows, as :class:`parvis.publishing.models.PostStats` are: accepted
    followers and follows, live posts and the time of the latest. An account without
    any has no row."""

    account = models.OneToOneField(
        Account, primary_key=True, on_delete=models.CASCADE, related_name="stats"
    )
    followers_count = models.IntegerField(default=0)
    following_count = models.IntegerField(default=0)
    statuses_count = models.IntegerField(default=0)
    last_status_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("compteurs d'un compte")
        verbose_name_plural = _("compteurs des comptes")

    def __str__(self) -> str:
        return f"{self.account_id}: {self.followers_count}/{self.following_count}"


class MandateQuerySet(models.QuerySet["Mandate"]):
    def open_on(self, day: object = None) -> MandateQuerySet:
        """Mandates running on ``day`` (today by default)."""
        day = day or timezone.localdate()
        return self.filter(start_date__lte=day).filter(
            Q(end_date__isnull=True) | Q(end_date__gte=day)
        )


class EndReason(models.TextChoices):
    """Why a mandate has an end date: an import can revert only what an import decided."""

    ROSTER = "roster", _("date de fin donnée par le répertoire")
    ABSENT = "absent", _("absent du répertoire importé")
    SUCCESSOR = "successor", _("fonction reprise par un successeur")
    ADMIN = "admin", _("décision d'un administrateur")


class Mandate(models.Model):
    """An office held by an official in an institution, from a start date to an end date."""

    official = models.ForeignKey(
        Official, verbose_name=_("élu ou élue"), on_delete=models.PROTECT, related_name="mandates"
    )
    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institution"),
        on_delete=models.PROTECT,
        related_name="mandates",
    )
    kind = models.CharField(
        _("type de mandat"), max_length=32, choices=MandateKind.choices, default=MandateKind.OTHER
    )
    function_label = models.CharField(_("fonction"), max_length=255)
    function_account = models.ForeignKey(
        Account,
        verbose_name=_("compte de fonction"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="function_mandates",
        help_text=_("Le compte de la fonction que ce mandat donne le droit de tenir."),
    )
    start_date = models.DateField(_("début"))
    end_date = models.DateField(_("fin"), null=True, blank=True)
    source = models.CharField(_("répertoire source"), max_length=100, blank=True)
    source_id = models.CharField(_("identifiant dans la source"), max_length=255, blank=True)
    # What the roster said of the mandate when it was last imported: a re-import
    # compares it to skip unchanged rows without reading their fields.
    fingerprint = models.CharField(max_length=32, blank=True, editable=False)
    end_reason = models.CharField(
        _("motif de fin"), max_length=16, choices=EndReason.choices, blank=True
    )
    created_at = models.DateTimeField(_("créé le"), default=timezone.now)

    objects = MandateQuerySet.as_manager()

    class Meta:
        verbose_name = _("mandat")
        verbose_name_plural = _("mandats")
        ordering = ["-start_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["function_account"],
                condition=Q(end_date__isnull=True) & Q(function_account__isnull=False),
                name="one_open_mandate_per_function",
            ),
            models.UniqueConstraint(
                fields=["source", "source_id"],
                condition=~Q(source_id=""),
                name="mandate_source_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(end_date__isnull=True) | Q(end_date__gte=models.F("start_date")),
                name="mandate_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.official} — {self.function_label}"

    @property
    def is_open(self) -> bool:
        return self.end_date is None or self.end_date >= timezone.localdate()


class Staff(AbstractUser):
    """A person who logs into the back-office and acts for one or more accounts."""

    language = models.CharField(
        _("langue de l'interface"),
        max_length=8,
        default="fr",
        choices=[("fr", "Français"), ("en", "English")],
    )

    class Meta:
        verbose_name = _("membre de l'équipe")
        verbose_name_plural = _("membres des équipes")

    def __str__(self) -> str:
        return self.get_full_name() or self.username


class RoleKind(models.TextChoices):
    EDITOR = "editor", _("Rédaction (brouillons seulement)")
    PUBLISHER = "publisher", _("Publication")
    MODERATOR = "moderator", _("Modération")
    ADMINISTRATOR = "administrator", _("Administration")


class Role(models.Model):
    """What one staff member may do for one account."""

    staff = models.ForeignKey(
        Staff, verbose_name=_("membre"), on_delete=models.CASCADE, related_name="roles"
    )
    account = models.ForeignKey(
        Account, verbose_name=_("compte"), on_delete=models.CASCADE, related_name="roles"
    )
    kind = models.CharField(_("rôle"), max_length=16, choices=RoleKind.choices)
    granted_at = models.DateTimeField(_("accordé le"), default=timezone.now)

    class Meta:
        verbose_name = _("rôle")
        verbose_name_plural = _("rôles")
        constraints = [
            models.UniqueConstraint(
                fields=["staff", "account", "kind"], name="role_once_per_staff_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.staff} · {self.get_kind_display()} · {self.account}"
