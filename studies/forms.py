from django import forms
from django.utils.translation import gettext_lazy as _


class StudyUploadForm(forms.Form):
    """One skin photo. The photo itself is checked by the service (studies.intake.photos)."""

    file = forms.FileField(
        label=_("Photo of the skin lesion"),
        help_text=_("JPEG, PNG or WebP. Take it in good light, in focus, with the lesion in the middle."),
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        error_messages={"required": _("Please choose a photo."), "empty": _("The file is empty.")},
    )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name (a CT series); the files are checked by the ingest."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)]


class RadiologyUploadForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Study"), widget=forms.RadioSelect,
        choices=[("chest_xray", _("Chest X-ray: one DICOM file (CR/DX) or a JPEG/PNG image")),
                 ("ct", _("Chest CT: the series' DICOM files, or one zip of them"))],
    )
    files = MultipleFileField(
        label=_("Files"),
        help_text=_("A zip with several series makes one study per series. Identifying data is "
                    "removed from the stored DICOM copies."),
        error_messages={"required": _("Please choose the files."), "empty": _("The file is empty.")},
    )
    patient_name = forms.CharField(
        label=_("Patient's name"), max_length=200, required=False,
        help_text=_("Taken from the DICOM files when left empty."),
    )
    patient_identifier = forms.CharField(
        label=_("Patient ID"), max_length=64, required=False,
        help_text=_("Taken from the DICOM files when left empty."),
    )
