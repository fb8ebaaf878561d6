"""Django admin for server administrators: domains, institutions, officials, accounts, roles."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest

from parvis.identity.models import Account, Domain, Institution, Mandate, Official, Role, Staff
from parvis.identity.services import profile_changed, validate_handle
from parvis.publishing.media import process_image


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "created_at"]
    search_fields = ["name"]


@admin.register(Institution)
class InstitutionAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "siren", "insee_code", "departement_code"]
    list_filter = ["kind"]
    search_fields = ["name", "siren", "insee_code"]
    autocomplete_fields = ["parent"]


class MandateInline(admin.TabularInline):
    model = Mandate
    fk_name = "official"
    extra = 0
    autocomplete_fields = ["institution", "function_account"]


@admin.register(Official)
class OfficialAdmin(admin.ModelAdmin):
    list_display = ["family_name", "given_name", "birth_date"]
    search_fields = ["family_name", "given_name", "roster_key"]
    inlines = [MandateInline]


class AccountForm(forms.ModelForm):
    """Avatars and headers go through the same cleaning as post images."""

    class Meta:
        model = Account
        fields = [
            "domain",
            "handle",
            "kind",
            "display_name",
            "bio",
            "avatar",
            "header",
            "fields",
            "language",
            "institution",
            "official",
            "discoverable",
            "locked",
            "also_known_as",
            "suspended_at",
            "frozen_at",
        ]

    def clean_handle(self) -> str:
        # The admin must refuse what create_account refuses (reserved words included).
        return validate_handle(self.cleaned_data.get("handle", ""))

    def _clean_image(self, name: str) -> object:
        upload = self.cleaned_data.get(name)
        if isinstance(upload, UploadedFile):
            image = process_image(upload.read(), upload.name or name)
            return image.content
        return upload

    def clean_avatar(self) -> object:
        return self._clean_image("avatar")

    def clean_header(self) -> object:
        return self._clean_image("header")


class RoleInline(admin.TabularInline):
    model = Role
    extra = 0
    autocomplete_fields = ["staff"]


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = ["handle", "domain", "display_name", "kind", "suspended_at", "frozen_at"]
    list_filter = ["kind", "domain"]
    search_fields = ["handle", "display_name", "search_text"]
    autocomplete_fields = ["institution", "official"]
    inlines = [RoleInline]

    def save_model(
        self, request: HttpRequest, obj: Account, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        profile_changed(obj)


@admin.register(Mandate)
class MandateAdmin(admin.ModelAdmin):
    list_display = ["official", "function_label", "institution", "start_date", "end_date"]
    search_fields = ["official__family_name", "function_label"]
    autocomplete_fields = ["official", "institution", "function_account"]


@admin.register(Staff)
class StaffAdmin(UserAdmin):
    inlines = [RoleInline]
    fieldsets = [*UserAdmin.fieldsets, ("Parvis", {"fields": ["language"]})]
