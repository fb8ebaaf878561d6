"""Admin views of federation state: what was delivered or given up, remote actors, blocks."""

from django.contrib import admin

from parvis.federation.models import (
    BlockedDomain,
    Delivery,
    InboundActivity,
    RemoteActor,
    RemoteHost,
)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["activity", "inbox", "state", "attempts", "last_status", "next_attempt_at"]
    list_filter = ["state"]
    search_fields = ["inbox", "activity__uri"]
    readonly_fields = [f.name for f in Delivery._meta.fields]


@admin.register(RemoteHost)
class RemoteHostAdmin(admin.ModelAdmin):
    list_display = [
        "domain",
        "consecutive_failures",
        "last_success_at",
        "unavailable_since",
        "signature_scheme",
    ]
    search_fields = ["domain"]


@admin.register(BlockedDomain)
class BlockedDomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "created_at", "reason"]
    search_fields = ["domain"]


@admin.register(RemoteActor)
class RemoteActorAdmin(admin.ModelAdmin):
    list_display = ["uri", "account", "domain", "fetched_at"]
    search_fields = ["uri", "domain"]
    raw_id_fields = ["account"]


@admin.register(InboundActivity)
class InboundActivityAdmin(admin.ModelAdmin):
    list_display = ["kind", "uri", "received_at", "processed_at", "outcome"]
    list_filter = ["kind"]
    search_fields = ["uri", "actor_uri"]
    readonly_fields = [f.name for f in InboundActivity._meta.fields]
