from django.urls import path

from studies.api import views

app_name = "studies-api"

urlpatterns = [
    path("studies/", views.StudyListCreateApi.as_view(), name="study-list"),
    path("studies/<uuid:study_id>/", views.StudyDetailApi.as_view(), name="study-detail"),
    path("studies/<uuid:study_id>/report.pdf", views.StudyReportApi.as_view(), name="study-report"),
    path("studies/<uuid:study_id>/files/<str:kind>", views.StudyFileApi.as_view(), name="study-file"),
]
