from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class SignupForm(UserCreationForm):
    """Checks the fields (including Django's password validators); the view calls the service."""

    email = forms.EmailField(label=_("Email (optional, for password reset)"), required=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")
