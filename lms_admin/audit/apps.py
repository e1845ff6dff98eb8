from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "lms_admin.audit"
    label = "audit"
    verbose_name = "Audit"
