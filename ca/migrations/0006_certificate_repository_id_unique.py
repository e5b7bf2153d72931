"""Every certificate now has a repository id (0005): it becomes required and unique, and new
certificates get one from ``ca.models.repository_id_new``."""

from django.db import migrations, models

import ca.models


class Migration(migrations.Migration):
    dependencies = [
        ("ca", "0005_certificate_repository_id"),
    ]

    operations = [
        migrations.AlterField(
            model_name="certificate",
            name="repository_id",
            field=models.CharField(
                default=ca.models.repository_id_new,
                editable=False,
                help_text="The certificate's unguessable name in the repository: its x5u, not its serial",
                max_length=32,
                unique=True,
            ),
        ),
    ]
