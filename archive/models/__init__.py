"""The archive app's models: snapshots, jobs, request keys, retraining rules, content versions (one module each)."""

from .choices import ArchiveMode, Outcome, Trigger, ValidityState
from .content import PlanContentVersion
from .jobs import ArchiveJob, ArchiveJobItem
from .requests import RequestKey
from .retraining import RetrainingExemption, RetrainingRun
from .snapshots import ArchivedCertificate, ArchivedCourseEnrollment, ArchivedPlanEnrollment

__all__ = [
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
