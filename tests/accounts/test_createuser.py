import pytest
from django.core.management import CommandError, call_command

from accounts.models import User
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("role", "staff", "superuser"), [
    ("patient", False, False),
    ("radiologist", False, False),
    ("admin", True, True),
])
def test_createuser_for_each_role(role, staff, superuser, capsys):
    call_command("createuser", "--role", role, "--username", f"u-{role}", "--password", PASSWORD, "--email", f"{role}@example.com")
    user = User.objects.get(username=f"u-{role}")
    assert user.role == role
    assert user.email == f"{role}@example.com"
    assert (user.is_staff, user.is_superuser) == (staff, superuser)
    assert user.check_password(PASSWORD)
    assert f"u-{role}" in capsys.readouterr().out


def test_createuser_reports_problems():
    with pytest.raises(CommandError, match="too short"):
        call_command("createuser", "--role", "patient", "--username", "shorty", "--password", "abc")
    assert not User.objects.filter(username="shorty").exists()


def test_createuser_rejects_unknown_roles():
    with pytest.raises(CommandError):
        call_command("createuser", "--role", "wizard", "--username", "merlin", "--password", PASSWORD)
