"""Revocation by the holder (JWS signed with the certificate's key) or by an operator; the CRL."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth.models import User

from ca.models import Certificate, Crl
from resolution.protocol.canonical import canonical_json
from resolution.protocol.jose import jws_sign
from tests.ca.flow import NUMBER, Holder, certificate_issued
from tests.ca.test_certificates import assert_no_number
from tests.problems import assert_problem
from tests.transparency.logdata import entry_opened
from transparency.models import Entry

pytestmark = pytest.mark.django_db


def _revocation(holder: Holder, *, key: Any = None, **claims: Any) -> str:
    payload = {"serial": holder.serial, "iat": int(time.time()), "reason": "keyCompromise"}
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    return jws_sign(
        {"alg": "ES256", "kid": holder.serial}, canonical_json(payload), key or holder.key
    )


def _revoke(client: Any, serial: str, token: str, content_type: str = "application/jose") -> Any:
    return client.post(f"/v1/certificates/{serial}/revoke", token, content_type=content_type)


def test_the_holder_revokes_with_the_certificates_key(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)

    response = _revoke(api_client, holder.serial, _revocation(holder))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "revoked"
    assert body["revocation_reason"] == "keyCompromise"
    entry = Entry.objects.get(kind="revocation")
    payload, content = entry_opened(bytes(entry.leaf_hash))
    issued = json.loads(bytes(Entry.objects.get(kind="certificate").data))
    assert payload == {
        "v": 2,
        "kind": "revocation",
        "label": issued["label"],  # a monitor finds it under the number's label
        "commitment": payload["commitment"],
        "reason": "keyCompromise",
    }
    assert content == {
        "number": NUMBER,
        "provider": provider.slug,
        "serial": holder.serial,
        "revoked_at": content["revoked_at"],
    }
    assert_no_number(bytes(entry.data), NUMBER)


def test_a_token_made_by_an_independent_jose_library_is_accepted(
    api_client: Any, provider: Any
) -> None:
    holder = certificate_issued(provider)
    token = jwt.encode(
        {"serial": holder.serial, "iat": int(time.time())}, holder.key, algorithm="ES256"
    )
    response = _revoke(api_client, holder.serial, token)
    assert response.status_code == 200, response.content
    assert response.json()["revocation_reason"] == "unspecified"


def test_the_crl_lists_a_revoked_serial(
    api_client: Any, anonymous_client: Any, provider: Any, tmp_path: Path, crl: Any
) -> None:
    holder = certificate_issued(provider)
    kept = certificate_issued(provider, "+33612345679")
    before = anonymous_client.get("/ca/crl")
    assert _revoke(api_client, holder.serial, _revocation(holder)).status_code == 200

    response = anonymous_client.get("/ca/crl")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.next_update_utc is not None
    before_number = x509.load_der_x509_crl(before.content).extensions.get_extension_for_class(
        x509.CRLNumber
    )
    number = crl.extensions.get_extension_for_class(x509.CRLNumber)
    assert number.value.crl_number > before_number.value.crl_number
    (tmp_path / "crl.der").write_bytes(response.content)
    text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "crl.der"), "-noout", "-text"],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert f"Serial Number: {holder.serial.upper()}" in text
    assert kept.serial.upper() not in text
    assert "Key Compromise" in text
    assert "Next Update" in text
    # And openssl, asked to check the CRL, refuses the revoked certificate.
    root = anonymous_client.get("/ca/root.pem").content
    (tmp_path / "root.pem").write_bytes(root)
    (tmp_path / "issuing.pem").write_text(holder.issued["chain"][0])
    (tmp_path / "crl.pem").write_bytes(
        subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-in", str(tmp_path / "crl.der")],
            capture_output=True,
            check=True,
        ).stdout
    )
    for name, who in (("revoked", holder), ("kept", kept)):
        (tmp_path / f"{name}.pem").write_text(who.issued["certificate"])
    verify = [
        "openssl",
        "verify",
        "-crl_check",
        "-CAfile",
        str(tmp_path / "root.pem"),
        "-untrusted",
        str(tmp_path / "issuing.pem"),
        "-CRLfile",
        str(tmp_path / "crl.pem"),
    ]
    revoked = subprocess.run([*verify, str(tmp_path / "revoked.pem")], capture_output=True)
    assert revoked.returncode != 0
    assert b"revoked" in revoked.stdout + revoked.stderr
    assert (
        subprocess.run([*verify, str(tmp_path / "kept.pem")], capture_output=True).returncode == 0
    )


def _unchanged(holder: Holder) -> None:
    assert Certificate.objects.get(serial=holder.serial).revoked_at is None
    assert not Entry.objects.filter(kind="revocation").exists()


def test_a_token_signed_by_another_key_is_refused(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    token = _revocation(holder, key=ec.generate_private_key(ec.SECP256R1()))
    assert_problem(_revoke(api_client, holder.serial, token), 403, "jws-signature-invalid")
    _unchanged(holder)


def test_another_certificates_key_cannot_revoke(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    other = certificate_issued(provider, "+33612345679")
    # Signed by the other holder, naming the victim's serial.
    token = _revocation(holder, key=other.key)
    assert_problem(_revoke(api_client, holder.serial, token), 403, "jws-signature-invalid")
    # Signed correctly for its own certificate, sent to another's URL.
    token = _revocation(other)
    assert_problem(_revoke(api_client, holder.serial, token), 400, "jws-payload-mismatch")
    _unchanged(holder)


# Past the five minutes by a margin a slow machine cannot eat between signing and checking.
@pytest.mark.parametrize("skew", [-330, 330, 86400])
def test_a_stale_token_is_refused(api_client: Any, provider: Any, skew: int) -> None:
    holder = certificate_issued(provider)
    token = _revocation(holder, iat=int(time.time()) + skew)
    assert_problem(_revoke(api_client, holder.serial, token), 400, "jws-stale")
    _unchanged(holder)


@pytest.mark.parametrize(
    "claims",
    [{"serial": "0" * 32}, {"iat": "now"}, {"iat": None}, {"reason": "because"}],
    ids=["serial", "iat-text", "no-iat", "reason"],
)
def test_a_token_with_a_bad_payload_is_refused(
    api_client: Any, provider: Any, claims: dict[str, Any]
) -> None:
    holder = certificate_issued(provider)
    response = _revoke(api_client, holder.serial, _revocation(holder, **claims))
    assert response.status_code == 400
    _unchanged(holder)


@pytest.mark.parametrize(
    "token",
    ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ9.", "é"],
)
def test_a_malformed_token_is_refused(api_client: Any, provider: Any, token: str) -> None:
    holder = certificate_issued(provider)
    assert_problem(_revoke(api_client, holder.serial, token), 400, "jws-malformed")
    _unchanged(holder)


def test_a_json_body_is_the_wrong_media_type(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    response = _revoke(
        api_client, holder.serial, json.dumps({"token": _revocation(holder)}), "application/json"
    )
    assert_problem(response, 415, "unsupported-media-type")
    _unchanged(holder)


def test_a_certificate_is_revoked_once(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    assert _revoke(api_client, holder.serial, _revocation(holder)).status_code == 200
    assert_problem(
        _revoke(api_client, holder.serial, _revocation(holder)), 409, "certificate-revoked"
    )
    assert Entry.objects.filter(kind="revocation").count() == 1


def test_an_unknown_certificate_cannot_be_revoked(api_client: Any, provider: Any) -> None:
    holder = certificate_issued(provider)
    token = _revocation(holder, serial="f" * 32)
    assert_problem(_revoke(api_client, "f" * 32, token), 404, "certificate-not-found")


def test_an_operator_revokes_from_the_admin(api_client: Any, provider: Any, client: Any) -> None:
    holder = certificate_issued(provider)
    admin = User.objects.create_superuser("operator", "op@example.net", "pw")
    client.force_login(admin)
    certificate = Certificate.objects.get(serial=holder.serial)

    asked = client.post(
        "/admin/ca/certificate/", {"action": "revoke", "_selected_action": [certificate.pk]}
    )
    # First a page that says what will be revoked, and asks for a reason: nothing changed yet.
    assert asked.status_code == 200
    assert holder.serial.encode() in asked.content and b"Yes, revoke" in asked.content
    assert Certificate.objects.get(pk=certificate.pk).revoked_at is None
    without_note = client.post(
        "/admin/ca/certificate/",
        {"action": "revoke", "_selected_action": [certificate.pk], "confirm": "yes"},
    )
    assert b"This field is required" in without_note.content
    assert Certificate.objects.get(pk=certificate.pk).revoked_at is None

    response = client.post(
        "/admin/ca/certificate/",
        {
            "action": "revoke",
            "_selected_action": [certificate.pk],
            "confirm": "yes",
            "reason": "keyCompromise",
            "note": "the holder's phone was stolen",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert b"Revoked 1 certificate" in response.content
    certificate.refresh_from_db()
    assert certificate.revocation_reason == "keyCompromise"
    assert Entry.objects.filter(kind="revocation").count() == 1
    crl = x509.load_der_x509_crl(bytes(Crl.objects.order_by("-number").first().der))  # type: ignore[union-attr]
    assert crl.get_revoked_certificate_by_serial_number(int(holder.serial, 16)) is not None


def test_the_crl_is_renewed_before_it_runs_out(anonymous_client: Any, crl: Any) -> None:
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    from ca.tasks import crl_refresh

    first = x509.load_der_x509_crl(anonymous_client.get("/ca/crl").content)
    crl_refresh.delay()  # fresh: nothing to do
    assert Crl.objects.count() == 1
    with time_machine.travel(timezone.now() + timedelta(hours=12, seconds=1)):
        crl_refresh.delay()  # past half its life: a new one
        renewed = x509.load_der_x509_crl(anonymous_client.get("/ca/crl").content)
    assert Crl.objects.count() == 2
    assert renewed.next_update_utc is not None and first.next_update_utc is not None
    assert renewed.next_update_utc > first.next_update_utc
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        crl_refresh.delay()  # a week later the old ones are dropped
    assert Crl.objects.count() == 1
