from django.urls import path

from diagnosis.api import nodules, review, views

app_name = "diagnosis-api"

urlpatterns = [
    path("studies/", views.StudyListCreateApi.as_view(), name="study-list"),
    path("studies/<uuid:study_id>/", views.StudyDetailApi.as_view(), name="study-detail"),
    path("studies/<uuid:study_id>/report.pdf", views.StudyReportApi.as_view(), name="study-report"),
    path("studies/<uuid:study_id>/files/<str:kind>", views.StudyFileApi.as_view(), name="study-file"),
    path("studies/<uuid:study_id>/nodules/", nodules.NoduleListApi.as_view(), name="study-nodules"),
    path("worklist/", review.WorklistApi.as_view(), name="worklist"),
    path("studies/<uuid:study_id>/claim/", review.StudyClaimApi.as_view(), name="study-claim"),
    path("studies/<uuid:study_id>/release/", review.StudyReleaseApi.as_view(), name="study-release"),
    path("studies/<uuid:study_id>/sign/", review.StudySignApi.as_view(), name="study-sign"),
    path("studies/<uuid:study_id>/addenda/", review.StudyAddendumApi.as_view(), name="study-addenda"),
    path("nodules/<int:nodule_id>/heatmap.png", nodules.NoduleHeatmapApi.as_view(), name="nodule-heatmap"),
]
