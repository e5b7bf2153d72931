"""Providers moved to their own app (same tables): the foreign keys point there, in state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ca", "0004_providers_app"),
        ("directory", "0005_lookup_counts"),
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.AlterField(
                    model_name="lookupcount",
                    name="provider",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="providers.provider",
                    ),
                ),
                migrations.AlterField(
                    model_name="handler",
                    name="provider",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="handlers",
                        to="providers.provider",
                    ),
                ),
                migrations.DeleteModel(
                    name="ApiKey",
                ),
                migrations.DeleteModel(
                    name="Provider",
                ),
            ],
        ),
    ]
