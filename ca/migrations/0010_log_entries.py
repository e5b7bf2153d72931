"""Certificates, requests and disputes point at log entries, not indices: an entry gets its index from the sequencer after
the change commits (transparency migration 0007). The values stay: every entry appended
before that migration has its index as its id."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ca", "0009_challenge_cancelled"),
        ("transparency", "0007_sequencing"),
    ]

    operations = [
        migrations.RenameField(
            model_name="certificate", old_name="log_index", new_name="log_entry"
        ),
        migrations.AlterField(
            model_name="certificate",
            name="log_entry",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                help_text="The certificate's log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="certificate",
            old_name="revocation_log_index",
            new_name="revocation_log_entry",
        ),
        migrations.AlterField(
            model_name="certificate",
            name="revocation_log_entry",
            field=models.ForeignKey(
                null=True,
                blank=True,
                db_index=False,
                editable=False,
                help_text="The revocation's log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="certificate", old_name="lock_log_index", new_name="lock_log_entry"
        ),
        migrations.AlterField(
            model_name="certificate",
            name="lock_log_entry",
            field=models.ForeignKey(
                null=True,
                blank=True,
                db_index=False,
                editable=False,
                help_text="The lock's log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="certificaterequest", old_name="log_index", new_name="log_entry"
        ),
        migrations.AlterField(
            model_name="certificaterequest",
            name="log_entry",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                help_text="The request's log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="certificaterequest",
            old_name="closed_log_index",
            new_name="closed_log_entry",
        ),
        migrations.AlterField(
            model_name="certificaterequest",
            name="closed_log_entry",
            field=models.ForeignKey(
                null=True,
                blank=True,
                db_index=False,
                editable=False,
                help_text="The log entry that closed it",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(model_name="dispute", old_name="log_index", new_name="log_entry"),
        migrations.AlterField(
            model_name="dispute",
            name="log_entry",
            field=models.ForeignKey(
                db_index=False,
                editable=False,
                help_text="The dispute's log entry",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        migrations.RenameField(
            model_name="dispute", old_name="closed_log_index", new_name="closed_log_entry"
        ),
        migrations.AlterField(
            model_name="dispute",
            name="closed_log_entry",
            field=models.ForeignKey(
                null=True,
                blank=True,
                db_index=False,
                editable=False,
                help_text="The log entry that closed it",
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="transparency.entry",
            ),
        ),
        # The renamed columns keep their constraints and indices in the database (PostgreSQL
        # renames the references): only the state learns the new names.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="certificate",
                    name="ca_certificate_revocation_complete",
                ),
                migrations.RemoveConstraint(
                    model_name="certificate",
                    name="ca_certificate_lock_complete",
                ),
                migrations.RemoveConstraint(
                    model_name="certificaterequest",
                    name="ca_request_closed_complete",
                ),
                migrations.AddConstraint(
                    model_name="certificate",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            ("revoked_at__isnull", True),
                            models.Q(
                                models.Q(("revocation_reason", ""), _negated=True),
                                ("revocation_log_entry__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="ca_certificate_revocation_complete",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="certificate",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("lock_log_entry__isnull", True), ("locked_at__isnull", True)),
                            models.Q(
                                ("lock_log_entry__isnull", False), ("locked_at__isnull", False)
                            ),
                            _connector="OR",
                        ),
                        name="ca_certificate_lock_complete",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="certificaterequest",
                    constraint=models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("closed_at__isnull", True),
                                ("closed_log_entry__isnull", True),
                                ("status", "pending"),
                            ),
                            models.Q(
                                models.Q(("status", "pending"), _negated=True),
                                ("closed_at__isnull", False),
                                ("closed_log_entry__isnull", False),
                            ),
                            _connector="OR",
                        ),
                        name="ca_request_closed_complete",
                    ),
                ),
            ],
        ),
    ]
