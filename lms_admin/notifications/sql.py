"""SQL shared by the statements that write the outbox themselves (the archive batch, the certification reminders)."""

from __future__ import annotations


def addressed(source: str) -> str:
    """The body of a CTE giving each row of the CTE `source` (which has `event` and `user_id` columns) once per
    recipient its enabled notification rule names, in a column `recipient_id`: the learner, the learner's
    managers, the active superadmins."""
    return f"""
    SELECT ev.*, ev.user_id AS recipient_id
    FROM {source} ev JOIN notifications_notificationrule r ON r.event = ev.event AND r.enabled AND r.to_learner
    UNION ALL
    SELECT ev.*, ml.manager_id
    FROM {source} ev JOIN notifications_notificationrule r ON r.event = ev.event AND r.enabled AND r.to_managers
    JOIN accounts_managerlink ml ON ml.employee_id = ev.user_id
    UNION ALL
    SELECT ev.*, sa.id
    FROM {source} ev JOIN notifications_notificationrule r ON r.event = ev.event AND r.enabled AND r.to_superadmins
    JOIN accounts_user sa ON sa.level = 'superadmin' AND sa.is_active
"""
