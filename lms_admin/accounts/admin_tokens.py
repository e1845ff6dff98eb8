"""API tokens in the Django admin: listed with their last use, revocable, never shown or edited."""

from django.contrib import admin, messages

from .admin import StaffViewMixin
from .models import ApiToken
from .tokens import revoke_api_tokens


@admin.register(ApiToken)
class ApiTokenAdmin(StaffViewMixin, admin.ModelAdmin):
    list_display = ["key_prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["key_prefix", "name", "user__username"]
    list_select_related = ["user"]
    readonly_fields = ["user", "name", "key_prefix", "created_at", "last_used_at", "revoked_at"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are issued by `manage.py create_api_token`, which shows the token once

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = revoke_api_tokens(queryset)
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)
