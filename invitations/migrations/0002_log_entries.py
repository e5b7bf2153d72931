"""Invitations point at log entries, not indices: an entry gets its index from the sequencer after
the change commits (transparency migration 0007). The values stay: every entry appended
before that migration has its index as its id."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("invitations", "0001_invitations_do_not_invite"),
        ("transparency", "0007_sequencing"),
    ]

    operations = [
        migrations.RenameField(model_name="invitation", old_name="log_index", new_name="log_entry"),
        migrations.AlterField(
            model_name="invitation",
            name="log_entry",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                help_text="The invitation's log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="invitation", old_name="handler_log_index", new_name="handler_log_entry"
        ),
        migrations.AlterField(
            model_name="invitation",
            name="handler_log_entry",
            field=models.ForeignKey(
                null=True,
                blank=True,
                db_index=False,
                editable=False,
                help_text="The log entry of the handler that accepted it",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
    ]
