from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "lms_admin.notifications"
    label = "notifications"
    verbose_name = "Notifications"
