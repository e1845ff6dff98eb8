"""The session engine (`SESSION_ENGINE`): Django's database sessions, read with one plain statement.

Every signed-in request loads its session; `load()` reads the one column it needs without building a queryset
(docs/architecture.md, "Server CPU per page view"). Saving, expiry and clearing are Django's own.
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.db import connection
from django.utils import timezone

SESSION_SQL = "SELECT session_data FROM django_session WHERE session_key = %s AND expire_date > %s"


class SessionStore(db.SessionStore):
    def load(self) -> dict:
        """The session's data, or {} (and no key) when it does not exist or has expired — as Django's `load()`."""
        row = None
        if self.session_key is not None:
            with connection.cursor() as cursor:
                cursor.execute(SESSION_SQL, [self.session_key, timezone.now()])
                row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])
