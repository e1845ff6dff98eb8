"""Root URLs."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="enrollments:plan_list", permanent=False), name="home"),
    path("accounts/", include("lms_admin.accounts.urls")),
    path("plans/", include("enrollments.urls")),
    path("archive/", include("archive.urls")),
    path("admin/", admin.site.urls),
]
