"""The service's URLs, but with an inclusion proof API that lies (browser tests only).

``settings.ROOT_URLCONF = "tests.web.tampered_urls"`` in a test makes the entry page's script
fetch a proof with one bit flipped: its badge must turn red.
"""

from __future__ import annotations

import base64
from typing import Any

from django.http import HttpRequest
from django.urls import path

from config.urls import urlpatterns as service_urlpatterns
from transparency.api.views import InclusionProofApi

inclusion_proof = InclusionProofApi.as_view()


def tampered_inclusion_proof(request: HttpRequest) -> Any:
    response = inclusion_proof(request)
    if response.status_code == 200 and response.data["proof"]:
        first = bytearray(base64.b64decode(response.data["proof"][0]))
        first[0] ^= 0x01
        response.data["proof"][0] = base64.b64encode(bytes(first)).decode()
    return response


# First match wins: this path shadows the real one; everything else is the service's.
urlpatterns = [
    path("v1/log/proofs/inclusion", tampered_inclusion_proof, name="tampered-inclusion-proof"),
    *service_urlpatterns,
]

handler400 = "core.problems.handler400"
handler403 = "core.problems.handler403"
handler404 = "core.problems.handler404"
handler500 = "core.problems.handler500"
