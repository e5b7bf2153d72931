"""Providers and API keys move here from the directory app: their tables stay as they are
(``db_table``), so this changes Django's state only, and the admin's content types (with their
permissions and history) follow the models."""

import django.db.models.deletion
import django.db.models.functions.datetime
import django.db.models.functions.text
import django.db.models.lookups
from django.db import migrations, models

MODELS = ("provider", "apikey")


def _content_types_move(apps, from_app, to_app):
    ContentType = apps.get_model("contenttypes", "ContentType")
    taken = ContentType.objects.filter(app_label=to_app).values_list("model", flat=True)
    ContentType.objects.filter(app_label=from_app, model__in=MODELS).exclude(
        model__in=list(taken)
    ).update(app_label=to_app)


def content_types_follow(apps, schema_editor):
    _content_types_move(apps, "directory", "providers")


def content_types_return(apps, schema_editor):
    _content_types_move(apps, "providers", "directory")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("directory", "0005_lookup_counts"),
    ]

    operations = [
        migrations.RunPython(content_types_follow, content_types_return),
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Provider",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("slug", models.SlugField(max_length=64, unique=True)),
                        ("name", models.CharField(max_length=200)),
                        (
                            "is_active",
                            models.BooleanField(
                                default=True, help_text="An inactive provider's keys are refused."
                            ),
                        ),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now(), editable=False
                            ),
                        ),
                    ],
                    options={
                        "db_table": "directory_provider",
                        "ordering": ["slug"],
                    },
                ),
                migrations.CreateModel(
                    name="ApiKey",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "prefix",
                            models.CharField(
                                help_text="The first characters, to recognise a key.", max_length=16
                            ),
                        ),
                        ("key_hash", models.BinaryField(max_length=32, unique=True)),
                        ("label", models.CharField(blank=True, max_length=100)),
                        (
                            "created_at",
                            models.DateTimeField(
                                db_default=django.db.models.functions.datetime.Now(), editable=False
                            ),
                        ),
                        (
                            "last_used_at",
                            models.DateTimeField(blank=True, editable=False, null=True),
                        ),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        (
                            "provider",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="api_keys",
                                to="providers.provider",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "API key",
                        "db_table": "directory_apikey",
                        "ordering": ["-created_at"],
                        "constraints": [
                            models.CheckConstraint(
                                condition=django.db.models.lookups.Exact(
                                    django.db.models.functions.text.Length("key_hash"), 32
                                ),
                                name="directory_apikey_hash_32_bytes",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
