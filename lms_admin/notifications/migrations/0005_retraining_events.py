from django.db import migrations, models

from lms_admin.notifications.defaults import RETRAINING_RULES, create_retraining_rules

EVENTS = [
    ("lp_enrollment_archived", "Learning plan enrollment archived"),
    ("course_enrollment_archived", "Course enrollment archived"),
    ("lp_user_enrolled", "User enrolled in a learning plan"),
    ("lp_user_unenrolled", "User unenrolled from a learning plan"),
    ("course_user_enrolled", "User enrolled in a course"),
    ("course_user_unenrolled", "User unenrolled from a course"),
    ("retraining_started", "A retraining rule re-enrolled the learner"),
    ("certification_expiring", "Certification expiring soon"),
    ("certification_expired", "Certification expired"),
]


def create_rules(apps, schema_editor):
    create_retraining_rules(apps.get_model("notifications", "NotificationRule"), using=schema_editor.connection.alias)


def remove_rules(apps, schema_editor):
    apps.get_model("notifications", "NotificationRule").objects.filter(event__in=RETRAINING_RULES).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0004_sender_retries_and_rule_templates")]

    operations = [
        migrations.AlterField(
            model_name="notificationrule",
            name="event",
            field=models.CharField(choices=EVENTS, max_length=40, unique=True),
        ),
        migrations.AlterField(
            model_name="outboxmessage",
            name="event",
            field=models.CharField(choices=EVENTS, max_length=40),
        ),
        migrations.RunPython(create_rules, remove_rules),
    ]
