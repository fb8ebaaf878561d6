"""The back-office where staff write, approve, schedule, edit and delete posts."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import BadRequest, PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from parvis.identity.models import Account
from parvis.identity.services import Capability, accounts_for, capabilities
from parvis.interactions import services as interactions
from parvis.interactions.models import Follow, Notification
from parvis.publishing import services
from parvis.publishing.models import Draft, MediaAttachment, Post
from parvis.web.forms import ComposeForm, ContentForm, ReviewForm


class LoginView(auth_views.LoginView):
    """Django's login, answering a refused login with 400 rather than 200."""

    template_name = "backoffice/login.html"

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        response.status_code = 400
        return response


def _account_for(request: HttpRequest, account_id: int) -> tuple[Account, set[Capability]]:
    account = get_object_or_404(Account.objects.local().select_related("domain"), pk=account_id)
    granted = capabilities(request.user, account)
    if not granted:
        raise PermissionDenied(_("Vous n'avez aucun rôle sur ce compte."))
    return account, granted


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """The accounts the staff member acts for and what awaits them."""
    accounts = list(accounts_for(request.user).order_by("display_name"))
    pending = Draft.objects.filter(account__in=accounts, state=Draft.State.PENDING)
    unread = dict(
        Notification.objects.filter(recipient__in=accounts, read_at__isnull=True)
        .values("recipient")
        .annotate(count=Count("id"))
        .values_list("recipient", "count")
    )
    return render(
        request,
        "backoffice/dashboard.html",
        {
            "accounts": accounts,
            "pending": pending.select_related("account", "author"),
            "unread": unread,
        },
    )


def _upload_images(request: HttpRequest, account: Account, form: ComposeForm) -> list[int]:
    ids = []
    for upload, alt in form.images():
        if upload is None:
            raise ValidationError(_("Un texte alternatif est donné sans image."), code="alt_alone")
        media = services.upload_media(
            request.user, account, upload.read(), filename=upload.name, description=alt
        )
        ids.append(media.id)
    return ids


def _discard_files(account: Account, before: set[int]) -> None:
    """Remove the files of images written during a refused request."""
    for media in MediaAttachment.objects.filter(account=account).exclude(id__in=before):
        media.file.delete(save=False)
        media.thumbnail.delete(save=False)


def _handle_compose(
    request: HttpRequest, account: Account, form: ComposeForm, draft: Draft | None
) -> Draft:
    action = request.POST.get("action", "draft")
    before = set(MediaAttachment.objects.filter(account=account).values_list("id", flat=True))
    try:
        with transaction.atomic():
            media_ids = _upload_images(request, account, form)
            draft = services.save_draft(
                request.user, account, form.content(), draft=draft, media_ids=media_ids
            )
            when = form.cleaned_data.get("scheduled_at")
            if action == "submit":
                services.submit_draft(request.user, draft, scheduled_at=when)
            elif action == "publish":
                services.publish_draft(request.user, draft, scheduled_at=when)
            elif action != "draft":
                raise ValidationError(_("Action inconnue : %(a)s") % {"a": action})
    except (ValidationError, PermissionDenied):
        _discard_files(account, before)
        raise
    draft.refresh_from_db()
    return draft


def _compose_response(
    request: HttpRequest,
    account: Account,
    granted: set[Capability],
    form: ComposeForm,
    draft: Draft | None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "account": account,
        "can_publish": Capability.PUBLISH in granted,
        "form": form,
        "draft": draft,
        "review_form": ReviewForm(),
    }
    if draft is None:
        context["drafts"] = account.drafts.exclude(state=Draft.State.PUBLISHED).select_related(
            "author"
        )
        context["posts"] = account.posts.live().order_by("-id")[:20]
    return render(request, "backoffice/compose.html", context, status=status)


def _submit(
    request: HttpRequest, account: Account, granted: set[Capability], draft: Draft | None
) -> HttpResponse:
    form = ComposeForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            draft = _handle_compose(request, account, form, draft)
        except ValidationError as error:
            form.add_error(None, error)
        except PermissionDenied as error:
            form.add_error(None, str(error))
            return _compose_response(request, account, granted, form, draft, status=403)
        else:
            messages.success(
                request,
                {
                    Draft.State.DRAFT: _("Brouillon enregistré."),
                    Draft.State.PENDING: _("Brouillon soumis pour validation."),
                    Draft.State.SCHEDULED: _("Publication programmée."),
                    Draft.State.PUBLISHED: _("Message publié."),
                }[draft.state],
            )
            return redirect("backoffice:account", account_id=account.id)
    return _compose_response(request, account, granted, form, draft, status=400)


