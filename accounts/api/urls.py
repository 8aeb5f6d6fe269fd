from django.urls import path

from accounts.api import views

app_name = "accounts-api"

urlpatterns = [
    path("signup/", views.SignupApi.as_view(), name="signup"),
    path("token/", views.TokenApi.as_view(), name="token"),
]
