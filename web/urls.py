from django.contrib import admin
from django.urls import path

from web import dashboard, invitations, views

urlpatterns = [
    path("", views.home, name="web-home"),
    path("docs/", views.guide_index, name="web-guides"),
    path("docs/<slug:name>/", views.guide, name="web-guide"),
    path("explorer/", views.explorer, name="web-explorer"),
    path("explorer/entries/", views.entries, name="web-entries"),
    path("explorer/entries/<int:index>", views.entry, name="web-entry"),
    # An invitation's SMS links here: short, the code unguessable (invitations.models).
    path("i/<str:code>", invitations.invitation_page, name="web-invitation"),
    path("i/<str:code>/token", invitations.invitation_token, name="web-invitation-token"),
    path("i/<str:code>/stop", invitations.invitation_stop, name="web-invitation-stop"),
    path("invitations/stop", invitations.opt_out, name="web-opt-out"),
]

# Mounted before the admin's own URLs: staff only, as every admin page.
admin_urlpatterns = [
    path("dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin-dashboard"),
]
