"""Certification reminders (SPEC §11): `certification_expiring` RETRAINING_REMINDER_DAYS before a learner's last
valid day, `certification_expired` from the day after — each once per certified round, through the notification
rules and the outbox. Called once a day by the workers' periodic loop; running it again writes nothing new.

One statement writes every message. Its dedupe key names the certification, not the live round:
`<event>:<plan id>:<learner id>:<certified_until>:<recipient id>`. A rule re-enrolls a learner inside the reminder
period and keeps their date (the live round moves on, the certification does not), and a learner unenrolled and
enrolled again carries the date into a new enrollment: either way they are not told twice. Completing a new round
moves the date, so the next expiry is news again.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from lms_admin.notifications.services import enqueue_outbox_sender
from lms_admin.notifications.sql import addressed

from .retraining import utc_today

# An expiry older than this is history, not news: turning reminders on over years of dated rounds mails nobody
# about them, while a few days without a worker are still caught up.
EXPIRED_CATCH_UP_DAYS = 30

REMINDERS_SQL = (
    """
WITH rounds AS (
    SELECT CASE WHEN e.certified_until >= %(today)s THEN 'certification_expiring'
                ELSE 'certification_expired' END AS event,
           e.learning_plan_id, e.user_id, e.round, e.certified_until
    FROM enrollments_retrainingrule r
    JOIN enrollments_learningplanenrollment e
      ON e.learning_plan_id = r.learning_plan_id
     AND e.certified_until BETWEEN %(expired_from)s AND %(expiring_until)s
    JOIN accounts_user u ON u.id = e.user_id
    WHERE u.merged_into_id IS NULL
      -- the learners the rule retrains: its user statuses (SPEC §3's derived status), not the exempt
      AND (CASE WHEN u.expires_on < %(today)s THEN 'expired'
                WHEN NOT u.is_active THEN 'deactivated'
                ELSE 'active' END) = ANY(ARRAY(SELECT jsonb_array_elements_text(r.user_statuses)))
      AND NOT EXISTS (
          SELECT 1 FROM archive_retrainingexemption x
          WHERE x.rule_id = r.id AND x.user_id = e.user_id AND (x.until IS NULL OR x.until >= %(today)s)
      )
), addressed AS ("""
    + addressed("rounds")
    + """), written AS (
    INSERT INTO notifications_outboxmessage (
        dedupe_key, event, recipient_id, recipient_email, context, created_at, sent_at, attempts, last_error
    )
    SELECT a.event || ':' || a.learning_plan_id || ':' || a.user_id || ':' || a.certified_until
               || ':' || a.recipient_id,
           a.event, a.recipient_id, ru.email,
           jsonb_build_object(
               'learner_name', coalesce(nullif(trim(u.first_name || ' ' || u.last_name), ''), u.username),
               'recipient_name', coalesce(nullif(trim(ru.first_name || ' ' || ru.last_name), ''), ru.username),
               'plan_title', p.title,
               'round', a.round,
               'certified_until', to_char(a.certified_until, 'YYYY-MM-DD')
           ),
           %(now)s, NULL, 0, ''
    FROM addressed a
    JOIN accounts_user u ON u.id = a.user_id
    JOIN accounts_user ru ON ru.id = a.recipient_id
    JOIN enrollments_learningplan p ON p.id = a.learning_plan_id
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING event
)
SELECT event, count(*) FROM written GROUP BY event
"""
)


def send_certification_reminders(*, today: datetime.date | None = None) -> dict[str, int]:
    """Write today's expiring and expired reminders to the outbox (once per certified round and recipient) and
    wake the sender; returns {event: messages written}."""
    today = today or utc_today()
    params = {
        "today": today,
        "expiring_until": today + datetime.timedelta(days=max(0, settings.RETRAINING_REMINDER_DAYS)),
        "expired_from": today - datetime.timedelta(days=EXPIRED_CATCH_UP_DAYS),
        "now": timezone.now(),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(REMINDERS_SQL, params)
        written = dict(cursor.fetchall())
        if written:
            transaction.on_commit(enqueue_outbox_sender)
    return written
