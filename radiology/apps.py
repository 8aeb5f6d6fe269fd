from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RadiologyConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "radiology"
    verbose_name = _("Radiology")
