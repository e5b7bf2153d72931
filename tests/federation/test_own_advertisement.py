"""This service's own range advertisement (DESIGN §7.4): a range certificate for the served
blocks (offline root in production, the development root at bootstrap), the advertisement
signed with its key, logged, re-signed when due, served at /.well-known/rs-advertisement; a
service whose range certificate is missing or too narrow refuses to start."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography import x509
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.utils import timezone

from ca.authority import ADVERTISEMENT_KEY_FILE, RANGE_CERTIFICATE_FILE, ROOT_KEY_FILE, ca_keys
from core.health import keys_open
from federation.keys import advertisement_keys, advertisement_keys_bootstrap
from federation.models import Advertisement
from federation.services import advertisement_renew
from resolution.protocol.advertisements import advertisement_verify, block_parse
from resolution.protocol.entries import AdvertisementEntry, entry_parse
from resolution.protocol.tnauthlist import TN_AUTH_LIST_OID, decode_tn_auth_list
from tests.api_client import committed
from tests.problems import assert_problem
from transparency.models import Entry

pytestmark = pytest.mark.django_db

SERVED = ["1-33612000000-1000000", "2-33698765432"]
WEEK = timedelta(days=7)


@pytest.fixture
def served(settings: Any) -> None:
    settings.RS_SERVED_RANGES = SERVED
    advertisement_keys_bootstrap()


def _verified(token: str) -> Any:
    return advertisement_verify(
        token, [ca_keys().root], at=timezone.now(), max_age=WEEK, https_only=False
    )


@pytest.mark.usefixtures("served")
def test_the_range_certificate_names_the_served_blocks_and_chains_to_the_root() -> None:
    keys = advertisement_keys()
    assert keys is not None
    extension = keys.certificate.extensions.get_extension_for_oid(
        x509.ObjectIdentifier(TN_AUTH_LIST_OID)
    )
    tn_auth_list = decode_tn_auth_list(extension.value.value)  # type: ignore[attr-defined]
    assert tuple(tn_auth_list.ranges) == (("33612000000", 1000000),)
    assert tuple(tn_auth_list.numbers) == ("33698765432",)
    assert keys.certificate.issuer == ca_keys().root.subject
    assert "PRIVATE" not in repr(keys)


@pytest.mark.usefixtures("served")
def test_the_advertisement_is_signed_logged_and_verifies_under_the_root(settings: Any) -> None:
    advertisement = advertisement_renew()
    assert advertisement is not None

    verified = _verified(advertisement.token)
    assert {block.key(): url for block, url in verified.entries.items()} == {
        name: settings.RS_PUBLIC_URL for name in SERVED
    }
    # x5c: the range certificate alone; the root is the verifier's own.
    assert verified.certificate.subject != ca_keys().root.subject
    entry = entry_parse(bytes(Entry.objects.get(pk=advertisement.entry_id).data))
    assert entry == AdvertisementEntry(
        advertisement_sha256=hashlib.sha256(advertisement.token.encode()).hexdigest(),
        issued_at=advertisement.issued_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ranges=" ".join(SERVED),
        url=settings.RS_PUBLIC_URL,
    )


@pytest.mark.usefixtures("served")
def test_it_is_signed_anew_once_a_day_and_when_the_ranges_change(settings: Any) -> None:
    first = advertisement_renew()
    assert advertisement_renew() == first  # not due: nothing signed, nothing logged
    assert Entry.objects.filter(kind="advertisement").count() == 1

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        second = advertisement_renew()
    assert second is not None and second != first

    settings.RS_SERVED_RANGES = ["1-33612000000-1000"]  # covered by the certificate still
    third = advertisement_renew()
    assert third is not None and third.ranges == "1-33612000000-1000"
    assert Entry.objects.filter(kind="advertisement").count() == 3


@pytest.mark.usefixtures("served")
def test_the_advertisement_is_served_at_the_well_known_path(anonymous_client: Any) -> None:
    response = anonymous_client.get("/.well-known/rs-advertisement")
    assert_problem(response, 404, "advertisement-not-found")  # not signed yet

    advertisement = advertisement_renew()
    assert advertisement is not None
    response = anonymous_client.get("/.well-known/rs-advertisement")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jose"
    assert response.content.decode() == advertisement.token


def test_a_service_that_serves_every_number_has_no_advertisement(
    anonymous_client: Any, settings: Any
) -> None:
    settings.RS_SERVED_RANGES = []
    assert advertisement_keys() is None and advertisement_renew() is None

    response = anonymous_client.get("/.well-known/rs-advertisement")

    assert_problem(response, 404, "advertisement-not-found")
    assert not Advertisement.objects.exists()


def test_a_service_without_its_range_certificate_refuses_to_start(
    settings: Any, tmp_path: Path
) -> None:
    settings.RS_SERVED_RANGES = SERVED
    settings.RS_KEY_DIR = tmp_path
    with pytest.raises(ImproperlyConfigured, match="no range certificate"):
        keys_open()


@pytest.mark.usefixtures("served")
def test_a_range_certificate_that_does_not_cover_the_served_blocks_stops_the_start(
    settings: Any,
) -> None:
    settings.RS_CA_CREATE_ON_BOOTSTRAP = False
    settings.RS_SERVED_RANGES = ["1-33612000000-2000000"]
    with pytest.raises(ImproperlyConfigured, match="does not cover 1-33612000000-2000000"):
        keys_open()
    with pytest.raises(ImproperlyConfigured, match="does not cover"):
        advertisement_keys_bootstrap()

    # In development, bootstrap signs a new one with the development root.
    settings.RS_CA_CREATE_ON_BOOTSTRAP = True
    assert "created" in advertisement_keys_bootstrap()
    keys_open()


def test_the_offline_root_signs_a_range_certificate_for_the_service(
    settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    settings.RS_ROOT_KEY_PASSPHRASE = "the-root-keys-own-passphrase"
    monkeypatch.setenv("RS_KEY_PASSPHRASE", settings.RS_KEY_PASSPHRASE)
    root, issued = tmp_path / "root", tmp_path / "issued"
    call_command("ca_init", "--offline-root", str(root))
    ranges = "1-33612000000-1000000,2-33698765432"
    call_command(
        "ca_issue_range", "--offline-root", str(root), "--key-dir", str(issued), "--ranges", ranges
    )

    assert ROOT_KEY_FILE not in {path.name for path in issued.iterdir()}
    certificate = x509.load_pem_x509_certificate((issued / RANGE_CERTIFICATE_FILE).read_bytes())
    root_certificate = x509.load_pem_x509_certificate((root / "ca-root.pem").read_bytes())
    certificate.verify_directly_issued_by(root_certificate)
    assert b"ENCRYPTED" in (issued / ADVERTISEMENT_KEY_FILE).read_bytes()
    with pytest.raises(CommandError, match="already"):
        call_command(
            "ca_issue_range",
            "--offline-root",
            str(root),
            "--key-dir",
            str(issued),
            "--ranges",
            ranges,
        )
    with pytest.raises(CommandError, match="overlap"):
        call_command(
            "ca_issue_range",
            *("--offline-root", str(root), "--key-dir", str(issued)),
            *("--ranges", "1-33612000000-1000000,2-33612000001", "--replace"),
        )
    assert block_parse("2-33698765432").contains("+33698765432")


@pytest.mark.usefixtures("served")
def test_the_explorer_shows_an_advertisement_by_its_ranges_and_url(client: Any) -> None:
    with committed():
        advertisement = advertisement_renew()
    assert advertisement is not None

    response = client.get(f"/explorer/entries/{Entry.objects.get(pk=advertisement.entry_id).index}")

    content = response.content.decode()
    assert response.status_code == 200
    assert "1-33612000000-1000000" in content and "http://testserver" in content
    assert advertisement.token_sha256.hex() in content


def test_an_advertisement_signed_too_rarely_for_its_accepted_age_is_warned(settings: Any) -> None:
    from federation.checks import advertisement_ages_check

    assert advertisement_ages_check() == []
    settings.RS_ADVERTISEMENT_RESIGN_SECONDS = 4 * 86400
    assert [warning.id for warning in advertisement_ages_check()] == ["rs.W010"]


@pytest.mark.usefixtures("served")
def test_the_admin_shows_the_advertisements_and_changes_none(admin_client: Any) -> None:
    advertisement = advertisement_renew()
    assert advertisement is not None

    page = admin_client.get(f"/admin/federation/advertisement/{advertisement.pk}/change/")

    assert page.status_code == 200
    assert advertisement.token in page.content.decode()
    assert b"PRIVATE KEY" not in page.content
    assert admin_client.get("/admin/federation/advertisement/add/").status_code == 403
