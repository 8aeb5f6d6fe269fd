"""Writes for user accounts: one path for the signup form, the API and the CLI."""
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.models import User


def user_apply_role(*, user: User) -> None:
    """Administrators can use the Django admin; the flags follow the role."""
    if user.role == User.Role.ADMIN:
        user.is_staff = True


@transaction.atomic
def user_create(
    *,
    username: str,
    password: str,
    email: str = "",
    role: str = User.Role.PATIENT,
    superuser: bool = False,
) -> User:
    """Create a user after checking the username, email and password (Django's validators).

    Raises ValidationError with a message dict keyed by field name.
    """
    user = User(username=username, email=email, role=role, is_superuser=superuser)
    user_apply_role(user=user)
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    return user


def user_api_token(*, user: User) -> str:
    token, _created = Token.objects.get_or_create(user=user)
    return token.key
