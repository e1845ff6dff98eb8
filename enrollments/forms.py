"""Forms of the enrollments pages: the Merge users page (SPEC §4.9)."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError

from lms_admin.accounts.models import User

from .merge import MergePreview, preview_merge

MAX_MERGED_USERS = 20


def _lookup(references: list[str]) -> tuple[dict[str, User], list[str]]:
    """Users by username or numeric id, in one query; also the references that match nobody."""
    ids = [int(ref) for ref in references if ref.isdigit() and int(ref) < 2**63]
    users = list(User.objects.filter(username__in=references) | User.objects.filter(pk__in=ids))
    by_reference: dict[str, User] = {}
    for user in users:
        by_reference[user.username] = user
        by_reference.setdefault(str(user.pk), user)
    return by_reference, [ref for ref in references if ref not in by_reference]


class MergePreviewForm(forms.Form):
    """A form that is valid only when the merge it names could run; `merge_preview()` says what it would do."""

    def preview_merge(self, kept: User, merged: list[User]) -> None:
        try:
            self.preview = preview_merge(kept=kept, merged=merged)
        except ValidationError as exc:
            raise ValidationError(exc.messages, code="invalid_selection") from exc

    def merge_preview(self) -> MergePreview:
        """What the merge would do (only after `is_valid()`)."""
        return self.preview


class MergeUsersForm(MergePreviewForm):
    """The kept user and the users merged into them, by username or id; valid only when a merge could run."""

    kept = forms.CharField(
        label="Kept user",
        max_length=150,
        help_text="Username or id of the profile that stays.",
    )
    merged = forms.CharField(
        label="Users to merge into the kept user",
        max_length=3000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Usernames or ids, separated by commas, spaces or new lines.",
    )

    def clean_kept(self) -> User:
        reference = self.cleaned_data["kept"].strip()
        users, unknown = _lookup([reference])
        if unknown:
            raise ValidationError(f"No user with the username or id “{reference}”.", code="unknown_user")
        return users[reference]

    def clean_merged(self) -> list[User]:
        references = list(dict.fromkeys(r for r in re.split(r"[\s,;]+", self.cleaned_data["merged"]) if r))
        if not references:
            raise ValidationError("Name at least one user to merge.", code="invalid_selection")
        if len(references) > MAX_MERGED_USERS:
            raise ValidationError(f"Merge at most {MAX_MERGED_USERS} users at once.", code="invalid_selection")
        users, unknown = _lookup(references)
        if unknown:
            raise ValidationError(f"No user with the username or id: {', '.join(unknown)}.", code="unknown_user")
        return list({users[ref].pk: users[ref] for ref in references}.values())

    def clean(self) -> dict:
        cleaned = super().clean()
        kept, merged = cleaned.get("kept"), cleaned.get("merged")
        if kept is not None and merged is not None:
            self.preview_merge(kept, merged)
        return cleaned


class AdminMergeUsersForm(MergePreviewForm):
    """The Django admin action's intermediate page: which of the selected users is kept."""

    kept = forms.ModelChoiceField(queryset=User.objects.none(), widget=forms.RadioSelect, label="Kept user")

    def __init__(self, *args, users, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.users = list(users)
        self.fields["kept"].queryset = User.objects.filter(pk__in=[u.pk for u in self.users])

    def clean(self) -> dict:
        cleaned = super().clean()
        kept = cleaned.get("kept")
        if kept is not None:
            self.preview_merge(kept, [u for u in self.users if u.pk != kept.pk])
        return cleaned
