"""Every signed-in request reads its session and its user, and the progress panel its job, with one plain statement
each (lms_admin/accounts/sessions.py, backends.py, lms_admin/web/reads.py): the same answers as Django's own."""

import datetime

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from archive.models import ArchiveJob, ArchiveMode
from lms_admin.accounts.models import User
from lms_admin.web.reads import fetch_by_pk
from tests.factories import PowerUserFactory, SuperadminFactory, UserFactory

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


@pytest.fixture
def signed_in(client):
    person = SuperadminFactory(username="registrar")
    client.force_login(person, backend="lms_admin.accounts.backends.AccountBackend")
    return client, person


def test_a_signed_in_person_sees_their_pages(signed_in):
    client, _ = signed_in

    response = client.get(reverse("archive:job_list"))

    assert response.status_code == 200
    assert response.context["user"].username == "registrar"


def test_a_session_past_its_expiry_signs_the_person_out(signed_in):
    client, _ = signed_in
    Session.objects.update(expire_date=timezone.now() - datetime.timedelta(seconds=1))

    response = client.get(reverse("archive:job_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_deactivated_person_is_signed_out_at_their_next_request(signed_in):
    client, person = signed_in
    User.objects.filter(pk=person.pk).update(is_active=False)

    response = client.get(reverse("archive:job_list"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_a_changed_password_signs_the_other_sessions_out(signed_in):
    client, person = signed_in
    person.set_password("a-new-long-password")
    person.save()

    response = client.get(reverse("archive:job_list"))

    assert response.status_code == 302


def test_the_user_read_by_primary_key_is_the_one_the_orm_reads():
    manager = UserFactory(username="lead")
    person = PowerUserFactory(
        username="ward.sister",
        first_name="Ada",
        expires_on=datetime.date(2031, 5, 6),
        last_login=timezone.now(),
        merged_into=manager,
    )

    read = fetch_by_pk(User, person.pk)

    assert type(read) is User and not read._state.adding and read._state.db == "default"
    assert fields_of(read) == fields_of(User.objects.get(pk=person.pk))


@pytest.mark.parametrize("reset_tracking", [False, True, "changed"])
def test_a_job_read_by_primary_key_has_its_fields_converted_as_the_orm_does(reset_tracking):
    job = ArchiveJob.objects.create(
        mode=ArchiveMode.REENROLL,
        reset_tracking=reset_tracking,
        filters={"status": ["1", "2"], "search": "Ada"},
        counts={"archived": 3},
        total=3,
    )

    read = fetch_by_pk(ArchiveJob, job.pk)

    assert read.reset_tracking == reset_tracking
    assert read.filters == {"status": ["1", "2"], "search": "Ada"}
    assert fields_of(read) == fields_of(ArchiveJob.objects.get(pk=job.pk))


def test_a_row_that_does_not_exist_reads_as_none():
    assert fetch_by_pk(ArchiveJob, 987_654) is None


def test_the_progress_panel_of_a_job_answers_only_superadmins(signed_in):
    superadmin_client, _ = signed_in
    job = ArchiveJob.objects.create(mode=ArchiveMode.UNENROLL, total=5, processed=2)
    url = reverse("archive:job_progress", args=[job.pk])

    assert superadmin_client.get(url).status_code == 200
    assert superadmin_client.get(reverse("archive:job_progress", args=[job.pk + 1])).status_code == 404
    other = Client()
    other.force_login(PowerUserFactory(), backend="lms_admin.accounts.backends.AccountBackend")
    assert other.get(url).status_code == 404
