"""The archive app's models: snapshots, jobs, request keys, retraining rules, content versions, imports (one module
each)."""

from .choices import ARCHIVE_EVENTS, ArchiveMode, Outcome, Trigger, ValidityState
from .content import PlanContentVersion
from .imports import ArchiveImport, ArchiveImportRow
from .jobs import ArchiveJob, ArchiveJobItem
from .requests import RequestKey
from .retraining import RetrainingExemption, RetrainingRun
from .snapshots import ArchivedCertificate, ArchivedCourseEnrollment, ArchivedPlanEnrollment

__all__ = [
    "ARCHIVE_EVENTS",
    "ArchiveImport",
    "ArchiveImportRow",
    "ArchiveJob",
    "ArchiveJobItem",
    "ArchiveMode",
    "ArchivedCertificate",
    "ArchivedCourseEnrollment",
    "ArchivedPlanEnrollment",
    "Outcome",
    "PlanContentVersion",
    "RequestKey",
    "RetrainingExemption",
    "RetrainingRun",
    "Trigger",
    "ValidityState",
]
