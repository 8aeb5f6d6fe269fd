from django.urls import include, path

from accounts import views

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    # login, logout (POST), password_change(+done), password_reset(+done/confirm/complete)
    path("", include("django.contrib.auth.urls")),
]
