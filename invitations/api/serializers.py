"""Serializers of the invitations API: one output shape per operation (the inputs are JWS)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from invitations.choices import InvitationStatus, SmsStatus
from invitations.models import Invitation
from invitations.selectors import link
from transparency.api.serializers import WriteOutput, log_index_field


class InvitationOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    to = serializers.CharField(source="number", help_text="E.164: the invited number")
    inviter = serializers.CharField(help_text="E.164: the inviting certificate's number")
    service = serializers.CharField()
    status = serializers.ChoiceField(
        choices=InvitationStatus.choices,
        help_text="open until the number publishes a handler of the service that the caller "
        "may see (accepted: the webhook invitation.accepted was sent) or until it expires",
    )
    sms = serializers.ChoiceField(
        source="sms_status", choices=SmsStatus.values, help_text="Where the invitation's SMS is"
    )
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField(allow_null=True)
    handler_log_index = log_index_field("handler_log_entry", "The accepting handler's entry")
    log_index = log_index_field("log_entry", "The invitation's entry")
    link = serializers.SerializerMethodField(help_text="The invitation's page, as its SMS gives it")
    spinvitation = serializers.CharField(
        help_text="The SPINvitation: a compact JWS signed by the service (docs/invitations.md)"
    )

    def get_link(self, invitation: Invitation) -> str:
        return link(invitation)


class InvitationSentOutput(InvitationOutput, WriteOutput):
    """An invitation just sent, with its entry."""


class InvitationListOutput(serializers.Serializer[Any]):
    results = InvitationOutput(many=True)


class JwkOutput(serializers.Serializer[Any]):
    kty = serializers.CharField()
    crv = serializers.CharField()
    x = serializers.CharField()
    y = serializers.CharField()
    kid = serializers.CharField(help_text="RFC 7638 thumbprint: the SPINvitation header's kid")
    use = serializers.CharField()
    alg = serializers.CharField()


class JwksOutput(serializers.Serializer[Any]):
    keys = JwkOutput(many=True)
