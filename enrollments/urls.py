from django.urls import path

from . import views

app_name = "enrollments"

urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("<int:plan_id>/enrollments/", views.plan_enrollments, name="plan_enrollments"),
    path("certificates/<int:certificate_id>/download/", views.certificate_download, name="certificate_download"),
]