@login_required
def account_home(request: HttpRequest, account_id: int) -> HttpResponse:
    """Compose a post for an account; list its drafts and recent posts."""
    account, granted = _account_for(request, account_id)
    if request.method == "POST":
        return _submit(request, account, granted, None)
    return _compose_response(request, account, granted, ComposeForm(), None)


@login_required
def draft_detail(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Edit, submit, approve or schedule a draft."""
    draft = get_object_or_404(Draft.objects.select_related("account__domain"), pk=draft_id)
    account, granted = _account_for(request, draft.account_id)
    if draft.state in (Draft.State.PUBLISHED, Draft.State.SCHEDULED):
        messages.info(request, _("Ce brouillon est déjà publié ou programmé."))
        return redirect("backoffice:account", account_id=account.id)
    if request.method == "POST":
        return _submit(request, account, granted, draft)
    form = ComposeForm(
        initial={
            "text": draft.text,
            "spoiler_text": draft.spoiler_text,
            "sensitive": draft.sensitive,
            "language": draft.language,
            "visibility": draft.visibility,
            "scheduled_at": draft.scheduled_at,
        }
    )
    return _compose_response(request, account, granted, form, draft)


@login_required
@require_POST
def draft_reject(request: HttpRequest, draft_id: int) -> HttpResponse:
    """Send a submitted draft back to its author."""
    draft = get_object_or_404(Draft, pk=draft_id)
    form = ReviewForm(request.POST)
    form.is_valid()
    try:
        services.reject_draft(request.user, draft, form.cleaned_data.get("note", ""))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("backoffice:draft", draft_id=draft.id)
    messages.success(request, _("Brouillon renvoyé à son auteur."))
    return redirect("backoffice:account", account_id=draft.account_id)


@login_required
def post_edit(request: HttpRequest, post_id: int) -> HttpResponse:
    """Edit a published post; earlier versions stay visible on its page."""
    post = get_object_or_404(Post.objects.select_related("account__domain"), pk=post_id)
    account, _granted = _account_for(request, post.account_id)
    status = 200
    if request.method == "POST":
        form = ContentForm(request.POST)
        if form.is_valid():
            try:
                services.edit_post(request.user, post, form.content(post.visibility))
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, _("Message modifié."))
                return redirect("backoffice:account", account_id=account.id)
        status = 400
    else:
        form = ContentForm(
            initial={
                "text": post.text,
                "spoiler_text": post.spoiler_text,
                "sensitive": post.sensitive,
                "language": post.language,
            }
        )
    return render(
        request,
        "backoffice/post_edit.html",
        {"account": account, "post": post, "form": form},
        status=status,
    )


@login_required
@require_POST
def post_delete(request: HttpRequest, post_id: int) -> HttpResponse:
    """Delete a post, leaving a tombstone at its address."""
    post = get_object_or_404(Post, pk=post_id)
    try:
        services.delete_post(request.user, post)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("backoffice:account", account_id=post.account_id)
    messages.success(request, _("Message supprimé."))
    return redirect("backoffice:account", account_id=post.account_id)


@login_required
def notifications(request: HttpRequest, account_id: int) -> HttpResponse:
    """What happened to an account: follows, replies, mentions, likes, boosts; and the
    follow requests awaiting the team's answer. POST marks them read or answers a request."""
    account, _granted = _account_for(request, account_id)
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action == "read":
            interactions.mark_notifications_read(account)
        elif action in ("approve", "refuse"):
            raw = request.POST.get("follow", "")
            if not raw.isdigit() or len(raw) > 19:
                raise BadRequest(_("Paramètre « %(name)s » invalide.") % {"name": "follow"})
            follow = get_object_or_404(
                Follow.objects.select_related("follower", "target"),
                pk=int(raw),
                target=account,
                state=Follow.State.PENDING,
            )
            if action == "approve":
                interactions.approve_follow_request(follow)
                messages.success(request, _("Demande d'abonnement acceptée."))
            else:
                interactions.refuse_follow_request(follow)
                messages.success(request, _("Demande d'abonnement refusée."))
        else:
            raise BadRequest(_("Action inconnue : « %(action)s ».") % {"action": action[:50]})
        return redirect("backoffice:notifications", account_id=account.id)
    items = (
        Notification.objects.filter(recipient=account)
        .select_related("from_account__domain", "post__account__domain")
        .order_by("-id")[:50]
    )
    requests = Follow.objects.filter(target=account, state=Follow.State.PENDING).select_related(
        "follower__domain"
    )
    return render(
        request,
        "backoffice/notifications.html",
        {"account": account, "notifications": items, "follow_requests": requests},
    )
