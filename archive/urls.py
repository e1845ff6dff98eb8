from django.urls import path

from .views import archived, compliance, details, imports, jobs, merge, popup, retraining, team

app_name = "archive"

urlpatterns = [
    path(
        "plans/<int:plan_id>/enrollments/<int:enrollment_id>/archive/",
        popup.archive_enrollment,
        name="archive_enrollment",
    ),
    path("plans/<int:plan_id>/archive/", popup.bulk_archive, name="bulk_archive"),
    path("plans/<int:plan_id>/archive/preview.csv", popup.bulk_preview_csv, name="bulk_preview_csv"),
    path("plans/<int:plan_id>/archived/", archived.archived_list, name="archived_list"),
    path("plans/<int:plan_id>/archived/export.csv", archived.archived_export, name="archived_export"),
    path("plans/<int:plan_id>/archived/delete/", details.archived_bulk_delete, name="archived_bulk_delete"),
    path("records/<int:pk>/", details.archived_detail, name="archived_detail"),
    path("records/<int:pk>/certificate/", details.archived_certificate, name="archived_certificate"),
    path("records/<int:pk>/delete/", details.archived_delete, name="archived_delete"),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/<int:pk>/", jobs.job_detail, name="job_detail"),
    path("jobs/<int:pk>/progress/", jobs.job_progress, name="job_progress"),
    path("jobs/<int:pk>/items.csv", jobs.job_items_csv, name="job_items_csv"),
    path("jobs/<int:pk>/cancel/", jobs.job_cancel, name="job_cancel"),
    path("plans/<int:plan_id>/retraining/", retraining.retraining, name="retraining"),
    path("plans/<int:plan_id>/retraining/forecast/", retraining.retraining_forecast, name="retraining_forecast"),
    path("plans/<int:plan_id>/retraining/dry-run.csv", retraining.retraining_dry_run, name="retraining_dry_run"),
    path("plans/<int:plan_id>/retraining/delete/", retraining.retraining_rule_delete, name="retraining_rule_delete"),
    path("plans/<int:plan_id>/retraining/runs/", retraining.retraining_run_now, name="retraining_run_now"),
    path(
        "plans/<int:plan_id>/retraining/runs/<int:run_id>/confirm/",
        retraining.retraining_run_confirm,
        name="retraining_run_confirm",
    ),
    path("plans/<int:plan_id>/retraining/exemptions/", retraining.exemption_add, name="retraining_exemption_add"),
    path(
        "plans/<int:plan_id>/retraining/exemptions/<int:exemption_id>/remove/",
        retraining.exemption_remove,
        name="retraining_exemption_remove",
    ),
    path("compliance/", compliance.compliance, name="compliance"),
    path("compliance/export.csv", compliance.compliance_export, name="compliance_export"),
    path("team/", team.team, name="team"),
    path("merge-users/", merge.merge_users_page, name="merge_users"),
    path("imports/new/", imports.import_upload, name="import_upload"),
    path("imports/<int:pk>/", imports.import_report, name="import_report"),
    path("imports/<int:pk>/errors.csv", imports.import_errors_csv, name="import_errors_csv"),
    path("imports/<int:pk>/submit/", imports.import_submit, name="import_submit"),
    path("imports/<int:pk>/progress/", imports.import_progress, name="import_progress"),
]
