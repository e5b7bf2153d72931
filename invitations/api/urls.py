from django.urls import path

from invitations.api.views import (
    InvitationApi,
    InvitationKeysApi,
    InvitationsApi,
    TwilioInboundApi,
)

# Under /v1/.
urlpatterns = [
    path("invitations", InvitationsApi.as_view(), name="invitations"),
    path("invitations/<uuid:invitation_id>", InvitationApi.as_view(), name="invitation"),
    path("twilio/inbound", TwilioInboundApi.as_view(), name="twilio-inbound"),
]

# Public, at the root.
keys_urlpatterns = [
    path("invitations/keys", InvitationKeysApi.as_view(), name="invitation-keys"),
]
