from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    class Role(models.TextChoices):
        PATIENT = "patient", _("Patient")
        RADIOLOGIST = "radiologist", _("Radiologist")
        CLINICIAN = "clinician", _("Clinician")
        ADMIN = "admin", _("Administrator")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.PATIENT)

    @property
    def is_platform_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    @property
    def is_radiologist(self) -> bool:
        return self.role == self.Role.RADIOLOGIST

    @property
    def can_send_radiology(self) -> bool:
        """Radiologists, clinicians (referring doctors, technicians) and admins upload X-rays and CT."""
        return self.role in {self.Role.RADIOLOGIST, self.Role.CLINICIAN} or self.is_platform_admin
