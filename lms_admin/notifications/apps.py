from django.apps import AppConfig
from django.db.models.signals import post_migrate


def ensure_default_rules(sender, using="default", **kwargs):
    """The six default rules exist after every migrate and every flush (a flushed test database too)."""
    from django.db import connections

    from .defaults import create_default_rules

    model = sender.get_model("NotificationRule")
    if model._meta.db_table in connections[using].introspection.table_names():
        create_default_rules(model, using=using)


class NotificationsConfig(AppConfig):
    name = "lms_admin.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self):
        post_migrate.connect(ensure_default_rules, sender=self, dispatch_uid="notifications_default_rules")
