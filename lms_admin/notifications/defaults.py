"""The six default notification rules (SPEC §4.6): enabled, sent to the learner."""

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


def create_default_rules(NotificationRule, using="default"):
    """Create the rules that are missing; existing rules (and their edits) are left alone."""
    existing = set(NotificationRule.objects.using(using).values_list("event", flat=True))
    NotificationRule.objects.using(using).bulk_create(
        NotificationRule(event=event, enabled=True, subject_template=subject, body_template=body, to_learner=True)
        for event, (subject, body) in DEFAULT_RULES.items()
        if event not in existing
    )
