"""The invitations' public pages (DESIGN §7.5): an invitation's page, where its SMS's link
leads, and the opt-out page.

An invitation's page says what it is (who invited the number, to what), which apps handle the
service, and how to stop invitations (a button, or a STOP reply); it carries the SPINvitation
for apps that read it, also served alone (``/i/<code>/token``, or the page asked for as
``application/jose``). The opt-out page takes any number: whoever asks gets the same answer,
whether the number was invited, registered or already on the list.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.numbers import number_parse
from core.problems import Problem
from core.signed_requests import MEDIA_TYPE as JOSE
from invitations.choices import OptOutSource
from invitations.models import Invitation
from invitations.selectors import invitation_by_code, providers_handling
from invitations.services import number_opt_out
from web.throttling import throttled


def _invitation(request: HttpRequest, code: str) -> Invitation | HttpResponse:
    invitation = invitation_by_code(code)
    if invitation is None:
        return render(
            request,
            "web/not_found.html",
            {"what": "No invitation has this link, or it has expired."},
            status=404,
        )
    return invitation


@require_GET
@throttled
def invitation_page(request: HttpRequest, code: str) -> HttpResponse:
    """What the invitation is, the apps that handle its service, how to stop invitations."""
    found = _invitation(request, code)
    if isinstance(found, HttpResponse):
        return found
    token = found.spinvitation
    if request.accepts(JOSE) and not request.accepts("text/html"):
        return HttpResponse(token, content_type=JOSE)
    context = {
        "invitation": found,
        "apps": providers_handling(found.service),
        "token": token,
    }
    return render(request, "web/invitation.html", context)


@require_GET
@throttled
def invitation_token(request: HttpRequest, code: str) -> HttpResponse:
    """The invitation's SPINvitation alone (``application/jose``), for apps."""
    found = _invitation(request, code)
    if isinstance(found, HttpResponse):
        return found
    return HttpResponse(found.spinvitation, content_type=JOSE)


@require_POST
@throttled
def invitation_stop(request: HttpRequest, code: str) -> HttpResponse:
    """The invitation page's button: its number gets no more invitations."""
    found = _invitation(request, code)
    if isinstance(found, HttpResponse):
        return found
    number_opt_out(number=found.number, source=OptOutSource.INVITATION_PAGE)
    return render(request, "web/invitations_stopped.html", {})


@require_http_methods(["GET", "POST"])
@throttled
def opt_out(request: HttpRequest) -> HttpResponse:
    """A form for a number that wants no invitations; the same answer for any valid number."""
    if request.method == "GET":
        return render(request, "web/opt_out.html", {})
    try:
        phone = number_parse(request.POST.get("number", ""))
    except Problem as problem:
        return render(request, "web/opt_out.html", {"error": problem.detail}, status=400)
    number_opt_out(number=phone.e164, source=OptOutSource.PAGE)
    return render(request, "web/invitations_stopped.html", {})
