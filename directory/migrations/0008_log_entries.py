"""Handlers and handler requests point at log entries, not indices: an entry gets its index from the sequencer after
the change commits (transparency migration 0007). The values stay: every entry appended
before that migration has its index as its id."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("directory", "0007_handler_request_answers"),
        ("transparency", "0007_sequencing"),
    ]

    operations = [
        migrations.RenameField(model_name="handler", old_name="log_index", new_name="log_entry"),
        migrations.AlterField(
            model_name="handler",
            name="log_entry",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                help_text="The handler's latest log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="handlerrequest", old_name="log_index", new_name="log_entry"
        ),
        migrations.AlterField(
            model_name="handlerrequest",
            name="log_entry",
            field=models.ForeignKey(
                null=True,
                blank=True,
                db_index=False,
                editable=False,
                help_text="The entry the change made (none for a history read)",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        # The renamed columns keep their constraints and indices in the database (PostgreSQL
        # renames the references): only the state learns the new names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="handler",
                    name="directory_handler_proof_due",
                ),
                migrations.AddIndex(
                    model_name="handler",
                    index=models.Index(
                        condition=models.Q(("tile_proof__isnull", True)),
                        fields=["log_entry"],
                        name="directory_handler_proof_due",
                    ),
                ),
            ],
        ),
    ]
