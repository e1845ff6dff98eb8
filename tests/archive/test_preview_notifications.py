"""The bulk preview's "Notifications to send" is what archiving then writes to the outbox, in both modes."""

import pytest

from archive.models import ArchiveMode
from archive.previews import preview_selection
from archive.services import archive_enrollments
from lms_admin.accounts.models import ManagerLink
from lms_admin.notifications.models import NotificationEvent, NotificationRule, OutboxMessage
from tests.factories import UserFactory, enroll_in_bulk, make_plan

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("mode", [ArchiveMode.REENROLL, ArchiveMode.UNENROLL])
def test_the_preview_counts_the_messages_the_archive_writes(superadmin, mode):
    plan = make_plan(courses=2, materials_per_course=1)
    learners = enroll_in_bulk(plan, 3, prefix="welder")
    ManagerLink.objects.create(manager=UserFactory(), employee_id=learners[0].user_id)
    NotificationRule.objects.filter(event=NotificationEvent.LP_ENROLLMENT_ARCHIVED).update(
        enabled=True, to_managers=True
    )
    NotificationRule.objects.filter(event=NotificationEvent.COURSE_ENROLLMENT_ARCHIVED).update(enabled=False)
    selection = plan.enrollments.all()

    preview = preview_selection(plan, selection, mode=mode, reset_tracking=False, notify=True)
    archive_enrollments(
        enrollment_ids=list(selection.values_list("pk", flat=True)), actor=superadmin, mode=mode, notify=True
    )

    assert preview.notifications == OutboxMessage.objects.count() > 3
