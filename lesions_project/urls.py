from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from lesions_project.health import healthz
from lesions_project.metrics import metrics_view

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("accounts/", include("accounts.urls")),
    path("studies/", include("studies.urls")),
    path("radiology/", include("radiology.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts.api.urls")),
    path("api/v1/", include("studies.api.urls")),
    path("api/v1/", include("radiology.api.urls")),
    path("dicomweb/", include("studies.dicomweb")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
]
