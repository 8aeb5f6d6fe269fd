from django import forms
from django.utils.translation import gettext_lazy as _


class StudyUploadForm(forms.Form):
    """One skin photo. The photo itself is checked by the service (diagnosis.imaging)."""

    file = forms.FileField(
        label=_("Photo of the skin lesion"),
        help_text=_("JPEG, PNG or WebP. Take it in good light, in focus, with the lesion in the middle."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        error_messages={"required": _("Please choose a photo."), "empty": _("The file is empty.")},
    )
