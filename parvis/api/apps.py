from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApiConfig(AppConfig):
    name = "parvis.api"
    label = "api"
    verbose_name = _("API des applications Mastodon")
    default_auto_field = "django.db.models.BigAutoField"
