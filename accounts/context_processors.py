"""What the signed-in user may do, for the pages' menus and buttons (accounts.permissions)."""

from django.http import HttpRequest

from accounts import permissions


def roles(request: HttpRequest) -> dict[str, bool]:
    user = request.user
    return {
        "is_admin": permissions.is_admin(user),
        "may_review": permissions.may_review(user),
        "may_send_radiology": permissions.may_send_radiology(user),
    }
