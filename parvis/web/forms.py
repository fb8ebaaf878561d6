"""Back-office forms. They only parse input; the publishing services decide."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from parvis.publishing.models import Visibility
from parvis.publishing.services import Content

LANGUAGE_CHOICES = [
    ("fr", "Français"),
    ("en", "English"),
    ("br", "Brezhoneg"),
    ("co", "Corsu"),
    ("eu", "Euskara"),
    ("oc", "Occitan"),
    ("ca", "Català"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("it", "Italiano"),
]


class ContentForm(forms.Form):
    text = forms.CharField(
        label=_("Texte"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("Les liens, #mots-clés et @mentions deviennent des liens."),
    )
    spoiler_text = forms.CharField(
        label=_("Avertissement de contenu"), required=False, max_length=255
    )
    sensitive = forms.BooleanField(label=_("Contenu sensible (images masquées)"), required=False)
    language = forms.ChoiceField(label=_("Langue"), choices=LANGUAGE_CHOICES, initial="fr")

    def content(self, visibility: str = Visibility.PUBLIC) -> Content:
        data = self.cleaned_data
        return Content(
            text=data.get("text", ""),
            spoiler_text=data.get("spoiler_text", ""),
            sensitive=bool(data.get("sensitive")),
            language=data.get("language", "fr"),
            visibility=visibility,
        )


class ComposeForm(ContentForm):
    # Unknown values are passed through so the service reports them by name.
    visibility = forms.CharField(label=_("Visibilité"), initial=Visibility.PUBLIC)
    scheduled_at = forms.DateTimeField(
        label=_("Programmer la publication (facultatif)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for index in range(settings.PARVIS_MAX_MEDIA_PER_POST):
            self.fields[f"image_{index}"] = forms.FileField(
                label=_("Image %(n)d") % {"n": index + 1},
                required=False,
            )
            self.fields[f"alt_{index}"] = forms.CharField(
                label=_("Texte alternatif de l'image %(n)d") % {"n": index + 1},
                required=False,
                max_length=1500,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def images(self) -> list[tuple[object, str]]:
        """(uploaded file, alt text) for each image slot that holds a file or an alt text."""
        out = []
        for index in range(settings.PARVIS_MAX_MEDIA_PER_POST):
            upload = self.cleaned_data.get(f"image_{index}")
            alt = self.cleaned_data.get(f"alt_{index}", "")
            if upload or alt:
                out.append((upload, alt))
        return out

    def content(self, visibility: str | None = None) -> Content:
        return super().content(self.cleaned_data.get("visibility") or Visibility.PUBLIC)


class ReviewForm(forms.Form):
    note = forms.CharField(
        label=_("Note pour l'auteur"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
