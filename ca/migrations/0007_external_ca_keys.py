"""Name the CAs of external certificates and CRLs by key, not by name (ca.selectors.ca_key_sha256).

Kept certificates get the SHA-256 of their issuing CA's public key, from the CA certificate
kept beside them. Kept CRLs become one per root and URL; one that was verified keeps the key
of the issuing CA that verifies it, else it is kept unverified and checked at each use, and
the next refresh verifies it again (a CRL the root itself signed, for instance).
"""

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import migrations, models


def _key_sha256(certificate):
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).digest()


def _signed_by(crl, ca):
    try:
        return crl.issuer == ca.subject and crl.is_signature_valid(ca.public_key())
    except TypeError:  # a key type that cannot sign CRLs
        return False


def keys_fill(apps, schema_editor):
    certificates = apps.get_model("ca", "ExternalCertificate")
    crls = apps.get_model("ca", "ExternalCrl")
    issuers = {}  # root -> its issuing CAs seen
    for row in certificates.objects.all():
        issuer = x509.load_der_x509_certificate(bytes(row.issuer_der))
        row.issuer_key_sha256 = _key_sha256(issuer)
        row.save(update_fields=["issuer_key_sha256"])
        issuers.setdefault(row.root, {})[row.issuer_key_sha256] = issuer
    kept = set()
    for row in crls.objects.order_by("-this_update"):
        if (row.root, row.url) in kept:  # one per root and URL from now on: the newest
            row.delete()
            continue
        kept.add((row.root, row.url))
        if row.verified:
            crl = x509.load_der_x509_crl(bytes(row.der))
            signers = [ca for ca in issuers.get(row.root, {}).values() if _signed_by(crl, ca)]
            row.issuer_key_sha256 = _key_sha256(signers[0]) if signers else None
            row.save(update_fields=["issuer_key_sha256"])


def names_fill(apps, schema_editor):
    certificates = apps.get_model("ca", "ExternalCertificate")
    for row in certificates.objects.all():
        issuer = x509.load_der_x509_certificate(bytes(row.issuer_der))
        row.issuer_sha256 = hashlib.sha256(issuer.subject.public_bytes()).digest()
        row.save(update_fields=["issuer_sha256"])


def crls_forget(apps, schema_editor):
    """Back to one CRL per issuer name: drop the kept ones; the next refresh fetches them."""
    apps.get_model("ca", "ExternalCrl").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ca", "0006_certificate_repository_id_unique"),
    ]

    operations = [
        migrations.AddField(
            model_name="externalcertificate",
            name="issuer_key_sha256",
            field=models.BinaryField(
                editable=False,
                help_text="SHA-256 of the issuing CA's public key (SubjectPublicKeyInfo), from the path",
                max_length=32,
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="externalcrl",
            name="issuer_key_sha256",
            field=models.BinaryField(
                editable=False,
                help_text="SHA-256 of the public key that verified its signature; none until one did",
                max_length=32,
                null=True,
            ),
        ),
        migrations.RunPython(keys_fill, names_fill),
        migrations.AlterField(
            model_name="externalcertificate",
            name="issuer_key_sha256",
            field=models.BinaryField(
                editable=False,
                help_text="SHA-256 of the issuing CA's public key (SubjectPublicKeyInfo), from the path",
                max_length=32,
            ),
        ),
        migrations.RemoveIndex(
            model_name="externalcertificate",
            name="ca_external_issuer_serial",
        ),
        migrations.RemoveField(
            model_name="externalcertificate",
            name="issuer_sha256",
        ),
        migrations.RemoveField(
            model_name="externalcrl",
            name="issuer_sha256",
        ),
        migrations.RemoveField(
            model_name="externalcrl",
            name="verified",
        ),
        # Undone first when migrating back, before the unique issuer name returns.
        migrations.RunPython(migrations.RunPython.noop, crls_forget),
        migrations.AddIndex(
            model_name="externalcertificate",
            index=models.Index(
                fields=["issuer_key_sha256", "serial"], name="ca_external_issuer_key_serial"
            ),
        ),
        migrations.AddIndex(
            model_name="externalcrl",
            index=models.Index(fields=["issuer_key_sha256"], name="ca_external_crl_issuer_key"),
        ),
        migrations.AddConstraint(
            model_name="externalcrl",
            constraint=models.UniqueConstraint(
                fields=("root", "url"), name="ca_external_crl_one_per_url"
            ),
        ),
    ]
