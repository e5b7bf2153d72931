from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_more_event_types"),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="event",
            name="webhooks_event_type",
        ),
        migrations.AlterField(
            model_name="event",
            name="type",
            field=models.CharField(
                choices=[
                    ("certificate.requested", "a certificate for the number waits on a lock"),
                    (
                        "certificate.request_closed",
                        "a held certificate request was approved, refused, or issued",
                    ),
                    ("certificate.issued", "a certificate for the number was issued"),
                    ("certificate.revoked", "a certificate for the number was revoked"),
                    ("dispute.opened", "a holder disputed a certificate for the number"),
                    (
                        "dispute.closed",
                        "a dispute was closed: the certificate revoked, or the dispute dismissed",
                    ),
                    ("handler.changed", "a handler of the number was published or removed"),
                    (
                        "invitation.accepted",
                        "a number the provider invited published a handler of the service that it may see",
                    ),
                ],
                max_length=64,
            ),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "type__in",
                        [
                            "certificate.requested",
                            "certificate.request_closed",
                            "certificate.issued",
                            "certificate.revoked",
                            "dispute.opened",
                            "dispute.closed",
                            "handler.changed",
                            "invitation.accepted",
                        ],
                    )
                ),
                name="webhooks_event_type",
            ),
        ),
    ]
