"""Forms of the radiologist's pages: the worklist filters, signing, addenda.

The services in radiology.review check the input that matters (an impression, a class from
the list); these forms only shape it, and show the services' errors next to the fields.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from studies import findings
from studies.models import Study

MINE = "mine"  # the review filter's "claimed by me"


class WorklistFilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"), required=False,
        choices=[("", _("All kinds")), (Study.Kind.CHEST_XRAY, Study.Kind.CHEST_XRAY.label),
                 (Study.Kind.CT, Study.Kind.CT.label)],
    )
    review = forms.ChoiceField(
        label=_("Review"), required=False,
        choices=[("", _("Open (awaiting or in review)")),
                 (Study.Review.AWAITING, Study.Review.AWAITING.label),
                 (Study.Review.IN_REVIEW, Study.Review.IN_REVIEW.label),
                 (MINE, _("Claimed by me")),
                 (Study.Review.SIGNED, Study.Review.SIGNED.label)],
    )
    date_from = forms.DateField(label=_("Uploaded from"), required=False,
                                widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("Uploaded until"), required=False,
                              widget=forms.DateInput(attrs={"type": "date"}))

    def worklist_filters(self) -> dict:
        """Keyword arguments for worklist.worklist_for from the fields that are valid."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        review = data.get("review") or None
        return {
            "kind": data.get("kind") or None,
            "review": None if review == MINE else review,
            "mine": review == MINE,
            "date_from": data.get("date_from"),
            "date_to": data.get("date_to"),
        }


class SignForm(forms.Form):
    agree = forms.TypedChoiceField(
        label=_("Your reading"), widget=forms.RadioSelect, coerce=lambda value: value == "yes",
        choices=[("yes", _("I agree with the AI finding")), ("no", _("I correct it to:"))],
    )
    corrected_class = forms.ChoiceField(label=_("Finding"), required=False)
    impression = forms.CharField(label=_("Impression"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, kind: str, ai_class: str = "", **kwargs) -> None:
        kwargs.setdefault("initial", {"agree": "yes" if ai_class else "no"})
        super().__init__(*args, **kwargs)
        self.fields["corrected_class"].choices = [("", "—"), *findings.class_choices(kind)]


class AddendumForm(forms.Form):
    text = forms.CharField(label=_("Addendum"), required=False, widget=forms.Textarea(attrs={"rows": 4}))


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, by field where the form has it."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, messages in error.message_dict.items():
        form.add_error(field if field in form.fields else None, messages)
