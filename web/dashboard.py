"""The operator dashboard, in the admin (staff only: ``admin.site.admin_view`` guards it).

Challenges sent, verified and failed per hour and per country, the commonest delivery errors,
certificates issued and revoked, the valid ones that end within 7 days, lookups per provider,
the log's merge delay and backlog, and each witness's lag and last error (web.figures); and the
disputes waiting on the operator's queue. Counts only: no number, code or key is shown.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from ca.selectors import certificates_ending_count, disputes_open_count
from invitations.selectors import invitation_figures
from web.figures import DASHBOARD_PERIODS, dashboard_figures

MERGE_DELAY_LIMIT_SECONDS = 10  # DESIGN §4.2: never more than 10 s
# A checkpoint waiting longer than this for the witnesses' quorum raises the alarm: clients
# that enforce the policy see nothing newer meanwhile.
QUORUM_LAG_LIMIT_SECONDS = 10
# Certificates ending this soon are shown: each one not renewed takes its handlers with it.
ENDING_SOON = timedelta(days=7)


def dashboard(request: HttpRequest) -> HttpResponse:
    period = DASHBOARD_PERIODS.get(request.GET.get("period", ""), DASHBOARD_PERIODS["24h"])
    context = {
        **admin.site.each_context(request),
        "title": "Operator dashboard",
        "figures": dashboard_figures(period),
        "period": period,
        "periods": list(DASHBOARD_PERIODS.values()),
        "merge_delay_limit": MERGE_DELAY_LIMIT_SECONDS,
        "quorum_lag_limit": QUORUM_LAG_LIMIT_SECONDS,
        "disputes_open": disputes_open_count(),
        "certificates_ending": certificates_ending_count(within=ENDING_SOON),
        "ending_days": ENDING_SOON.days,
        # Invitations sent, accepted and refused, opt-outs, and their SMS cost (DESIGN §7.5).
        "invitations": invitation_figures(since=period.starts(timezone.now())[0]),
    }
    return TemplateResponse(request, "admin/dashboard.html", context)
