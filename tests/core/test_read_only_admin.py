"""Records that only services change are read only in the admin, in every app (core.admin)."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin

from ca.models import Crl
from core.admin import ReadOnlyAdminMixin

pytestmark = pytest.mark.django_db

READ_ONLY = {
    "ca.Challenge",
    "ca.ChallengeVolume",
    "ca.Certificate",
    "ca.CertificateRequest",
    "ca.Dispute",
    "ca.Crl",
    "ca.ExternalCertificate",
    "ca.ExternalCrl",
    "directory.Handler",
    "federation.Advertisement",
    "invitations.Invitation",
    "invitations.DoNotInvite",
    "invitations.RefusalCount",
    "outbox.Message",
    "transparency.Entry",
    "transparency.Checkpoint",
    "webhooks.Endpoint",
    "webhooks.Delivery",
}


def test_the_records_services_own_are_read_only_for_everyone(rf: Any, admin_user: Any) -> None:
    request = rf.get("/admin/")
    request.user = admin_user  # a superuser: the admins, not the permissions, refuse
    read_only = {
        model._meta.label: model_admin
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, ReadOnlyAdminMixin)
    }

    assert set(read_only) == READ_ONLY
    for model_admin in read_only.values():
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert model_admin.has_view_permission(request)


def test_a_crl_is_shown_and_cannot_be_changed(admin_client: Any, crl: Crl) -> None:
    page = admin_client.get(f"/admin/ca/crl/{crl.pk}/change/")
    assert page.status_code == 200
    assert b'name="number"' not in page.content  # shown, not an input
    assert str(crl.number).encode() in page.content
    assert admin_client.post(f"/admin/ca/crl/{crl.pk}/change/", {"number": 9}).status_code == 403
    assert admin_client.post(f"/admin/ca/crl/{crl.pk}/delete/").status_code == 403
    assert admin_client.get("/admin/ca/crl/add/").status_code == 403
    crl.refresh_from_db()
    assert crl.number == 1
