from django.contrib import admin
from django.urls import path

from web import dashboard, views

urlpatterns = [
    path("", views.home, name="web-home"),
    path("explorer/", views.explorer, name="web-explorer"),
    path("explorer/entries/", views.entries, name="web-entries"),
    path("explorer/entries/<int:index>", views.entry, name="web-entry"),
]

# Mounted before the admin's own URLs: staff only, as every admin page.
admin_urlpatterns = [
    path("dashboard/", admin.site.admin_view(dashboard.dashboard), name="admin-dashboard"),
]
