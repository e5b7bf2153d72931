"""API keys get a scope (providers.choices.Scope). Every key made before scopes existed could do
everything, so each becomes an ``admin`` key: nobody is locked out. Keys made from now on name
their scope; the column keeps no default."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="scope",
            field=models.CharField(
                choices=[
                    ("lookup", "lookup: look up numbers and labels, verify PASSporTs"),
                    (
                        "directory",
                        "directory: also verify numbers, hold certificates, publish handlers",
                    ),
                    ("admin", "admin: also manage the provider's API keys"),
                ],
                default="admin",
                help_text="What the key may do; set at creation.",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.CheckConstraint(
                condition=models.Q(("scope__in", ["lookup", "directory", "admin"])),
                name="directory_apikey_scope_known",
            ),
        ),
    ]
