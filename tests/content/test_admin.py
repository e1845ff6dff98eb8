"""SPEC §13 in the Django admin: a material's content_changed_at moves only with the explicit "Substantive change"
tick or the admin action for many; a typo fix leaves it alone."""

from __future__ import annotations

import pytest
from django.urls import reverse

from enrollments.models import TrainingMaterial
from tests.factories import TrainingMaterialFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def edit(client, material, **changes):
    form = {"course": material.course_id, "position": material.position, "title": material.title, "kind": material.kind}
    answer = client.post(reverse("admin:enrollments_trainingmaterial_change", args=[material.pk]), {**form, **changes})
    assert answer.status_code == 302, answer.content.decode()[-1500:]
    return TrainingMaterial.objects.get(pk=material.pk)


def test_a_typo_fix_leaves_the_material_unchanged_for_learners(root):
    material = TrainingMaterialFactory(title="Saftey")
    assert edit(root, material, title="Safety").content_changed_at is None


def test_the_substantive_change_tick_dates_the_change(root):
    material = TrainingMaterialFactory(title="Safety")
    edited = edit(root, material, title="Safety (2026 rules)", substantive_change="on")
    assert edited.content_changed_at is not None and edited.title == "Safety (2026 rules)"


def test_the_admin_action_marks_many_materials_at_once(root):
    marked = [TrainingMaterialFactory() for _ in range(3)]
    untouched = TrainingMaterialFactory()
    answer = root.post(
        reverse("admin:enrollments_trainingmaterial_changelist"),
        {"action": "mark_substantively_changed", "_selected_action": [m.pk for m in marked]},
    )
    assert answer.status_code == 302
    assert TrainingMaterial.objects.filter(content_changed_at__isnull=False).count() == 3
    assert TrainingMaterial.objects.get(pk=untouched.pk).content_changed_at is None
