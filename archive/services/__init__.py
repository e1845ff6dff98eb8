"""The archive app's services: the only code that writes archives, jobs and their side effects.

This module is the public catalog (SPEC §4.4 contract: `archive_enrollments`, `start_archive_job`); each
concern lives in a module of its own:

- `engine`: archiving now, in batches (`archive_enrollments`, `archive_batch`), the shared-course guard;
- `sql`: the engine's statements (lock, look up, the one snapshot statement, the live changes);
- `storage`: the content-addressed store of archived certificates;
- `submission`: what an admin's selection selects within the limits, archiving it now or as a background job
  (`submit_archive`), starting and cancelling jobs; `job_runs`: running them under a lease;
- `reconciler`: finishing what Redis lost or a dead worker left, and purging finished jobs;
- `deletion`: deleting archived records; `merge`: merging user profiles.
"""

from .deletion import delete_archived_enrollments
from .engine import (
    ArchiveOutcome,
    ItemResult,
    SharedCourses,
    archive_batch,
    archive_enrollments,
    archived_certificate_response,
    check_archive_request,
    check_shared_courses,
    current_rounds,
    shared_course_message,
)
from .job_runs import run_job
from .merge import MergePreview, merge_users, preview_merge
from .reconciler import purge_finished_jobs, reconcile
from .submission import (
    ArchiveSubmission,
    cancel_archive_job,
    enqueue_archive_job,
    selected_enrollments,
    start_archive_job,
    submit_archive,
)

__all__ = [
    "ArchiveOutcome",
    "ArchiveSubmission",
    "ItemResult",
    "MergePreview",
    "SharedCourses",
    "archive_batch",
    "archive_enrollments",
    "archived_certificate_response",
    "cancel_archive_job",
    "check_archive_request",
    "check_shared_courses",
    "current_rounds",
    "delete_archived_enrollments",
    "enqueue_archive_job",
    "merge_users",
    "preview_merge",
    "purge_finished_jobs",
    "reconcile",
    "run_job",
    "selected_enrollments",
    "shared_course_message",
    "start_archive_job",
    "submit_archive",
]
