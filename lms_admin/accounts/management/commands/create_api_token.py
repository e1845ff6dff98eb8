"""`manage.py create_api_token <username> [--name NAME]`: prints a new API token alone on one line."""

from django.core.management.base import BaseCommand, CommandError

from lms_admin.accounts.models import User
from lms_admin.accounts.tokens import create_api_token


class Command(BaseCommand):
    help = "Create an API bearer token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="A label to recognise the token by in the admin.")

    def handle(self, *args, username: str, name: str, **options):
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist as exc:
            raise CommandError(f"No user named {username!r}.") from exc
        if not user.is_active:
            raise CommandError(f"User {username!r} is deactivated.")
        _, raw = create_api_token(user=user, name=name)
        self.stdout.write(raw)
