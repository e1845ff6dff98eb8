"""The archive app's services: the only code that writes archives, jobs and their side effects.

This module is the public catalog (SPEC §4.4 contract: `archive_enrollments`, `start_archive_job`); each
concern lives in a module of its own:

- `engine`: archiving now, in batches (`archive_enrollments`, `archive_batch`);
- `sql`: the engine's statements (lock, look up, the one snapshot statement, the live changes);
- `storage`: the content-addressed store of archived certificates;
- `submission`: what an admin's selection selects within the limits, archiving it now or as a background job
  (`submit_archive`), starting and cancelling jobs; `job_runs`: running them under a lease;
- `reconciler`: finishing what Redis lost or a dead worker left, and purging finished jobs and expired keys;
- `request_keys`: exactly once per request — a pop-up's request key or an API `Idempotency-Key` (SPEC §4.10);
- `deletion`: deleting archived records; `merge`: merging user profiles; `enrollment`: enrolling with history;
- `certificates`: archived certificates (pending renders, downloads); `shared_courses`: the unenroll guard;
- `retraining`, `exemptions`, `reminders`, `periodic`: retraining runs and what the workers do daily;
- `imports` (`import_parsing`, `import_sql`): archive from a file — validate an upload, submit its valid rows.
"""

from .certificates import archived_certificate_response
from .deletion import delete_archived_enrollments
from .engine import (
    ArchiveOutcome,
    ItemResult,
    archive_batch,
    archive_enrollments,
    check_archive_request,
    current_rounds,
)
from .enrollment import enroll_learner
from .imports import (
    ImportFileError,
    ImportSubmission,
    expire_imports,
    form_options,
    purge_imports,
    submit_import,
    validate_import,
)
from .job_runs import cancel_archive_job, run_job
from .merge import MergePreview, merge_users, preview_merge
from .reconciler import purge_finished_jobs, reconcile
from .request_keys import (
    RequestKeyClaim,
    claim_request_key,
    once_per_request_key,
    page_fingerprint,
    page_key_from,
    purge_expired_request_keys,
    request_fingerprint,
    sign_page_key,
)
from .shared_courses import SharedCourses, check_shared_courses, shared_course_message
from .submission import (
    ArchiveSubmission,
    enqueue_archive_job,
    selected_enrollments,
    start_archive_job,
    start_frozen_archive_job,
    submit_archive,
)

__all__ = [
    "ArchiveOutcome",
    "ArchiveSubmission",
    "ImportFileError",
    "ImportSubmission",
    "ItemResult",
    "MergePreview",
    "RequestKeyClaim",
    "SharedCourses",
    "archive_batch",
    "archive_enrollments",
    "archived_certificate_response",
    "cancel_archive_job",
    "check_archive_request",
    "check_shared_courses",
    "claim_request_key",
    "current_rounds",
    "delete_archived_enrollments",
    "enroll_learner",
    "enqueue_archive_job",
    "expire_imports",
    "form_options",
    "merge_users",
    "once_per_request_key",
    "page_fingerprint",
    "page_key_from",
    "preview_merge",
    "purge_expired_request_keys",
    "purge_finished_jobs",
    "purge_imports",
    "reconcile",
    "request_fingerprint",
    "run_job",
    "selected_enrollments",
    "shared_course_message",
    "sign_page_key",
    "start_archive_job",
    "start_frozen_archive_job",
    "submit_archive",
    "submit_import",
    "validate_import",
]
