"""The Merge users page and the Django admin action (SPEC §4.9): pick, preview, confirm — one service."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from enrollments.models import IssuedCertificate
from lms_admin.accounts import roles
from lms_admin.accounts.models import User

from ..forms import AdminMergeUsersForm, MergeUsersForm
from ..services import MergePreview, merge_users

SEARCH_LIMIT = 20


def search_users(query: str) -> list[User]:
    """Users whose username, first or last name contains every word of `query` (at most 20)."""
    users = User.objects.all()
    words = query.split()[:5]
    if not words:
        return []
    for word in words:
        users = users.filter(Q(username__icontains=word) | Q(first_name__icontains=word) | Q(last_name__icontains=word))
    return list(users.order_by("username")[:SEARCH_LIMIT])


def certificates_following(preview: MergePreview) -> int:
    """Live certificates of the merged users; each follows the plan enrollment that wins its conflict."""
    return IssuedCertificate.objects.filter(user__in=[u.pk for u in preview.merged]).count()


def merge_summary(preview: MergePreview) -> str:
    merged = ", ".join(u.username for u in preview.merged)
    moved = ", ".join(f"{t.moving + t.merged_wins} {t.label.lower()}" for t in preview.tables)
    staying = preview.archived_records_staying
    return (
        f"Merged {merged} into {preview.kept.username}: moved {moved}. "
        f"{staying} archived record{'s' if staying != 1 else ''} stay with the merged users."
    )


@login_required
@require_http_methods(["GET", "POST"])
def merge_users_page(request: HttpRequest) -> HttpResponse:
    """GET: the form (and a username search); POST preview: what would happen; POST confirm: merge."""
    roles.require_admin_role(request.user)
    roles.require_superadmin(request.user)
    query = request.GET.get("q", "").strip()
    context: dict = {"nav_section": "merge", "query": query, "found": search_users(query) if query else None}
    if request.method == "GET":
        initial = {"kept": request.GET.get("kept", ""), "merged": request.GET.get("merged", "")}
        context["form"] = MergeUsersForm(initial=initial)
        return render(request, "archive/merge_users.html", context)

    form = MergeUsersForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return render(request, "archive/merge_users.html", context, status=422)
    preview = form.merge_preview()
    if request.POST.get("step") != "confirm":
        context.update(preview=preview, certificates=certificates_following(preview))
        return render(request, "archive/merge_users.html", context)
    merge_users(kept=preview.kept, merged=preview.merged, actor=request.user)
    messages.success(request, merge_summary(preview))
    return redirect("archive:merge_users")


def admin_merge_users(modeladmin, request: HttpRequest, queryset: QuerySet[User]) -> HttpResponse | None:
    """Django admin action: choose which selected user is kept, see the preview, confirm."""
    if not roles.is_superadmin(request.user):
        raise PermissionDenied("Only superadmins may merge users.")
    users = list(queryset.order_by("pk"))
    if len(users) < 2:
        modeladmin.message_user(request, "Select the kept user and at least one user to merge.", messages.WARNING)
        return None
    step = request.POST.get("step")
    form = AdminMergeUsersForm(request.POST if step else None, users=users)
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Merge users",
        "opts": modeladmin.model._meta,
        "form": form,
        "users": users,
        "action_name": request.POST.get("action", "merge_users"),
        "action_checkbox_name": "_selected_action",
    }
    if step and form.is_valid():
        preview = form.merge_preview()
        if step == "confirm":
            merge_users(kept=preview.kept, merged=preview.merged, actor=request.user)
            modeladmin.message_user(request, merge_summary(preview), messages.SUCCESS)
            return HttpResponseRedirect(request.get_full_path())
        context.update(preview=preview, certificates=certificates_following(preview))
    return TemplateResponse(request, "archive/merge_users_admin.html", context)
