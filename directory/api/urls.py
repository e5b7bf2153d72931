from django.urls import path

from directory.api.views import HandlerApi, NumberApi, NumberHistoryApi

urlpatterns = [
    path("numbers/<str:number>", NumberApi.as_view(), name="number-lookup"),
    path(
        "numbers/<str:number>/handlers/<str:service>", HandlerApi.as_view(), name="number-handler"
    ),
    path("numbers/<str:number>/history", NumberHistoryApi.as_view(), name="number-history"),
]
