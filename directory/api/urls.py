from django.urls import path

import core.converters  # noqa: F401  (registers <serial:>, <number:>, ...)
from directory.api.views import HandlerApi, HandlersApi, NumberApi, NumberHistoryApi

urlpatterns = [
    path("numbers/<number:number>", NumberApi.as_view(), name="number-lookup"),
    path("numbers/<number:number>/handlers", HandlersApi.as_view(), name="number-handlers"),
    path(
        "numbers/<number:number>/handlers/<service:service>",
        HandlerApi.as_view(),
        name="number-handler",
    ),
    path("numbers/<number:number>/history", NumberHistoryApi.as_view(), name="number-history"),
]
