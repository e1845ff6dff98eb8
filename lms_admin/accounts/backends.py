"""The sign-in backend: Django's `ModelBackend`, with the user of each signed-in request read by one plain
statement (`lms_admin.web.reads.fetch_by_pk`) instead of a queryset."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from lms_admin.accounts.models import User
from lms_admin.web.reads import fetch_by_pk


class AccountBackend(ModelBackend):
    def get_user(self, user_id):
        user = fetch_by_pk(User, user_id)
        return user if user is not None and self.user_can_authenticate(user) else None
