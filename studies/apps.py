from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class StudiesConfig(AppConfig):
    """What every study has. The app label stays ``diagnosis``, the name the first version
    gave it, so that its tables, migration history and content types carry over as they are."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "studies"
    label = "diagnosis"
    verbose_name = _("Studies")
