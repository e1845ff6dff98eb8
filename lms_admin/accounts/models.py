"""Users and the manager hierarchy."""

import datetime

from django.contrib.auth.models import AbstractUser, UserManager
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.db import models
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone


class Level(models.TextChoices):
    SUPERADMIN = "superadmin", "Superadmin"
    POWER_USER = "power_user", "Power user"
    USER = "user", "User"


class UserStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    DEACTIVATED = "deactivated", "Deactivated"
    EXPIRED = "expired", "Expired"


class LmsUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("level", Level.SUPERADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


def user_status_q(status: str, *, today: datetime.date | None = None, prefix: str = "") -> Q:
    """The queryset condition matching SPEC §3's derived user status (prefix e.g. "user__")."""
    today = today or timezone.localdate()
    expired = Q(**{f"{prefix}expires_on__lt": today})
    if status == UserStatus.EXPIRED:
        return expired
    if status == UserStatus.DEACTIVATED:
        return ~expired & Q(**{f"{prefix}is_active": False})
    if status == UserStatus.ACTIVE:
        return ~expired & Q(**{f"{prefix}is_active": True})
    raise ValueError(f"unknown user status {status!r}")


class User(AbstractUser):
    language = models.CharField(max_length=8, default="en", help_text="ISO 639-1 code")
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.USER, db_index=True)
    expires_on = models.DateField(null=True, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_users"
    )

    objects = LmsUserManager()

    class Meta:
        ordering = ["username"]
        # Trigram indexes serve the lists' "contains" search (UPPER(col) LIKE UPPER('%word%')) on many users.
        indexes = [
            GinIndex(OpClass(Upper(name), name="gin_trgm_ops"), name=f"user_{name}_trgm")
            for name in ("username", "first_name", "last_name", "email")
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.username

    @property
    def status(self) -> str:
        if self.expires_on and self.expires_on < timezone.localdate():
            return UserStatus.EXPIRED
        if not self.is_active:
            return UserStatus.DEACTIVATED
        return UserStatus.ACTIVE

    @property
    def is_superadmin(self) -> bool:
        return self.level == Level.SUPERADMIN

    @property
    def is_power_user(self) -> bool:
        return self.level == Level.POWER_USER


class ManagerLink(models.Model):
    manager = models.ForeignKey(User, on_delete=models.CASCADE, related_name="employee_links")
    employee = models.ForeignKey(User, on_delete=models.CASCADE, related_name="manager_links")
    manager_type = models.CharField(max_length=64, default="Line manager")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["employee", "manager_type"], name="uniq_manager_per_type"),
            models.CheckConstraint(condition=~Q(manager=models.F("employee")), name="manager_not_self"),
        ]
        indexes = [models.Index(fields=["manager", "employee"], name="managerlink_manager_idx")]

    def __str__(self) -> str:
        return f"{self.manager} manages {self.employee} ({self.manager_type})"


class ApiToken(models.Model):
    """A bearer token for the JSON API. Only its sha256 is stored; the token itself is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    key_prefix = models.CharField(max_length=8, db_index=True, help_text="First characters of the token.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.key_prefix}… ({self.user.username})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
