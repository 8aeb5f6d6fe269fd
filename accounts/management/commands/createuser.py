from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.services import user_create


class Command(BaseCommand):
    help = "Create a user with a role. The admin role also gets staff and superuser rights."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--role", required=True, choices=User.Role.values)
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--email", default="")

    def handle(self, *args, role: str, username: str, password: str, email: str, **options) -> None:
        try:
            user = user_create(
                username=username,
                password=password,
                email=email,
                role=role,
                superuser=role == User.Role.ADMIN,
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(problems) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {user.role} {user.username!r} (id {user.id})."))
