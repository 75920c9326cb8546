"""`manage.py create_api_token USERNAME`: print (creating if needed) the user's API token."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token


class Command(BaseCommand):
    help = "Print the API token of USERNAME, creating it if needed (--rotate makes a new one)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace an existing token")

    def handle(self, *args, **options):
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        if options["rotate"]:
            Token.objects.filter(user=user).delete()
        from support.tokens import token_for_user

        token = token_for_user(user)
        self.stdout.write(token.key)
