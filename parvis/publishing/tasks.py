"""Background handlers of the publishing domain."""

from parvis.core.tasks import RetryPolicy, background


@background(queue="publishing", priority=10, retry=RetryPolicy(max_attempts=10, first_delay=5))
def publish_scheduled(draft_id: int) -> int | None:
    """Publish a scheduled draft when its time comes (idempotent)."""
    from parvis.publishing.services import publish_due_draft

    post = publish_due_draft(draft_id)
    return post.id if post else None
