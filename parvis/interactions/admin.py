"""Admin views of follows, blocks, reactions and notifications."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from parvis.interactions import services
from parvis.interactions.models import Block, Follow, Notification, Reaction


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
