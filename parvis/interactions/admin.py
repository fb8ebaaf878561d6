"""Admin views of follows, blocks, reactions and notifications."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from parvis.interactions import services
from parvis.interactions.models import (
    AccountDomainBlock,
    Block,
    Bookmark,
    Follow,
    Mute,
    Notification,
    Reaction,
)


@admin.register(Follow)
class FollowAdmin(admin.ModelAdmin):
    list_display = ["follower", "target", "state", "created_at"]
    list_filter = ["state"]
    raw_id_fields = ["follower", "target"]
    actions = ["approve", "refuse"]

    @admin.action(description=_("Accepter les demandes d'abonnement choisies"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Follow]) -> None:
        for follow in queryset.filter(state=Follow.State.PENDING, target__domain__isnull=False):
            services.approve_follow_request(follow)

    @admin.action(description=_("Refuser ou retirer les abonnés choisis"))
    def refuse(self, request: HttpRequest, queryset: QuerySet[Follow]) -> None:
        for follow in queryset.filter(target__domain__isnull=False):
            services.refuse_follow_request(follow)


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["account", "target", "created_at"]
    raw_id_fields = ["account", "target"]


@admin.register(Reaction)
class ReactionAdmin(admin.ModelAdmin):
    list_display = ["kind", "account", "post", "created_at"]
    list_filter = ["kind"]
    raw_id_fields = ["account", "post"]


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["recipient", "kind", "from_account", "post", "created_at", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["recipient", "from_account", "post"]


class _ReadOnly(admin.ModelAdmin):
    """What an account keeps to itself: shown to the operators who need to look into a
    problem, never written in the admin, where nothing would tell the account's team."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Bookmark)
class BookmarkAdmin(_ReadOnly):
    list_display = ["account", "post", "created_at"]
    raw_id_fields = ["account", "post"]


@admin.register(Mute)
class MuteAdmin(_ReadOnly):
    list_display = ["account", "target", "notifications", "expires_at", "created_at"]
    list_filter = ["notifications"]
    raw_id_fields = ["account", "target"]


@admin.register(AccountDomainBlock)
class AccountDomainBlockAdmin(_ReadOnly):
    list_display = ["account", "domain", "created_at"]
    search_fields = ["domain"]
    raw_id_fields = ["account"]
