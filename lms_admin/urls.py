"""Root URLs."""

from django.contrib import admin
from django.urls import include, path

from enrollments import views as enrollments_views

urlpatterns = [
    path("", enrollments_views.home, name="home"),
    path("accounts/", include("lms_admin.accounts.urls")),
    path("plans/", include("enrollments.urls")),
    path("archive/", include("archive.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("lms_admin.api_urls")),
]
