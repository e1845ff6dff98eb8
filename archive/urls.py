from django.urls import path

from . import views

app_name = "archive"

urlpatterns = [
    path(
        "plans/<int:plan_id>/enrollments/<int:enrollment_id>/archive/",
        views.archive_enrollment,
        name="archive_enrollment",
    ),
    path("plans/<int:plan_id>/archive/", views.bulk_archive, name="bulk_archive"),
    path("plans/<int:plan_id>/archive/preview.csv", views.bulk_preview_csv, name="bulk_preview_csv"),
    path("plans/<int:plan_id>/archived/", views.archived_list, name="archived_list"),
    path("plans/<int:plan_id>/archived/export.csv", views.archived_export, name="archived_export"),
    path("plans/<int:plan_id>/archived/delete/", views.archived_bulk_delete, name="archived_bulk_delete"),
    path("records/<int:pk>/", views.archived_detail, name="archived_detail"),
    path("records/<int:pk>/certificate/", views.archived_certificate, name="archived_certificate"),
    path("records/<int:pk>/delete/", views.archived_delete, name="archived_delete"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<int:pk>/", views.job_detail, name="job_detail"),
    path("jobs/<int:pk>/progress/", views.job_progress, name="job_progress"),
    path("jobs/<int:pk>/items.csv", views.job_items_csv, name="job_items_csv"),
    path("jobs/<int:pk>/cancel/", views.job_cancel, name="job_cancel"),
    path("team/", views.team, name="team"),
]
