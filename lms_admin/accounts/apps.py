from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "lms_admin.accounts"
    label = "accounts"
    verbose_name = "Accounts"
