from django.db import migrations

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


def create_rules(apps, schema_editor):
    NotificationRule = apps.get_model("notifications", "NotificationRule")
    for event, (subject, body) in DEFAULT_RULES.items():
        NotificationRule.objects.get_or_create(
            event=event,
            defaults={"enabled": True, "subject_template": subject, "body_template": body, "to_learner": True},
        )


def remove_rules(apps, schema_editor):
    apps.get_model("notifications", "NotificationRule").objects.filter(event__in=DEFAULT_RULES).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]
    operations = [migrations.RunPython(create_rules, remove_rules)]
