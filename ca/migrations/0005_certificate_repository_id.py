"""Certificates get a repository id, their unguessable x5u name (DESIGN §7.1): the column is
added empty, then every existing certificate is given a fresh random id, in batches.

``0006`` makes the column unique and required once every row has one.
"""

import secrets

from django.db import migrations, models

# As ca.models.repository_id_new: a migration keeps its own copy, since the model may change.
REPOSITORY_ID_BYTES = 24
BATCH = 1000


def repository_ids_fill(apps, schema_editor):
    """Give every certificate without a repository id a fresh one, BATCH rows at a time."""
    Certificate = apps.get_model("ca", "Certificate")
    while True:
        pks = list(
            Certificate.objects.filter(repository_id__isnull=True)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not pks:
            return
        rows = [
            Certificate(pk=pk, repository_id=secrets.token_urlsafe(REPOSITORY_ID_BYTES))
            for pk in pks
        ]
        Certificate.objects.bulk_update(rows, ["repository_id"])


class Migration(migrations.Migration):
    dependencies = [
        ("ca", "0004_providers_app"),
    ]

    operations = [
        migrations.AddField(
            model_name="certificate",
            name="repository_id",
            field=models.CharField(editable=False, max_length=32, null=True),
        ),
        # Going back, the column is dropped: nothing to undo.
        migrations.RunPython(repository_ids_fill, migrations.RunPython.noop),
    ]
