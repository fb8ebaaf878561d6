"""The moderation queue in the admin, until the moderation screens exist."""

from django.contrib import admin

from parvis.moderation.models import Report


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):
    list_display = ["target", "reporter", "state", "created_at"]
    list_filter = ["state"]
    raw_id_fields = ["reporter", "target", "posts"]
    search_fields = ["comment", "uri"]
