"""Publishing actions: the workflow, the records they keep, and what they refuse."""

import os
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from parvis.core.tasks import run_pending
from parvis.identity.models import Account, Mandate, Staff
from parvis.publishing import services
from parvis.publishing.models import Draft, Post, PostEdit
from parvis.publishing.services import Content


def test_publisher_publishes_and_the_post_records_mandate_and_publisher(
    publisher: Staff, function_account: Account, mayor: Mandate
) -> None:
    post = services.publish_post(
        publisher, function_account, Content(text="Bonjour #Blois https://blois.fr")
    )
    assert post.mandate == mayor
    assert post.published_by == publisher
    assert list(post.hashtags.values_list("name", flat=True)) == ["blois"]
    assert 'class="mention hashtag"' in post.content_html


def test_institution_account_posts_without_mandate(publisher: Staff, account: Account) -> None:
    assert services.publish_post(publisher, account, Content(text="x")).mandate is None


def test_post_ids_grow_with_time(publisher: Staff, account: Account) -> None:
    ids = [services.publish_post(publisher, account, Content(text=f"n°{i}")).id for i in range(5)]
    assert ids == sorted(ids)


def test_editor_draft_needs_a_publisher_approval(
    editor: Staff, publisher: Staff, account: Account
) -> None:
    draft = services.save_draft(editor, account, Content(text="Proposition"))
    with pytest.raises(PermissionDenied):
        services.publish_draft(editor, draft)
    assert not Post.objects.exists()
    services.submit_draft(editor, draft)
    draft.refresh_from_db()
    assert draft.state == Draft.State.PENDING
    services.publish_draft(publisher, draft)
    draft.refresh_from_db()
    assert draft.state == Draft.State.PUBLISHED
    assert draft.approved_by == publisher
    assert draft.post.text == "Proposition"


def test_rejected_draft_returns_to_its_author_with_a_note(
    editor: Staff, publisher: Staff, account: Account
) -> None:
    draft = services.submit_draft(editor, services.save_draft(editor, account, Content(text="x")))
    services.reject_draft(publisher, draft, "Ajouter la date.")
    draft.refresh_from_db()
    assert (draft.state, draft.review_note) == (Draft.State.DRAFT, "Ajouter la date.")


# Real commits: the worker closes connections it finds inside a transaction.
@pytest.mark.django_db(transaction=True)
def test_scheduled_draft_is_published_by_the_worker_when_due(
    publisher: Staff, account: Account
) -> None:
    when = timezone.now() + timedelta(minutes=10)
    draft = services.publish_draft(
        publisher,
        services.save_draft(publisher, account, Content(text="Marché à 7 h")),
        scheduled_at=when,
    )
    assert draft.state == Draft.State.SCHEDULED
    assert run_pending() == 0  # not due yet
    assert not Post.objects.exists()
    # Time passes: move the schedule and the queued task into the past.
    from django_tasks_db.models import DBTaskResult

    past = timezone.now() - timedelta(seconds=1)
    Draft.objects.filter(pk=draft.pk).update(scheduled_at=past)
    DBTaskResult.objects.update(run_after=past)
    # The publishing task, then what subscribes to the new post (federation).
    assert run_pending() >= 1
    draft.refresh_from_db()
    assert draft.state == Draft.State.PUBLISHED
    assert draft.post.published_by == publisher
    # Running the same task again (at-least-once delivery) changes nothing.
    from parvis.publishing.tasks import publish_scheduled

    assert publish_scheduled.call(draft.pk) is None
    assert Post.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_rescheduled_draft_goes_out_at_its_new_time_only(
    publisher: Staff, account: Account
) -> None:
    from django_tasks_db.models import DBTaskResult

    draft = services.publish_draft(
        publisher,
        services.save_draft(publisher, account, Content(text="Conseil reporté")),
        scheduled_at=timezone.now() + timedelta(minutes=10),
    )
    later = timezone.now() + timedelta(hours=2)
    services.reschedule_draft(publisher, draft, later)
    draft.refresh_from_db()
    assert draft.scheduled_at == later and draft.state == Draft.State.SCHEDULED
    # The first task comes due: the draft is scheduled later, so it waits.
    first = DBTaskResult.objects.order_by("enqueued_at").first()
    DBTaskResult.objects.filter(pk=first.pk).update(run_after=timezone.now())
    run_pending()
    assert not Post.objects.exists()
    with pytest.raises(ValidationError, match="futur"):
        services.reschedule_draft(publisher, draft, timezone.now())


def test_a_cancelled_schedule_publishes_nothing(
    publisher: Staff, editor: Staff, account: Account
) -> None:
    draft = services.publish_draft(
        publisher,
        services.save_draft(publisher, account, Content(text="Annulé")),
        scheduled_at=timezone.now() + timedelta(minutes=10),
    )
    with pytest.raises(PermissionDenied):
        services.cancel_scheduled_draft(editor, draft)
    services.cancel_scheduled_draft(publisher, draft)
    draft.refresh_from_db()
    assert draft.state == Draft.State.DRAFT and draft.scheduled_at is None
    assert services.publish_due_draft(draft.pk) is None
    with pytest.raises(ValidationError):
        services.cancel_scheduled_draft(publisher, draft)  # no longer scheduled


