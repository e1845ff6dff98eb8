from django.db import migrations

from lms_admin.notifications.defaults import DEFAULT_RULES, create_default_rules


def create_rules(apps, schema_editor):
    create_default_rules(apps.get_model("notifications", "NotificationRule"), using=schema_editor.connection.alias)


def remove_rules(apps, schema_editor):
    apps.get_model("notifications", "NotificationRule").objects.filter(event__in=DEFAULT_RULES).delete()


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]
    operations = [migrations.RunPython(create_rules, remove_rules)]
