"""Providers moved to their own app (same tables): the foreign keys point there, in state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ca", "0003_passport_seen"),
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="certificate",
                    name="provider",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="certificates",
                        to="providers.provider",
                    ),
                ),
                migrations.AlterField(
                    model_name="challenge",
                    name="provider",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="challenges",
                        to="providers.provider",
                    ),
                ),
                migrations.AlterField(
                    model_name="passportseen",
                    name="provider",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="providers.provider",
                    ),
                ),
            ],
        ),
    ]