def test_schedule_in_the_past_is_refused_and_nothing_changes(
    publisher: Staff, account: Account
) -> None:
    draft = services.save_draft(publisher, account, Content(text="x"))
    with pytest.raises(ValidationError, match="futur"):
        services.publish_draft(publisher, draft, scheduled_at=timezone.now() - timedelta(hours=1))
    draft.refresh_from_db()
    assert draft.state == Draft.State.DRAFT
    assert not Post.objects.exists()


def test_edit_keeps_a_visible_history(publisher: Staff, account: Account) -> None:
    post = services.publish_post(publisher, account, Content(text="Conseil à 18 h"))
    services.edit_post(publisher, post, Content(text="Conseil à 18 h 30"))
    services.edit_post(publisher, post, Content(text="Conseil à 19 h", spoiler_text="Horaire"))
    post.refresh_from_db()
    assert post.text == "Conseil à 19 h" and post.edited_at is not None
    assert [e.text for e in PostEdit.objects.filter(post=post)] == [
        "Conseil à 18 h",
        "Conseil à 18 h 30",
        "Conseil à 19 h",
    ]


def test_delete_leaves_a_tombstone_without_content(
    publisher: Staff, account: Account, jpeg: bytes, django_capture_on_commit_callbacks
) -> None:
    media = services.upload_media(publisher, account, jpeg, filename="a.jpg", description="A")
    post = services.publish_post(
        publisher, account, Content(text="Erreur #x"), media_ids=[media.id]
    )
    path = media.file.path
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_post(publisher, post)
    post.refresh_from_db()
    assert post.deleted_at is not None
    assert (post.text, post.content_html) == ("", "")
    assert not post.media.exists() and not post.hashtags.exists()
    assert not os.path.exists(path)


def test_post_for_account_without_role_is_refused(make_staff, account: Account) -> None:
    outsider = make_staff("dehors")
    with pytest.raises(PermissionDenied):
        services.publish_post(outsider, account, Content(text="x"))
    with pytest.raises(PermissionDenied):
        services.save_draft(outsider, account, Content(text="x"))
    assert not Post.objects.exists() and not Draft.objects.exists()


def test_frozen_account_cannot_publish_edit_or_delete(publisher: Staff, account: Account) -> None:
    post = services.publish_post(publisher, account, Content(text="avant"))
    Account.objects.filter(pk=account.pk).update(frozen_at=timezone.now())
    account.refresh_from_db()
    post.refresh_from_db()
    for action in (
        lambda: services.publish_post(publisher, account, Content(text="x")),
        lambda: services.edit_post(publisher, post, Content(text="après")),
        lambda: services.delete_post(publisher, post),
    ):
        with pytest.raises(ValidationError, match="gelé"):
            action()
    post.refresh_from_db()
    assert post.text == "avant" and post.deleted_at is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (Content(text=""), "vide"),
        (Content(text="   \n  "), "vide"),
        (Content(text="a" * 1001), "1001 caractères ; la limite est 1000"),
        (Content(text="x", visibility="secret"), "Visibilité inconnue"),
        (Content(text="x", language="klingon"), "Langue inconnue"),
        (Content(text="x", spoiler_text="c" * 256), "255"),
        (Content(text="nul\x00"), "nul"),
    ],
)
def test_bad_content_is_refused_with_a_reason_and_nothing_saved(
    publisher: Staff, account: Account, content: Content, message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        services.publish_post(publisher, account, content)
    assert message in " ".join(error.value.messages)
    assert not Post.objects.exists() and not Draft.objects.exists()


def test_character_limit_is_configurable(publisher: Staff, account: Account, settings) -> None:
    settings.PARVIS_MAX_POST_CHARS = 10
    with pytest.raises(ValidationError, match="limite est 10"):
        services.publish_post(publisher, account, Content(text="onze lettres"))
    assert services.publish_post(publisher, account, Content(text="dix lettre"))


def test_more_than_four_images_is_refused(publisher: Staff, account: Account, jpeg: bytes) -> None:
    ids = [
        services.upload_media(
            publisher, account, jpeg, filename=f"{i}.jpg", description=f"image {i}"
        ).id
        for i in range(5)
    ]
    with pytest.raises(ValidationError, match="au plus 4"):
        services.publish_post(publisher, account, Content(text="x"), media_ids=ids)
    assert not Post.objects.exists()


def test_media_of_another_account_cannot_be_attached(
    publisher: Staff, account: Account, function_account: Account, jpeg: bytes
) -> None:
    media = services.upload_media(
        publisher, function_account, jpeg, filename="a.jpg", description="a"
    )
    with pytest.raises(ValidationError, match="introuvable"):
        services.publish_post(publisher, account, Content(text="x"), media_ids=[media.id])
