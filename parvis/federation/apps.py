from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FederationConfig(AppConfig):
    name = "parvis.federation"
    label = "federation"
    verbose_name = _("Fédération (ActivityPub)")

    def ready(self) -> None:
        from parvis.core import events
        from parvis.federation import outbox

        events.subscribe(events.POST_PUBLISHED, outbox.federate_published)
        events.subscribe(events.POST_EDITED, outbox.federate_edited)
        events.subscribe(events.POST_DELETED, outbox.federate_deleted)
        events.subscribe(events.FOLLOW_REQUESTED, outbox.federate_follow_requested)
        events.subscribe(events.FOLLOW_ENDED, outbox.federate_follow_ended)
        events.subscribe(events.FOLLOW_APPROVED, outbox.federate_follow_approved)
        events.subscribe(events.FOLLOW_REFUSED, outbox.federate_follow_refused)
        events.subscribe(events.REACTION_ADDED, outbox.federate_reaction_added)
        events.subscribe(events.REACTION_REMOVED, outbox.federate_reaction_removed)
        events.subscribe(events.ACCOUNT_UPDATED, outbox.federate_account_updated)
        events.subscribe(events.ACCOUNT_MOVED, outbox.federate_account_moved)
        events.subscribe(events.BLOCK_ADDED, outbox.federate_block_added)
        events.subscribe(events.BLOCK_REMOVED, outbox.federate_block_removed)
