from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person or a machine account (a PACS). What each role may do: accounts.permissions."""

    class Role(models.TextChoices):
        PATIENT = "patient", _("Patient")
        RADIOLOGIST = "radiologist", _("Radiologist")
        CLINICIAN = "clinician", _("Clinician")
        ADMIN = "admin", _("Administrator")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.PATIENT)
