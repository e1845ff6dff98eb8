"""The default notification rules: the six of SPEC §4.6 (enabled, sent to the learner), the three of §11 (to the
learner and their managers too); and a sample of what the templates render with."""

# The keys the archive engine gives every outbox message (archive/services/sql.py), and the reminders'
# `certified_until`, with sample values: a rule's templates are rendered with these before the rule is saved.
SAMPLE_CONTEXT = {
    "learner_name": "Ada Lovelace",
    "recipient_name": "Ada Lovelace",
    "plan_title": "Safety basics",
    "course_title": "Fire drills",
    "round": 1,
    "next_round": 2,
    "archived_at": "2025-01-31 09:30 UTC",
    "mode": "reenroll",
    "certified_until": "2025-12-31",
}

DEFAULT_RULES = {
    "lp_enrollment_archived": (
        "Your enrollment in {{ plan_title }} was archived",
        'Hello {{ learner_name }},\n\nyour enrollment in the learning plan "{{ plan_title }}" '
        "(round {{ round }}) was archived on {{ archived_at }}.",
    ),
    "course_enrollment_archived": (
        "Your enrollment in {{ course_title }} was archived",
        'Hello {{ learner_name }},\n\nyour enrollment in the course "{{ course_title }}" '
        '(learning plan "{{ plan_title }}") was archived on {{ archived_at }}.',
    ),
    "lp_user_enrolled": (
        "You are enrolled in {{ plan_title }}",
        'Hello {{ learner_name }},\n\nyou are enrolled in the learning plan "{{ plan_title }}" '
        "(round {{ next_round }}).",
    ),
    "lp_user_unenrolled": (
        "You are no longer enrolled in {{ plan_title }}",
        'Hello {{ learner_name }},\n\nyou were unenrolled from the learning plan "{{ plan_title }}".',
    ),
    "course_user_enrolled": (
        "You are enrolled in {{ course_title }}",
        'Hello {{ learner_name }},\n\nyou are enrolled in the course "{{ course_title }}" '
        '(learning plan "{{ plan_title }}").',
    ),
    "course_user_unenrolled": (
        "You are no longer enrolled in {{ course_title }}",
        'Hello {{ learner_name }},\n\nyou were unenrolled from the course "{{ course_title }}" '
        '(learning plan "{{ plan_title }}").',
    ),
}


# The retraining rules (SPEC §11): enabled, sent to the learner and their first-level managers. The expiry
# reminders (archive/services/reminders.py) add `certified_until` (YYYY-MM-DD, the last valid day) to the context.
RETRAINING_RULES = {
    "retraining_started": (
        "Retraining: a new round of {{ plan_title }} has started",
        "Hello {{ recipient_name }},\n\nthe certification of {{ learner_name }} in the learning plan "
        '"{{ plan_title }}" is due for renewal: round {{ next_round }} has started. Completing it keeps the '
        "certification valid.",
    ),
    "certification_expiring": (
        "{{ plan_title }}: certification valid until {{ certified_until }}",
        "Hello {{ recipient_name }},\n\nthe certification of {{ learner_name }} in the learning plan "
        '"{{ plan_title }}" is valid until {{ certified_until }}. Complete the retraining before then to stay '
        "certified.",
    ),
    "certification_expired": (
        "{{ plan_title }}: certification expired",
        "Hello {{ recipient_name }},\n\nthe certification of {{ learner_name }} in the learning plan "
        '"{{ plan_title }}" expired after {{ certified_until }}. Completing the learning plan certifies them again.',
    ),
}


def create_default_rules(NotificationRule, using="default"):
    """Create the rules that are missing; existing rules (and their edits) are left alone."""
    _create_missing(NotificationRule, using, DEFAULT_RULES, to_managers=False)
    create_retraining_rules(NotificationRule, using)


def create_retraining_rules(NotificationRule, using="default"):
    """Create the missing retraining rules (learner and first-level managers)."""
    _create_missing(NotificationRule, using, RETRAINING_RULES, to_managers=True)


def _create_missing(NotificationRule, using, rules, *, to_managers):
    existing = set(NotificationRule.objects.using(using).values_list("event", flat=True))
    NotificationRule.objects.using(using).bulk_create(
        NotificationRule(
            event=event,
            enabled=True,
            subject_template=subject,
            body_template=body,
            to_learner=True,
            to_managers=to_managers,
        )
        for event, (subject, body) in rules.items()
        if event not in existing
    )
